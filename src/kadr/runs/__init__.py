"""Profiles and runs: one video processed with one profile."""
