"""kadr: self-hosted backend platform for AI video work."""

__version__ = "0.1.0"
