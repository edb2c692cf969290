"""Uploaded source videos."""
