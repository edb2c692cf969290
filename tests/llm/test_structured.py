"""Structured answers: the schema an engine is sent, and reading an answer back with a problem
statement a model can act on."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field

from kadr.llm.structured import extract_json, parse_answer, response_schema, strict_compatible, strict_schema
from tests.llm.conftest import VERDICT_JSON, Verdict


def _objects(node: Any) -> list[dict[str, Any]]:
    """Every object schema inside `node` (what strict mode checks)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "object":
            found.append(node)
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for item in value.values():
                    found.extend(_objects(item))
            elif key in ("items", "anyOf"):
                found.extend(_objects(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_objects(item))
    return found


def test_strict_schema_closes_every_object_and_requires_every_property() -> None:
    schema = strict_schema(response_schema(Verdict))
    objects = _objects(schema)
    assert len(objects) == 2  # Verdict and its Reason
    for node in objects:
        assert node["additionalProperties"] is False
        assert sorted(node["required"]) == sorted(node["properties"])
    assert "note" in schema["required"]  # optional stays optional through its null alternative
    assert {"type": "null"} in schema["properties"]["note"]["anyOf"]
    # The bounds that keep small models short are kept.
    assert schema["properties"]["title"]["maxLength"] == 80
    assert schema["properties"]["reasons"]["maxItems"] == 3


def test_strict_schema_leaves_the_original_alone() -> None:
    original = response_schema(Verdict)
    strict_schema(original)
    assert "additionalProperties" not in original
    assert original["properties"]["note"]["default"] is None


class Awkward(BaseModel):
    """Field names that are also JSON-schema keywords."""

    default: str = "x"
    properties: list[int] = Field(default_factory=list)
    type: str = "clip"


def test_strict_schema_keeps_fields_named_like_keywords() -> None:
    schema = strict_schema(response_schema(Awkward))
    assert set(schema["properties"]) == {"default", "properties", "type"}
    assert sorted(schema["required"]) == ["default", "properties", "type"]
    assert "additionalProperties" not in schema["properties"]
    assert all("default" not in field for field in schema["properties"].values())


class WithMap(BaseModel):
    counts: dict[str, int]


def test_open_maps_cannot_be_strict() -> None:
    assert strict_compatible(response_schema(Verdict))
    assert not strict_compatible(response_schema(WithMap))


@pytest.mark.parametrize(
    "text",
    [
        VERDICT_JSON,
        f"```json\n{VERDICT_JSON}\n```",
        f"```\n{VERDICT_JSON}\n```",
        f"Here is the rating you asked for:\n{VERDICT_JSON}\nI hope it helps.",
    ],
)
def test_json_is_found_in_what_servers_without_constrained_decoding_send(text: str) -> None:
    assert parse_answer(text, Verdict) == Verdict(title="A calm talk", score=7)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("I cannot rate this talk.", "holds no JSON object"),
        ('{"title": "A calm talk", "score": 7', "not closed"),
        ('{"title": "A calm talk", score: 7}', "not valid JSON"),
    ],
)
def test_malformed_json_is_explained(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        extract_json(text)


def test_schema_violations_name_each_field() -> None:
    with pytest.raises(ValueError) as caught:
        parse_answer(
            '{"title": "' + "x" * 90 + '", "score": 42, "reasons": [{"text": "ok", "weight": 2}]}', Verdict
        )
    message = str(caught.value)
    assert "title:" in message and "80 characters" in message
    assert "score:" in message and "10" in message
    assert "reasons.0.weight:" in message


def test_a_missing_field_is_named() -> None:
    with pytest.raises(ValueError, match="score: Field required"):
        parse_answer('{"title": "A calm talk"}', Verdict)
