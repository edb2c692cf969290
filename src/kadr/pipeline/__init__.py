"""The processing pipeline: orchestrator and components."""
