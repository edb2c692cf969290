"""`python -m kadr` runs the CLI."""

from kadr.cli import app

app()
