"""Request and response shapes of the runs and profiles API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from kadr.core.schemas import Schema


class RunCreate(Schema):
    video_id: str
    profile: str = Field("default", description="A built-in profile name or one of yours")
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='Per-component parameter overrides, e.g. {"clips": {"count": 2}}',
    )
    use_cache: bool = Field(True, description="Reuse a recent identical run of the same content")
    review: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Components after which the run stops for a person (`awaiting_review`), "
        'e.g. ["translate"]: edit their artifacts (`PUT /v1/runs/{id}/artifacts/{name}`), '
        "then `POST /v1/runs/{id}/resume`",
    )


class TranslationCreate(Schema):
    """A video in other languages: the run it takes, made for you (profile translate or dub)."""

    video_id: str
    languages: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]] = Field(
        min_length=1, max_length=10, description='Target languages, e.g. ["ru", "en"]'
    )
    dub: bool = Field(False, description="Also speak them over the video (dub/<lang>.mp4)")
    engine: Literal["llm", "apertium"] = "llm"
    dual: bool = Field(False, description="Also subtitles with both languages")
    voices: dict[str, str] = Field(default_factory=dict, description="A voice per language (GET /v1/voices)")
    review: bool = Field(False, description="Stop after translating, for a person to check the translations")
    use_cache: bool = True

    def run_request(self) -> RunCreate:
        params: dict[str, dict[str, Any]] = {
            "translate": {"languages": self.languages, "engine": self.engine, "dual": self.dual}
        }
        if self.dub:
            params["dub"] = {"voices": self.voices}
        return RunCreate(
            video_id=self.video_id,
            profile="dub" if self.dub else "translate",
            params=params,
            use_cache=self.use_cache,
            review=["translate"] if self.review else [],
        )

    def results(self) -> dict[str, list[str]]:
        """Per language, the artifacts the run will write (`GET /v1/runs/{id}/artifacts`)."""
        results = {}
        for language in self.languages:
            names = [f"translations/{language}/subtitles.srt", f"translations/{language}/subtitles.vtt"]
            if self.dual:
                names += [
                    f"translations/{language}/subtitles.dual.srt",
                    f"translations/{language}/subtitles.dual.vtt",
                ]
            if self.dub:
                names += [f"dub/{language}.mp4", f"dub/{language}.wav"]
            results[language] = names
        return results


class ComponentOut(Schema):
    name: str
    status: str
    progress: float = Field(description="0..1")
    message: str | None
    attempts: int
    device: str | None
    summary: dict[str, Any]
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None


class RunOut(Schema):
    id: str
    video_id: str
    profile_name: str
    status: str
    progress: float = Field(description="Percent of the run done, 0..100")
    error: str | None
    config_hash: str
    config: dict[str, Any]
    versions: dict[str, Any]
    review: list[str] = Field(description="Components after which the run stops for a person")
    reviewed: list[str] = Field(description="Those a person has let it go on from")
    cached_from_run_id: str | None
    parent_run_id: str | None = Field(None, description="The run this one revises (POST …/revisions)")
    job_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    components: list[ComponentOut]


class SegmentEditIn(Schema):
    index: int = Field(ge=0, description="The segment's position in transcript.json's `segments`")
    text: str = Field(max_length=2000, description="What is said; word timings are shared out anew")


class HighlightEditIn(Schema):
    index: int = Field(ge=0, description="The highlight's position in highlights.json's `highlights`")
    start: float = Field(ge=0, description="Seconds into the video")
    end: float = Field(gt=0, description="Seconds into the video, after start and within it")


class RevisionCreate(Schema):
    segments: list[SegmentEditIn] = Field(default_factory=list, max_length=500)
    highlights: list[HighlightEditIn] = Field(default_factory=list, max_length=100)


class EventsLinkOut(Schema):
    url: str = Field(description="GET it as text/event-stream (EventSource); no header needed")
    expires_in: int = Field(description="Seconds the link can be opened; an open stream lasts")


class ArtifactOut(Schema):
    id: str
    name: str
    component: str
    kind: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime
    download_url: str


class ProfileIn(Schema):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    description: str = Field("", max_length=500)
    components: dict[str, dict[str, Any]] = Field(
        description="Component name -> parameter overrides; requirements are added automatically"
    )


class ProfileOut(Schema):
    name: str
    description: str
    components: dict[str, Any] = Field(description="What the profile says: component -> overrides")
    builtin: bool
    id: str | None = None
    parameters: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="What a run of it does: every component (requirements added, in run order) "
        "with each parameter a run's `params` may set, at its value (defaults filled in)",
    )
    reviewable: list[str] = Field(
        default_factory=list, description="The components of it a run may stop after for a person (`review`)"
    )
    problem: str | None = Field(
        None,
        description="Why a run of it as it is would be refused here (e.g. no language model for translate); "
        "null: it can run",
    )


class TranslationOut(Schema):
    run: RunOut
    results: dict[str, list[str]] = Field(description="Per language, the artifacts the run writes")
