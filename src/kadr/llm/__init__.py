"""The LLM gateway: every language model call of kadr goes through here (see gateway.py)."""
