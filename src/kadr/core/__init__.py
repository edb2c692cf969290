"""Cross-cutting pieces: database, errors, ids, logging, metrics, time."""
