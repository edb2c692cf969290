"""Structured answers: the JSON schema sent to an engine, and reading an answer back into a
Pydantic model with a problem statement a model can act on when it fails."""

from __future__ import annotations

import copy
import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def response_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema (with its `maxItems`/`maxLength` bounds: small models run past
    unbounded arrays)."""
    return model.model_json_schema()


#: Keywords whose value is one subschema, a list of them, or a map from names to them. Only
#: these are walked, so a property that happens to be called `default` or `properties` is a
#: property, not a keyword.
_ONE_SCHEMA = ("items", "additionalProperties", "not", "if", "then", "else", "contains")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")


def _subschemas(node: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for key in _ONE_SCHEMA:
        if isinstance(node.get(key), dict):
            found.append(node[key])
    for key in _SCHEMA_LISTS:
        found.extend(item for item in node.get(key) or [] if isinstance(item, dict))
    for key in _SCHEMA_MAPS:
        found.extend(item for item in (node.get(key) or {}).values() if isinstance(item, dict))
    return found


def strict_compatible(schema: dict[str, Any]) -> bool:
    """Whether `strict_schema` keeps the meaning: not when an object is an open map
    (`dict[str, X]`, `additionalProperties: {schema}`), which strict mode cannot express."""
    if isinstance(schema.get("additionalProperties"), dict) or schema.get("patternProperties"):
        return False
    return all(strict_compatible(sub) for sub in _subschemas(schema))


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema in the form OpenAI's `strict: true` accepts: every object closed
    (`additionalProperties: false`) with every property required. Optional fields keep their
    `null` alternative, so the meaning is unchanged (check `strict_compatible` first)."""
    result = copy.deepcopy(schema)

    def close(node: dict[str, Any]) -> None:
        if node.get("type") == "object" or isinstance(node.get("properties"), dict):
            node["additionalProperties"] = False
            node["required"] = list(node.get("properties") or {})
        node.pop("default", None)  # strict mode refuses defaults
        for sub in _subschemas(node):
            close(sub)

    close(result)
    return result


def extract_json(text: str) -> Any:
    """The JSON value in an answer, tolerating what servers without constrained decoding add:
    a Markdown fence, or words before and after the object. ValueError when there is none."""
    fenced = _FENCE.match(text)
    candidate = fenced.group(1) if fenced else text.strip()
    try:
        return json.loads(candidate)
    except json.JSONDecodeError:
        start, end = candidate.find("{"), candidate.rfind("}")
        if start == -1:
            raise ValueError("the answer holds no JSON object") from None
        if end <= start:
            raise ValueError("the answer's JSON object is not closed (cut off?)") from None
        try:
            return json.loads(candidate[start : end + 1])
        except json.JSONDecodeError as error:
            raise ValueError(f"the answer is not valid JSON ({error.msg} at char {error.pos})") from None


def parse_answer(text: str, model: type[M]) -> M:
    """The answer as `model`; ValueError with a short, model-readable list of what is wrong."""
    value = extract_json(text)
    try:
        return model.model_validate(value)
    except ValidationError as error:
        problems = []
        for item in error.errors()[:8]:
            where = ".".join(str(part) for part in item["loc"]) or "the object"
            problems.append(f"{where}: {item['msg']}")
        raise ValueError("; ".join(problems)) from None
