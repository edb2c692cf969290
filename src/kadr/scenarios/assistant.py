"""Title ideas and one scene rewritten by the language model, answered in the request.

Both are small answers (a few hundred tokens), so the client gets them at once instead of
polling a job; they go through `LLMService` like every call (budget, record, re-asks), and a
rewrite is checked like any edit before it becomes a new version.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.config import Settings
from kadr.core.errors import Conflict, ValidationFailed
from kadr.llm.service import LLMService
from kadr.scenarios import prompting
from kadr.scenarios.checks import count_words, describe, recut_problems, timing_problems
from kadr.scenarios.models import ScenarioStatus
from kadr.scenarios.schemas import Scene, TitleIdeas
from kadr.scenarios.service import ScenarioAccess, ScenarioService, content_of

MAX_TITLE_CHARACTERS = 100


class AssistantService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    async def propose_titles(self, user_id: str, scenario_id: str, n: int) -> list[str]:
        """`n` title ideas for the scenario as it is now; nothing is changed."""
        scenario = (
            await ScenarioService(self.session, self.settings).for_edit(user_id, scenario_id)
        ).scenario
        if scenario.status != ScenarioStatus.READY:
            raise Conflict(f"scenario {scenario_id} is {scenario.status}: ask for titles once it is ready")

        def check(ideas: TitleIdeas) -> str | None:
            titles = [title.strip() for title in ideas.titles]
            if len(titles) != n or len({title.casefold() for title in titles}) != n:
                return f"give exactly {n} different titles (you gave {len(set(titles))} different)"
            for position, title in enumerate(titles, 1):
                if len(title) > MAX_TITLE_CHARACTERS:
                    return f"title {position} has {len(title)} characters; at most {MAX_TITLE_CHARACTERS}"
            return None

        ideas, _ = await LLMService(self.session, self.settings).generate_object(
            user_id,
            prompting.titles_prompt(scenario, n, MAX_TITLE_CHARACTERS),
            TitleIdeas,
            purpose="scenario.titles",
            cache_scope={
                "scenario_id": scenario_id,
                "version": scenario.version,
                "n": n,
                "render_profile": "scenario.titles",
            },
            subject_id=scenario_id,
            language=scenario.language,
            check=check,
            max_tokens=60 + 45 * n,
        )
        return [title.strip() for title in ideas.titles]

    async def rewrite_scene(
        self, user_id: str, scenario_id: str, number: int, instruction: str
    ) -> ScenarioAccess:
        """Scene `number` rewritten as `instruction` says: a new version, timing checked."""
        service = ScenarioService(self.session, self.settings)
        scenario = (await service.for_edit(user_id, scenario_id)).scenario
        if scenario.status != ScenarioStatus.READY:
            raise Conflict(f"scenario {scenario_id} is {scenario.status}: rewrite scenes once it is ready")
        scenes = [Scene.model_validate(scene) for scene in scenario.scenes]
        if not 1 <= number <= len(scenes):
            raise ValidationFailed(f"scene: scenario {scenario_id} has scenes 1-{len(scenes)}, not {number}")
        old = scenes[number - 1]
        target, words_per_minute = scenario.target_duration_s, scenario.words_per_minute

        def check(scene: Scene) -> str | None:
            if scene.n != number:
                return f"the scene must keep its number: n = {number}, not {scene.n}"
            changed = [*scenes[: number - 1], scene, *scenes[number:]]
            problems = timing_problems(changed, target, words_per_minute)
            if old.source_start is not None:
                problems += recut_problems([scene], 0.0)
            return describe(problems)

        scene, _ = await LLMService(self.session, self.settings).generate_object(
            user_id,
            prompting.rewrite_prompt(scenario, old, instruction),
            Scene,
            purpose="scenario.rewrite_scene",
            subject_id=scenario_id,
            language=scenario.language,
            check=check,
            max_tokens=prompting.rewrite_token_limit(old, words_per_minute),
        )
        values = content_of(scenario)
        values["scenes"] = [(scene if s.n == number else s).model_dump(mode="json") for s in scenes]
        words = count_words(scene.narration)
        await service.save_version(
            scenario, values, f"rewrote scene {number} ({words} words): {instruction}", user_id
        )
        await self.session.commit()
        return await service.access(user_id, scenario_id)
