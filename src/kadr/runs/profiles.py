"""Built-in profiles, plan resolution and the deterministic config hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import kadr
from kadr.config import Settings
from kadr.core.errors import ValidationFailed
from kadr.pipeline.components import COMPONENTS

BUILTIN_PROFILES: dict[str, dict[str, Any]] = {
    "default": {
        "description": (
            "Everything: transcript, highlights, 9:16 and 16:9 clips with captions, subtitles, thumbnails."
        ),
        "components": {
            "probe": {},
            "audio": {},
            "transcribe": {},
            "highlights": {},
            "clips": {},
            "subtitles": {},
            "thumbnails": {},
        },
    },
    "clips-vertical": {
        "description": "Vertical 9:16 clips with burned captions for shorts/reels, plus subtitles.",
        "components": {
            "probe": {},
            "audio": {},
            "transcribe": {},
            "highlights": {},
            "clips": {"aspects": ["9:16"]},
            "subtitles": {},
        },
    },
    "transcript-only": {
        "description": "Transcript with word timings, and SRT/VTT subtitles.",
        "components": {"probe": {}, "audio": {}, "transcribe": {}, "subtitles": {}},
    },
    "clips-ai": {
        "description": (
            "Everything in default, with the language model choosing and titling the highlights, "
            "and writing titles, descriptions, tags and hashtags for each clip and the video."
        ),
        "components": {
            "probe": {},
            "audio": {},
            "transcribe": {},
            "highlights": {"engine": "llm"},
            "clips": {},
            "metadata": {},
            "subtitles": {},
            "thumbnails": {},
        },
    },
    "translate": {
        "description": (
            "Transcript and subtitles, and the subtitles translated into Russian and English "
            "(set translate.languages for others), cue by cue with the original timings."
        ),
        "components": {
            "probe": {},
            "audio": {},
            "transcribe": {},
            "subtitles": {},
            "translate": {"languages": ["ru", "en"]},
        },
    },
    "dub": {
        "description": (
            "The translate profile, and the video dubbed into each language: the voice fitted to "
            "each subtitle's time, the original ducked under it, as a second audio track."
        ),
        "components": {
            "probe": {},
            "audio": {},
            "transcribe": {},
            "subtitles": {},
            "translate": {"languages": ["ru", "en"]},
            "dub": {},
        },
    },
}


def resolve_plan(
    settings: Settings, spec: Mapping[str, Mapping[str, Any] | None]
) -> dict[str, dict[str, Any]]:
    """The components to run with full parameters, requirements added, in dependency order."""
    unknown = [name for name in spec if name not in COMPONENTS]
    if unknown:
        raise ValidationFailed(
            f"unknown component(s): {', '.join(unknown)}; available: {', '.join(sorted(COMPONENTS))}"
        )
    wanted: dict[str, Mapping[str, Any]] = {name: dict(params or {}) for name, params in spec.items()}
    pending = list(wanted)
    while pending:  # close the set under `requires`, with defaults for what was added
        added = pending.pop()
        for required in COMPONENTS[added].requirements(wanted[added]):
            if required not in wanted:
                wanted[required] = {}
                pending.append(required)
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise ValidationFailed(f"components depend on each other in a cycle at {name}")
        visiting.add(name)
        for required in COMPONENTS[name].requirements(wanted[name]):
            visit(required)
        visiting.discard(name)
        ordered.append(name)

    # Visit in the registry's order so that equal profiles produce equal plans.
    for name in COMPONENTS:
        if name in wanted:
            visit(name)
    plan: dict[str, dict[str, Any]] = {}
    for name in ordered:
        try:
            params = COMPONENTS[name].resolve_params(settings, dict(wanted[name]))
            plan[name] = COMPONENTS[name].complete_params(params, plan)
        except ValueError as exc:
            raise ValidationFailed(str(exc)) from None
    return plan


def settable_parameters(
    settings: Settings, spec: Mapping[str, Mapping[str, Any] | None]
) -> dict[str, dict[str, Any]]:
    """The plan of `spec` as a form would offer it: every component in run order with each
    parameter a run's `params` may set, at the value it would run with. What components derive
    from settings (transcribe's `engine`, the `llm` signature) is left out: it cannot be set."""
    return {
        name: {key: value for key, value in params.items() if key in COMPONENTS[name].defaults}
        for name, params in resolve_plan(settings, spec).items()
    }


def component_versions(plan: Mapping[str, Any]) -> dict[str, str]:
    return {name: COMPONENTS[name].version for name in plan}


def config_hash(plan: Mapping[str, Any], *, reviewed_run: str | None = None) -> str:
    """sha256 of the normalised plan and component versions: equal work, equal hash. A run a
    person reviews (`reviewed_run`, its id) has a hash of its own, equal to no other run's."""
    document: dict[str, Any] = {"components": plan, "versions": component_versions(plan)}
    if reviewed_run is not None:
        document["reviewed_run"] = reviewed_run
    normalised = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(normalised.encode()).hexdigest()


def versions_of(plan: Mapping[str, Any]) -> dict[str, Any]:
    return {"kadr": kadr.__version__, "components": component_versions(plan)}
