"""Request and response shapes of the scenarios API, and what the model is asked to write.

Every list and string is bounded (`maxItems`, `maxLength`): the same models are the JSON
schema the language model answers in, and small models run past unbounded arrays.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, model_validator

from kadr.core.schemas import IsoDateTime, Schema
from kadr.scenarios.models import Aspect, Platform, Role, ScenarioStatus, ShareKind

MAX_SCENES = 40
MIN_DURATION_S = 5
MAX_DURATION_S = 1800
MAX_TITLES = 10
#: A BCP 47 tag as kadr uses them: `en`, `ru`, `pt-BR`.
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"


class Scene(Schema):
    n: int = Field(ge=1, le=MAX_SCENES, description="Scene number: 1, 2, 3… in order")
    duration_s: float = Field(gt=0, le=MAX_DURATION_S, description="Seconds on screen")
    visual: str = Field(max_length=600, description="What is seen")
    shot: str = Field(max_length=120, description="Framing and camera: close-up, wide, screen capture…")
    narration: str = Field(max_length=2000, description="What is said (voice-over)")
    on_screen_text: str = Field("", max_length=200, description="Text overlaid on the picture")
    source_start: float | None = Field(
        None, ge=0, description="Re-cuts: where in the source video the scene starts (seconds)"
    )
    source_end: float | None = Field(None, ge=0, description="Re-cuts: where it ends (seconds)")


class ScenarioContent(Schema):
    """What a person writes (POST and PUT): the whole content, replaced as one."""

    title: str = Field(min_length=1, max_length=200)
    logline: str = Field("", max_length=500, description="The scenario in one sentence")
    platform: Platform = Platform.YOUTUBE_SHORTS
    aspect: Aspect | None = Field(None, description="Default: the platform's usual aspect")
    language: str | None = Field(
        None, pattern=LANGUAGE_PATTERN, description="Default: your language (an edit keeps the scenario's)"
    )
    target_duration_s: int = Field(ge=MIN_DURATION_S, le=MAX_DURATION_S)
    words_per_minute: int | None = Field(
        None, ge=60, le=300, description="Narration speed; default the language's usual (en 150, ru 130)"
    )
    hook: str = Field("", max_length=500, description="The first line: why keep watching")
    scenes: list[Scene] = Field(min_length=1, max_length=MAX_SCENES)
    call_to_action: str = Field("", max_length=300)


class ScenarioUpdate(ScenarioContent):
    base_version: int | None = Field(
        None, ge=0, description="The version this edit started from: 409 if someone saved a newer one"
    )


class GenerateRequest(Schema):
    """A brief for the model. `topic`, or `run_id` (a re-cut of a processed video), or both."""

    topic: str | None = Field(None, min_length=1, max_length=500)
    audience: str = Field("", max_length=300)
    platform: Platform = Platform.YOUTUBE_SHORTS
    aspect: Aspect | None = Field(None, description="Default: the platform's usual aspect")
    duration_s: int = Field(60, ge=MIN_DURATION_S, le=MAX_DURATION_S, description="Target duration")
    tone: str = Field("", max_length=200)
    language: str | None = Field(None, pattern=LANGUAGE_PATTERN, description="Default: your language")
    words_per_minute: int | None = Field(None, ge=60, le=300)
    run_id: str | None = Field(
        None, max_length=40, description="A finished run: re-cut its video from its transcript and highlights"
    )

    @model_validator(mode="after")
    def _topic_or_run(self) -> GenerateRequest:
        if self.topic is None and self.run_id is None:
            raise ValueError("give a topic, a run_id to re-cut, or both")
        return self


class ScenarioOut(Schema):
    id: str
    owner_id: str
    role: Role = Field(description="What you may do: owner, editor or viewer")
    status: ScenarioStatus
    progress: float = Field(description="Generation progress 0..1")
    error: str | None
    from_cache: bool
    job_id: str | None
    brief: dict[str, Any] | None
    source_run_id: str | None
    version: int
    title: str
    logline: str
    platform: Platform
    aspect: Aspect
    language: str
    target_duration_s: int
    words_per_minute: int
    hook: str
    scenes: list[Scene]
    call_to_action: str
    created_at: datetime
    updated_at: datetime


class SharedScenarioOut(Schema):
    """A scenario as a read-only link shows it: its content, no ids of its owner."""

    title: str
    logline: str
    platform: str
    aspect: str
    language: str
    target_duration_s: int
    words_per_minute: int
    hook: str
    scenes: list[Scene]
    call_to_action: str
    version: int
    updated_at: datetime


class VersionOut(Schema):
    number: int
    note: str
    author_id: str | None
    content: dict[str, Any]
    created_at: datetime


class TitlesRequest(Schema):
    n: int = Field(5, ge=1, le=MAX_TITLES, description="How many titles to propose")


class TitlesOut(Schema):
    titles: list[str]


class RewriteRequest(Schema):
    scene: int = Field(ge=1, le=MAX_SCENES, description="The scene's number")
    instruction: str = Field(min_length=1, max_length=1000, description="What to change, in words")


class ShareCreate(Schema):
    """No `email`: a read-only link. With `email`: that kadr user, as `role`."""

    email: str | None = Field(None, min_length=3, max_length=320)
    role: Role = Field(Role.VIEWER, description="viewer or editor (links are always viewer)")
    expires_at: IsoDateTime | None = None

    @model_validator(mode="after")
    def _role(self) -> ShareCreate:
        if self.role == Role.OWNER:
            raise ValueError("role: share as viewer or editor")
        if self.email is None and self.role != Role.VIEWER:
            raise ValueError("role: a link is read-only; share with an email to make an editor")
        return self


class ShareOut(Schema):
    id: str
    scenario_id: str
    kind: ShareKind
    role: Role
    email: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime
    #: Only in the answer that created a link: the token is not kept, only its hash.
    url: str | None = None
    token: str | None = None


# --- what the model writes --------------------------------------------------------------------


class ScenarioDraft(Schema):
    """A generated scenario: the creative parts (the platform, language and timing are the brief's)."""

    title: str = Field(max_length=120)
    logline: str = Field(max_length=300)
    hook: str = Field(max_length=300)
    scenes: list[Scene] = Field(min_length=1, max_length=MAX_SCENES)
    call_to_action: str = Field(max_length=200)


class RecutScene(Scene):
    source_start: float = Field(ge=0, description="Where in the source video the scene starts (seconds)")
    source_end: float = Field(ge=0, description="Where it ends (seconds)")


class RecutDraft(Schema):
    """A re-cut plan of a processed video: every scene is a piece of the source."""

    title: str = Field(max_length=120)
    logline: str = Field(max_length=300)
    hook: str = Field(max_length=300)
    scenes: list[RecutScene] = Field(min_length=1, max_length=MAX_SCENES)
    call_to_action: str = Field(max_length=200)


class TitleIdeas(Schema):
    titles: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(
        min_length=1, max_length=MAX_TITLES
    )
