"""Users, passwords, tokens and API keys."""
