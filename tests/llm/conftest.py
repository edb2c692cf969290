"""Helpers for the gateway's tests: settings and a gateway pointed at the OpenAI stand-in, and
a small structured answer to ask for."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field

from kadr.config import Settings
from kadr.llm.engines.openai import OpenAIEngine
from kadr.llm.gateway import LLMGateway
from kadr.llm.prompts import PromptTemplate, RenderedPrompt
from tests.support.openai_server import OpenAIServer


class Verdict(BaseModel):
    """A small answer with bounds, an optional field and a nested object, as domains ask."""

    class Reason(BaseModel):
        text: str = Field(max_length=200)
        weight: float = Field(ge=0, le=1)

    title: str = Field(max_length=80)
    score: int = Field(ge=0, le=10)
    note: str | None = None
    reasons: list[Reason] = Field(default_factory=list, max_length=3)


VERDICT_JSON = '{"title": "A calm talk", "score": 7, "note": null, "reasons": []}'

#: A template as the prompt files hold them (the tests' own, not a shipped prompt).
TEMPLATE = PromptTemplate(
    "test.verdict",
    1,
    system="You rate talks. Answer in $language.",
    user="Rate this talk and answer with JSON: $talk",
)


def verdict_prompt(talk: str = "a talk about gardens", language: str = "English") -> RenderedPrompt:
    return TEMPLATE.render(talk=talk, language=language)


def llm_settings(settings: Settings, server: OpenAIServer, **overrides: Any) -> Settings:
    """`settings` pointed at `server`, with a short timeout so no test can hang for long."""
    return settings.model_copy(
        update={**server.settings(), "llm_timeout_seconds": 5.0, "llm_repair_attempts": 2, **overrides}
    )


def gateway_for(settings: Settings, server: OpenAIServer, **overrides: Any) -> LLMGateway:
    """A gateway with its own engine (so what one test's engine learns stays in that test)."""
    configured = llm_settings(settings, server, **overrides)
    return LLMGateway(configured, OpenAIEngine(configured))


@pytest.fixture
def server(openai_server: OpenAIServer) -> OpenAIServer:
    return openai_server
