"""Publications: a video or clip going out to a channel at a given time."""
