"""Object storage: one protocol, local-directory and S3 backends."""
