"""ffmpeg/PyAV plumbing: probing, process-group runner with deadlines and progress."""
