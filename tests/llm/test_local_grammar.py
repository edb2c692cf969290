"""What the embedded engine hands llama.cpp's grammar: long string bounds would crash it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from kadr.llm.engines.local import MAX_GRAMMAR_STRING_BOUND, grammar_schema
from kadr.llm.structured import response_schema


class Script(BaseModel):
    class Part(BaseModel):
        name: str = Field(max_length=40)
        text: str = Field(max_length=2000)

    title: str = Field(max_length=120)
    parts: list[Part] = Field(max_length=30)


def test_long_string_bounds_are_left_out_of_the_grammar_and_the_rest_kept() -> None:
    schema = response_schema(Script)
    grammar = grammar_schema(schema)
    part = grammar["$defs"]["Part"]["properties"]
    assert "maxLength" not in part["text"] and part["name"]["maxLength"] == 40
    assert grammar["properties"]["title"]["maxLength"] == 120 <= MAX_GRAMMAR_STRING_BOUND
    assert grammar["properties"]["parts"]["maxItems"] == 30
    assert schema["$defs"]["Part"]["properties"]["text"]["maxLength"] == 2000, "the original is untouched"
