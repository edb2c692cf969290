"""Prompt templates: rendered with their values, identified by id, version and hash (part of
every cache key), shipped as TOML files in the package."""

from __future__ import annotations

import pytest

from kadr.llm.prompts import PromptTemplate, available_prompts, get_prompt

TEMPLATE = PromptTemplate(
    "test.scene",
    3,
    system='You write scenes in $language. Answer as JSON like {"scenes": []}.',
    user="Topic: $topic\nFacts: $facts",
)


def test_render_fills_the_placeholders() -> None:
    prompt = TEMPLATE.render(language="Russian", topic="gardens", facts=["water", "light"])
    assert prompt.prompt_id == "test.scene" and prompt.prompt_version == 3
    system, user = prompt.messages
    assert system == {
        "role": "system",
        "content": 'You write scenes in Russian. Answer as JSON like {"scenes": []}.',
    }
    # Values that are not text go in as JSON.
    assert user == {"role": "user", "content": 'Topic: gardens\nFacts: ["water", "light"]'}


def test_a_dollar_in_a_value_is_kept_as_written() -> None:
    prompt = TEMPLATE.render(language="English", topic="$topic costs $5", facts="none")
    assert "Topic: $topic costs $5" in prompt.messages[1]["content"]


def test_a_missing_value_is_an_error() -> None:
    with pytest.raises(KeyError, match="facts"):
        TEMPLATE.render(language="English", topic="gardens")


def test_hash_changes_with_values_and_version_but_not_between_renders() -> None:
    values = {"language": "English", "topic": "gardens", "facts": "none"}
    first = TEMPLATE.render(**values)
    assert TEMPLATE.render(**values).prompt_hash == first.prompt_hash
    assert TEMPLATE.render(**{**values, "topic": "roses"}).prompt_hash != first.prompt_hash
    bumped = PromptTemplate(TEMPLATE.prompt_id, 4, TEMPLATE.system, TEMPLATE.user)
    assert bumped.render(**values).prompt_hash != first.prompt_hash


def test_feedback_adds_the_rejected_answer_and_the_problem() -> None:
    prompt = TEMPLATE.render(language="English", topic="gardens", facts="none")
    again = prompt.with_feedback('{"scenes": 1}', "scenes: Input should be a valid list")
    assert again.messages[:2] == prompt.messages
    assert again.messages[2] == {"role": "assistant", "content": '{"scenes": 1}'}
    assert again.messages[3]["role"] == "user"
    assert "scenes: Input should be a valid list" in again.messages[3]["content"]
    # A re-ask is the same prompt for the records.
    assert (again.prompt_id, again.prompt_version) == (prompt.prompt_id, prompt.prompt_version)


def test_the_health_check_prompt_is_shipped() -> None:
    template = get_prompt("health.check")
    assert template.prompt_id == "health.check" and template.version >= 1
    assert template.placeholders() == {"probe"}
    prompt = template.render(probe="p-1")
    assert "p-1" in prompt.messages[1]["content"]
    assert '{"ok": true}' in prompt.messages[1]["content"]


def test_every_shipped_prompt_loads_and_declares_its_placeholders() -> None:
    names = available_prompts()
    assert "health.check" in names
    for name in names:
        template = get_prompt(name)
        assert template.prompt_id == name
        rendered = template.render(**{placeholder: "x" for placeholder in template.placeholders()})
        assert [message["role"] for message in rendered.messages] == ["system", "user"]
        assert all(message["content"] for message in rendered.messages)


def test_an_unknown_prompt_is_an_error() -> None:
    with pytest.raises(KeyError, match=r"no prompt template 'no\.such\.prompt'"):
        get_prompt("no.such.prompt")


def test_a_stray_dollar_in_a_template_is_an_error() -> None:
    with pytest.raises(ValueError, match="write \\$\\$"):
        PromptTemplate("test.bad", 1, system="Costs $", user="ok").placeholders()
