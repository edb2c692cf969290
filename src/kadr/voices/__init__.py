"""Voices: what dub may speak with, and the speaker→voice maps a team keeps across videos."""
