"""Scenarios the language model writes: a generation from a brief or from a processed video, a
job on the `llm` queue (title ideas and scene rewrites, answered in the request: `assistant`).

Every model call goes through `LLMService` (the daily budget, the render cache, a record of each
call); the timing check of `scenarios.checks` is its `check=`, so an answer whose scenes do not
add up is asked again with the exact problem.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.errors import Conflict, NotFound, ValidationFailed
from kadr.core.idempotency import Idempotency, create_once
from kadr.core.ids import new_id
from kadr.core.logging import get_logger
from kadr.jobs import service as jobs
from kadr.llm.errors import LLMNotConfigured
from kadr.llm.gateway import describe_engine
from kadr.llm.prompts import RenderedPrompt
from kadr.llm.service import LLMService
from kadr.notifications.models import EventType
from kadr.notifications.outbox import emit
from kadr.runs.models import RunStatus
from kadr.runs.service import RunService
from kadr.scenarios import prompting
from kadr.scenarios.checks import (
    default_words_per_minute,
    describe,
    fit_durations,
    recut_problems,
    repetition_problems,
    timing_problems,
    trim_to_fit,
)
from kadr.scenarios.models import FINISHED_SCENARIO_STATUSES, Scenario, ScenarioStatus, ScenarioVersion
from kadr.scenarios.repository import ScenarioRepository
from kadr.scenarios.schemas import (
    LANGUAGE_PATTERN,
    GenerateRequest,
    RecutDraft,
    ScenarioDraft,
)
from kadr.scenarios.service import (
    aspect_for,
    content_of,
    default_language,
)
from kadr.storage import get_storage

GENERATE_JOB_KIND = "scenario.generate"
TRANSCRIPT = "transcript.json"
HIGHLIGHTS = "highlights.json"

log = get_logger(__name__)


def require_language_model(settings: Settings) -> None:
    """501 now, at request time, when no model could answer the job later. Cheap: it reads the
    configuration and what is installed (`describe_engine`), and loads no model."""
    engine = describe_engine(settings)
    if engine["status"] == "off":
        raise LLMNotConfigured("this installation has no language model (KADR_LLM_ENGINE=off)")
    if engine["status"] == "not-configured":
        raise LLMNotConfigured("KADR_LLM_ENGINE=openai needs KADR_LLM_URL and KADR_LLM_MODEL")
    if engine["status"] != "ok":
        raise LLMNotConfigured(
            f"the embedded language model is not ready ({engine.get('detail', engine['status'])}): "
            "run `make install`, or set KADR_LLM_ENGINE=openai or off"
        )


def draft_check(
    target_duration_s: float,
    words_per_minute: int,
    source_duration_s: float | None = None,
    *,
    last_answer: int,
) -> Callable[[Any], str | None]:
    """The gateway's `check=` of one generation: the timing (and for a re-cut, its pieces of the
    source) must hold. A first answer whose scenes repeat each other is asked again as well, once:
    a small model that loops again is not failed for it (its scenes can be rewritten one by one).
    The `last_answer` of a new scenario that still says too much is shortened to fit."""
    answers = 0

    def check(draft: Any) -> str | None:
        nonlocal answers
        answers += 1
        if source_duration_s is None:  # a re-cut's durations follow its pieces of the source
            if answers == last_answer:
                removed = trim_to_fit(draft.scenes, target_duration_s, words_per_minute)
                if removed:
                    log.info("scenario_narration_shortened", words_removed=removed)
            fit_durations(draft.scenes, target_duration_s, words_per_minute)
        problems = timing_problems(draft.scenes, target_duration_s, words_per_minute)
        if source_duration_s is not None:
            problems += recut_problems(draft.scenes, source_duration_s)
        if answers == 1:
            problems += repetition_problems(draft.scenes)
        return describe(problems)

    return check


@dataclass(frozen=True)
class GenerationPlan:
    """What a generation job asks the model, made from the scenario's brief."""

    scenario_id: str
    owner_id: str
    language: str
    purpose: str
    prompt: RenderedPrompt
    schema: type[BaseModel]
    check: Callable[[Any], str | None]
    cache_scope: dict[str, Any]
    expected_tokens: int
    max_tokens: int


class GenerationService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.scenarios = ScenarioRepository(session)

    # --- asking for a generation (the API) ---------------------------------------------

    async def generate(
        self, user_id: str, request: GenerateRequest, idempotency_key: str | None = None
    ) -> Scenario:
        """A queued scenario and its job. 501 without a model, 429 when today's budget is spent;
        with an idempotency key, the scenario that key made."""
        idempotency = Idempotency.of(idempotency_key, {"generate": request.model_dump(mode="json")})
        return await create_once(
            self.session,
            idempotency,
            lambda key: self.scenarios.find_by_idempotency_key(user_id, key),
            lambda: self._create(user_id, request, idempotency),
        )

    async def _create(
        self, user_id: str, request: GenerateRequest, idempotency: Idempotency | None
    ) -> Scenario:
        require_language_model(self.settings)
        await LLMService(self.session, self.settings).check_budget(user_id)
        run_language = await self._check_source_run(user_id, request.run_id) if request.run_id else None
        language = (
            request.language or run_language or await default_language(self.session, self.settings, user_id)
        )
        brief = {
            "topic": request.topic,
            "audience": request.audience,
            "platform": str(request.platform),
            "aspect": aspect_for(request.platform, request.aspect),
            "duration_s": request.duration_s,
            "tone": request.tone,
            "language": language,
            "words_per_minute": request.words_per_minute or default_words_per_minute(language),
            "run_id": request.run_id,
        }
        title = request.topic or f"Re-cut of {request.run_id}"
        now = utcnow()
        scenario = Scenario(
            id=new_id("scn"),
            owner_id=user_id,
            status=ScenarioStatus.QUEUED,
            progress=0.0,
            from_cache=False,
            brief=brief,
            source_run_id=request.run_id,
            title=title[:200],
            title_folded=title[:200].casefold(),
            platform=brief["platform"],
            aspect=brief["aspect"],
            language=language,
            target_duration_s=request.duration_s,
            words_per_minute=brief["words_per_minute"],
            scenes=[],
            version=0,
            idempotency_key=idempotency.key if idempotency else None,
            idempotency_fingerprint=idempotency.fingerprint if idempotency else None,
            created_at=now,
            updated_at=now,
        )
        self.scenarios.add(scenario)
        job = await jobs.enqueue(
            self.session, self.settings, GENERATE_JOB_KIND, {"scenario_id": scenario.id}, owner_id=user_id
        )
        scenario.job_id = job.id
        await self.session.commit()
        return scenario

    async def _check_source_run(self, user_id: str, run_id: str) -> str | None:
        """404 for a run that is not the user's, 409 until it succeeded, 422 without a
        transcript; the language its transcription found, if it said."""
        runs = RunService(self.session, self.settings)
        run = await runs.get(user_id, run_id)
        if run.status != RunStatus.SUCCEEDED:
            raise Conflict(f"run {run_id} is {run.status}: a re-cut needs a run that succeeded")
        if TRANSCRIPT not in {artifact.name for artifact in await runs.artifacts(user_id, run_id)}:
            raise ValidationFailed(
                f"run_id: run {run_id} has no {TRANSCRIPT}; process the video with a profile that transcribes"
            )
        transcribe = next((c for c in run.components if c.name == "transcribe"), None)
        language = (transcribe.summary or {}).get("language") if transcribe is not None else None
        return language if isinstance(language, str) and re.fullmatch(LANGUAGE_PATTERN, language) else None

    # --- the job ------------------------------------------------------------------------

    async def begin(self, scenario_id: str) -> GenerationPlan | None:
        """Mark the scenario generating and say what to ask; None if it is finished or gone."""
        scenario = await self.scenarios.get_unscoped(scenario_id)
        if scenario is None or scenario.status in FINISHED_SCENARIO_STATUSES or scenario.brief is None:
            return None
        brief = dict(scenario.brief)
        if scenario.source_run_id:
            transcript, highlights = await self._source_material(scenario.owner_id, scenario.source_run_id)
            plan = self._recut_plan(scenario, brief, transcript, highlights)
        else:
            plan = self._plan(scenario, brief)
        await self.scenarios.update(
            scenario_id,
            when_status=(ScenarioStatus.QUEUED, ScenarioStatus.GENERATING),
            status=ScenarioStatus.GENERATING,
            error=None,
            updated_at=utcnow(),
        )
        await self.session.commit()
        return plan

    def _plan(self, scenario: Scenario, brief: dict[str, Any]) -> GenerationPlan:
        target, words_per_minute = brief["duration_s"], brief["words_per_minute"]
        expected = prompting.expected_answer_tokens(target, words_per_minute, brief["language"])
        return GenerationPlan(
            scenario_id=scenario.id,
            owner_id=scenario.owner_id,
            language=brief["language"],
            purpose="scenario.generate",
            prompt=prompting.generate_prompt(brief),
            schema=ScenarioDraft,
            check=draft_check(target, words_per_minute, last_answer=self.settings.llm_repair_attempts + 1),
            cache_scope={**brief, "render_profile": "scenario.generate"},
            expected_tokens=expected,
            max_tokens=prompting.answer_token_limit(expected),
        )

    def _recut_plan(
        self,
        scenario: Scenario,
        brief: dict[str, Any],
        transcript: dict[str, Any],
        highlights: list[dict[str, Any]],
    ) -> GenerationPlan:
        target, words_per_minute = brief["duration_s"], brief["words_per_minute"]
        source_duration = prompting.source_duration_of(transcript)
        expected = prompting.expected_answer_tokens(target, words_per_minute, brief["language"]) + 80

        return GenerationPlan(
            scenario_id=scenario.id,
            owner_id=scenario.owner_id,
            language=brief["language"],
            purpose="scenario.from_run",
            prompt=prompting.recut_prompt(brief, transcript, highlights),
            schema=RecutDraft,
            check=draft_check(
                target, words_per_minute, source_duration, last_answer=self.settings.llm_repair_attempts + 1
            ),
            cache_scope={**brief, "render_profile": "scenario.from_run"},
            expected_tokens=expected,
            max_tokens=prompting.answer_token_limit(expected),
        )

    async def _source_material(
        self, owner_id: str, run_id: str
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The run's transcript and highlights (none if it found none); NotFound if it is gone."""
        artifacts = {
            a.name: a for a in await RunService(self.session, self.settings).artifacts(owner_id, run_id)
        }
        if TRANSCRIPT not in artifacts:
            raise NotFound(f"run {run_id} has no {TRANSCRIPT} any more")
        storage = get_storage(self.settings)
        transcript = json.loads(await asyncio.to_thread(storage.get_bytes, artifacts[TRANSCRIPT].storage_key))
        highlights: list[dict[str, Any]] = []
        if HIGHLIGHTS in artifacts:
            data = json.loads(await asyncio.to_thread(storage.get_bytes, artifacts[HIGHLIGHTS].storage_key))
            highlights = list(data.get("highlights", []))
        return transcript, highlights

    async def ask(
        self,
        plan: GenerationPlan,
        on_tokens: Callable[[int], None],
        check_cancelled: Callable[[], None],
    ) -> tuple[BaseModel, bool]:
        """The model's answer for `plan` (or the render cache's), and whether it was cached."""
        return await LLMService(self.session, self.settings).generate_object(
            plan.owner_id,
            plan.prompt,
            plan.schema,
            purpose=plan.purpose,
            cache_scope=plan.cache_scope,
            subject_id=plan.scenario_id,
            language=plan.language,
            check=plan.check,
            max_tokens=plan.max_tokens,
            on_tokens=on_tokens,
            check_cancelled=check_cancelled,
        )

    async def record_progress(self, scenario_id: str, progress: float) -> None:
        await self.scenarios.raise_progress(scenario_id, progress)
        await self.session.commit()

    async def finish(self, scenario_id: str, draft: BaseModel, from_cache: bool) -> None:
        """The answer becomes version 1 and the scenario is ready (unless it was deleted meanwhile)."""
        scenario = await self.scenarios.get_unscoped(scenario_id)
        if scenario is None or scenario.status != ScenarioStatus.GENERATING:
            return
        answer = draft.model_dump(mode="json")
        values = {
            **content_of(scenario),
            "title": answer["title"],
            "logline": answer["logline"],
            "hook": answer["hook"],
            "scenes": answer["scenes"],
            "call_to_action": answer["call_to_action"],
        }
        now = utcnow()
        number = scenario.version + 1
        if not await self.scenarios.update(
            scenario_id,
            when_status=ScenarioStatus.GENERATING,
            **values,
            title_folded=values["title"].casefold(),
            status=ScenarioStatus.READY,
            progress=1.0,
            error=None,
            from_cache=from_cache,
            version=number,
            updated_at=now,
        ):
            return
        note = "generated (answered from the render cache)" if from_cache else "generated"
        self.scenarios.add(
            ScenarioVersion(
                scenario_id=scenario_id,
                number=number,
                content=values,
                note=note,
                author_id=None,
                created_at=now,
            )
        )
        await emit(
            self.session,
            self.settings,
            scenario.owner_id,
            EventType.SCENARIO_GENERATED,
            scenario_id,
            {
                "scenario_id": scenario_id,
                "title": values["title"],
                "language": values["language"],
                "scenes": len(values["scenes"]),
                "from_cache": from_cache,
                "url": f"{self.settings.resolved_public_url}/v1/scenarios/{scenario_id}",
            },
        )
        await self.session.commit()

    async def wait(self, scenario_id: str, reason: str) -> None:
        """The job will try again later: the scenario is queued again, saying why."""
        await self.scenarios.update(
            scenario_id,
            when_status=(ScenarioStatus.QUEUED, ScenarioStatus.GENERATING),
            status=ScenarioStatus.QUEUED,
            error=f"waiting to try again: {reason}"[:2000],
            updated_at=utcnow(),
        )
        await self.session.commit()

    async def fail(self, scenario_id: str, error: str) -> None:
        """The job gave up: the scenario is failed with the reason (the caller commits)."""
        await self.scenarios.update(
            scenario_id,
            when_status=(ScenarioStatus.QUEUED, ScenarioStatus.GENERATING),
            status=ScenarioStatus.FAILED,
            error=error[:4000],
            updated_at=utcnow(),
        )
