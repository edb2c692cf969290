"""Scenarios over HTTP: thin routes around ScenarioService and GenerationService."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from kadr.accounts.dependencies import ScenariosRead, ScenariosWrite
from kadr.core.deps import SessionDep, SettingsDep
from kadr.core.http import problem_responses
from kadr.core.idempotency import IdempotencyKey
from kadr.core.pagination import Page, PageDep, PageResult, Paginated
from kadr.scenarios.assistant import AssistantService
from kadr.scenarios.generation import GenerationService
from kadr.scenarios.models import Platform, Role, Scenario, ScenarioStatus
from kadr.scenarios.schemas import (
    LANGUAGE_PATTERN,
    GenerateRequest,
    RewriteRequest,
    ScenarioContent,
    ScenarioOut,
    ScenarioUpdate,
    ShareCreate,
    SharedScenarioOut,
    ShareOut,
    TitlesOut,
    TitlesRequest,
    VersionOut,
)
from kadr.scenarios.service import ScenarioAccess, ScenarioService

router = APIRouter(tags=["scenarios"])


def _out(access: ScenarioAccess) -> ScenarioOut:
    return _scenario_out(access.scenario, access.role)


def _scenario_out(scenario: Scenario, role: str) -> ScenarioOut:
    columns: dict[str, Any] = {
        name: getattr(scenario, name) for name in ScenarioOut.model_fields if name != "role"
    }
    return ScenarioOut.model_validate({**columns, "role": role})


def _location(response: Response, scenario_id: str) -> None:
    response.headers["Location"] = f"/v1/scenarios/{scenario_id}"


@router.post("/scenarios", status_code=status.HTTP_201_CREATED, response_model=ScenarioOut)
async def create_scenario(
    body: ScenarioContent,
    response: Response,
    user: ScenariosWrite,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey,
) -> ScenarioOut:
    """A scenario written by hand. Scene durations must add up to `target_duration_s` (±10 %) and
    each narration must fit its scene at `words_per_minute`: a 422 names the scene that does not."""
    access = await ScenarioService(session, settings).create(user.id, body, idempotency_key)
    _location(response, access.scenario.id)
    return _out(access)


@router.post(
    "/scenarios/generate",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ScenarioOut,
    responses=problem_responses(429, 501),
)
async def generate_scenario(
    body: GenerateRequest,
    response: Response,
    user: ScenariosWrite,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey,
) -> ScenarioOut:
    """Have the language model write a scenario from a brief (or re-cut a finished run): poll the
    `Location` until `status` is `ready` or `failed` (`progress` 0..1, `error` in words)."""
    scenario = await GenerationService(session, settings).generate(user.id, body, idempotency_key)
    _location(response, scenario.id)
    return _scenario_out(scenario, Role.OWNER)


@router.get("/scenarios", response_model=Paginated[ScenarioOut])
async def list_scenarios(
    user: ScenariosRead,
    session: SessionDep,
    settings: SettingsDep,
    page: PageDep,
    scenario_status: Annotated[ScenarioStatus | None, Query(alias="status")] = None,
    language: Annotated[str | None, Query(pattern=LANGUAGE_PATTERN)] = None,
    platform: Platform | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of the title, any case")] = None,
) -> Paginated[ScenarioOut]:
    """Your scenarios and those shared with you (see `role`), newest first."""
    result = await ScenarioService(session, settings).list_page(
        user.id, page, status=scenario_status, language=language, platform=platform, q=q
    )
    return _page([_out(access) for access in result.items], result.total, page)


def _page(items: list[ScenarioOut], total: int, page: Page) -> Paginated[ScenarioOut]:
    return Paginated[ScenarioOut].of(PageResult(items, total), page)


@router.get("/scenarios/{scenario_id}", response_model=ScenarioOut)
async def get_scenario(
    scenario_id: str, user: ScenariosRead, session: SessionDep, settings: SettingsDep
) -> ScenarioOut:
    return _out(await ScenarioService(session, settings).get(user.id, scenario_id))


@router.put("/scenarios/{scenario_id}", response_model=ScenarioOut, responses=problem_responses(403, 409))
async def update_scenario(
    scenario_id: str, body: ScenarioUpdate, user: ScenariosWrite, session: SessionDep, settings: SettingsDep
) -> ScenarioOut:
    """Replace the content (a new version; the old one stays in `/versions`). Owner or editor."""
    access = await ScenarioService(session, settings).update(user.id, scenario_id, body, body.base_version)
    return _out(access)


@router.delete(
    "/scenarios/{scenario_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(403)
)
async def delete_scenario(
    scenario_id: str, user: ScenariosWrite, session: SessionDep, settings: SettingsDep
) -> None:
    """Delete it with its versions and shares (owner only); a generation under way is cancelled."""
    await ScenarioService(session, settings).delete(user.id, scenario_id)


@router.get("/scenarios/{scenario_id}/versions", response_model=Paginated[VersionOut])
async def list_versions(
    scenario_id: str, user: ScenariosRead, session: SessionDep, settings: SettingsDep, page: PageDep
) -> Paginated[VersionOut]:
    """Every saved content, newest first."""
    result = await ScenarioService(session, settings).versions(user.id, scenario_id, page)
    return Paginated[VersionOut].of(result, page)


@router.post(
    "/scenarios/{scenario_id}/versions/{number}/restore",
    response_model=ScenarioOut,
    responses=problem_responses(403, 409),
)
async def restore_version(
    scenario_id: str,
    number: Annotated[int, Path(ge=1, le=1_000_000)],
    user: ScenariosWrite,
    session: SessionDep,
    settings: SettingsDep,
) -> ScenarioOut:
    """Make an old version's content the newest version again."""
    return _out(await ScenarioService(session, settings).restore(user.id, scenario_id, number))


@router.post(
    "/scenarios/{scenario_id}/titles",
    response_model=TitlesOut,
    responses=problem_responses(403, 409, 429, 501, 502, 503),
)
async def propose_titles(
    scenario_id: str, body: TitlesRequest, user: ScenariosWrite, session: SessionDep, settings: SettingsDep
) -> TitlesOut:
    """`n` title ideas from the language model, answered in the request; the scenario is not changed."""
    titles = await AssistantService(session, settings).propose_titles(user.id, scenario_id, body.n)
    return TitlesOut(titles=titles)


@router.post(
    "/scenarios/{scenario_id}/rewrite",
    response_model=ScenarioOut,
    responses=problem_responses(403, 409, 429, 501, 502, 503),
)
async def rewrite_scene(
    scenario_id: str, body: RewriteRequest, user: ScenariosWrite, session: SessionDep, settings: SettingsDep
) -> ScenarioOut:
    """One scene rewritten by the language model as `instruction` says, answered in the request:
    a new version, its timing checked like any edit."""
    access = await AssistantService(session, settings).rewrite_scene(
        user.id, scenario_id, body.scene, body.instruction
    )
    return _out(access)


@router.post(
    "/scenarios/{scenario_id}/share",
    status_code=status.HTTP_201_CREATED,
    response_model=ShareOut,
    responses=problem_responses(403),
)
async def share_scenario(
    scenario_id: str, body: ShareCreate, user: ScenariosWrite, session: SessionDep, settings: SettingsDep
) -> ShareOut:
    """Without `email`: a read-only link (its `url` and `token` are shown only now). With `email`:
    that kadr user sees the scenario in their list, as `viewer` or `editor`. Owner only."""
    new = await ScenarioService(session, settings).share(user.id, scenario_id, body)
    share = ShareOut.model_validate(new.share)
    return share.model_copy(update={"url": new.url, "token": new.token})


@router.get("/scenarios/{scenario_id}/shares", response_model=Paginated[ShareOut])
async def list_shares(
    scenario_id: str, user: ScenariosRead, session: SessionDep, settings: SettingsDep, page: PageDep
) -> Paginated[ShareOut]:
    result = await ScenarioService(session, settings).shares(user.id, scenario_id, page)
    return Paginated[ShareOut].of(result, page)


@router.delete(
    "/scenarios/{scenario_id}/shares/{share_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(403),
)
async def revoke_share(
    scenario_id: str, share_id: str, user: ScenariosWrite, session: SessionDep, settings: SettingsDep
) -> None:
    """The link stops opening, or the user stops seeing the scenario, at once."""
    await ScenarioService(session, settings).revoke_share(user.id, scenario_id, share_id)


@router.get("/shared/scenarios/{token}", response_model=SharedScenarioOut)
async def open_shared_scenario(
    token: Annotated[str, Path(max_length=200)], session: SessionDep, settings: SettingsDep
) -> SharedScenarioOut:
    """A scenario a read-only link opens; no login. 404 once the link is revoked or expired."""
    return SharedScenarioOut.model_validate(await ScenarioService(session, settings).shared(token))
