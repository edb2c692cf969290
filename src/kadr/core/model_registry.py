"""Imports every domain's tables so `Base.metadata` is complete (Alembic, tests)."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "kadr.accounts.models",
    "kadr.videos.models",
    "kadr.runs.models",
    "kadr.jobs.models",
)


def load_all_models() -> None:
    for module in MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a domain still being written
            if exc.name != module:
                raise
