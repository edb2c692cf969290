"""Scenarios: structured video scripts, written by hand or by the language model."""
