"""Notifications: domain events (outbox) delivered by email, Telegram and signed webhooks."""
