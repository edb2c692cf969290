"""Clients for external services (YouTube, Telegram, SMTP, LLM), one module each."""
