"""The system administrator's API: routes over other domains' services (the job system today)."""
