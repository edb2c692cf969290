"""Glossaries: a user's terms and their translations per language pair, applied by every
translation engine."""
