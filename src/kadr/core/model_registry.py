"""Imports every domain's tables so `Base.metadata` is complete (Alembic, tests)."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "kadr.accounts.models",
    "kadr.videos.models",
    "kadr.runs.models",
    "kadr.jobs.models",
    "kadr.channels.models",
    "kadr.publications.models",
    "kadr.notifications.models",
    "kadr.llm.models",
    "kadr.scenarios.models",
    "kadr.glossaries.models",
    "kadr.voices.models",
)


def load_all_models() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)
