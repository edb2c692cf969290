"""Built-in profiles and the config_hash: the language model that answers is part of the hash
(read from settings, nothing loaded), so cached runs never mix answers of different models."""

from __future__ import annotations

from pathlib import Path

import pytest

from kadr.config import Settings
from kadr.core.errors import ValidationFailed
from kadr.llm.gateway import model_signature
from kadr.llm.model_files import CATALOG
from kadr.runs.profiles import BUILTIN_PROFILES, config_hash, resolve_plan


def _remote(tmp_path: Path, model: str) -> Settings:
    return Settings(data_dir=tmp_path, llm_engine="openai", llm_url="http://127.0.0.1:9/v1", llm_model=model)


def test_clips_ai_is_default_with_model_chosen_highlights_and_metadata_after_clips(tmp_path: Path) -> None:
    spec = BUILTIN_PROFILES["clips-ai"]["components"]
    plan = resolve_plan(_remote(tmp_path, "gpt-4o-mini"), spec)
    assert set(plan) == set(BUILTIN_PROFILES["default"]["components"]) | {"metadata"}
    order = list(plan)
    assert order.index("highlights") < order.index("clips") < order.index("metadata")
    assert plan["highlights"]["engine"] == "llm"
    assert plan["highlights"]["llm"] == "openai:gpt-4o-mini"
    assert plan["metadata"]["llm"] == "openai:gpt-4o-mini"


def test_another_model_is_another_config_hash(tmp_path: Path) -> None:
    spec = BUILTIN_PROFILES["clips-ai"]["components"]
    one = config_hash(resolve_plan(_remote(tmp_path, "model-a"), spec))
    assert one == config_hash(resolve_plan(_remote(tmp_path, "model-a"), spec))
    assert one != config_hash(resolve_plan(_remote(tmp_path, "model-b"), spec))
    local = Settings(data_dir=tmp_path, llm_engine="local")
    assert one != config_hash(resolve_plan(local, spec))


def test_profiles_without_a_model_do_not_depend_on_its_settings(tmp_path: Path) -> None:
    spec = BUILTIN_PROFILES["default"]["components"]
    assert config_hash(resolve_plan(_remote(tmp_path, "model-a"), spec)) == config_hash(
        resolve_plan(Settings(data_dir=tmp_path, llm_engine="off"), spec)
    )
    assert "llm" not in resolve_plan(_remote(tmp_path, "model-a"), spec)["highlights"]


def test_the_signature_is_read_from_settings_without_loading_a_model(tmp_path: Path) -> None:
    catalog = next(iter(CATALOG.values()))
    embedded = Settings(data_dir=tmp_path, llm_engine="local", llm_local_model=catalog.name)
    assert model_signature(embedded) == f"local:{catalog.name}@{catalog.sha256[:12]}"
    # A file that does not exist: nothing is opened or hashed to name it.
    by_path = Settings(data_dir=tmp_path, llm_engine="local", llm_local_model="/nowhere/my-model.Q4.gguf")
    assert model_signature(by_path) == "local:my-model.Q4"
    assert model_signature(_remote(tmp_path, "gpt-4o-mini")) == "openai:gpt-4o-mini"


def test_model_work_is_refused_where_there_is_no_model(tmp_path: Path) -> None:
    off = Settings(data_dir=tmp_path, llm_engine="off")
    with pytest.raises(ValidationFailed, match="highlights with engine llm needs a language model"):
        resolve_plan(off, BUILTIN_PROFILES["clips-ai"]["components"])
    with pytest.raises(ValidationFailed, match="engine must be one of local, llm"):
        resolve_plan(off, {"highlights": {"engine": "gpt"}})
    with pytest.raises(ValidationFailed, match=r"unknown parameter.*llm"):
        resolve_plan(_remote(tmp_path, "a"), {"highlights": {"engine": "llm", "llm": "openai:b"}})
