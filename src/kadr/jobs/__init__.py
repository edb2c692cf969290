"""Background jobs: the database is the record, the broker is the doorbell."""
