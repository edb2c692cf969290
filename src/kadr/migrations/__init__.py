"""kadr.migrations."""
