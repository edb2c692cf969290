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


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema in the form OpenAI's `strict: true` accepts: every object closed
    (`additionalProperties: false`) with every property required. Optional fields keep their
    `null` alternative, so the meaning is unchanged."""
    result = copy.deepcopy(schema)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" or "properties" in node:
                node["additionalProperties"] = False
                node["required"] = list(node.get("properties", {}))
            node.pop("default", None)  # strict mode refuses defaults
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

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
        if start == -1 or end <= start:
            raise ValueError("the answer holds no JSON object") from None
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
