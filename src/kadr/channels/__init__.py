"""Channels: the destinations a user connected (YouTube, Telegram chats, webhooks)."""
