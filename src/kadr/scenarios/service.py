"""Scenarios: write, read, edit (every edit a version), restore, delete, and share with a link or
with other users. Generation by the language model is `scenarios.generation`.

Who may do what: the owner everything; an editor (shared with by email) reads and edits; a
viewer reads. Anyone else is answered 404, as if the scenario did not exist; a viewer or an
editor who tries what their role does not allow is answered 403, since they know it exists.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kadr.accounts.security import hash_secret
from kadr.accounts.service import AccountService
from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from kadr.core.idempotency import Idempotency, create_once
from kadr.core.ids import new_id
from kadr.core.pagination import Page, PageResult
from kadr.jobs import service as jobs
from kadr.notifications.models import EventType
from kadr.notifications.outbox import emit
from kadr.scenarios.checks import default_words_per_minute, describe, timing_problems
from kadr.scenarios.models import (
    CONTENT_FIELDS,
    FINISHED_SCENARIO_STATUSES,
    Aspect,
    Platform,
    Role,
    Scenario,
    ScenarioShare,
    ScenarioStatus,
    ScenarioVersion,
    ShareKind,
)
from kadr.scenarios.repository import ScenarioRepository
from kadr.scenarios.schemas import ScenarioContent, ShareCreate

#: The picture each platform usually shows, when a scenario does not say.
PLATFORM_ASPECTS: dict[str, Aspect] = {
    Platform.YOUTUBE_SHORTS: Aspect.VERTICAL,
    Platform.TIKTOK: Aspect.VERTICAL,
    Platform.REELS: Aspect.VERTICAL,
    Platform.VK_CLIPS: Aspect.VERTICAL,
    Platform.YOUTUBE: Aspect.WIDE,
    Platform.TELEGRAM: Aspect.WIDE,
    Platform.OTHER: Aspect.WIDE,
}
#: Statuses in which a scenario's content may be changed (not while the model writes it).
EDITABLE_STATUSES = FINISHED_SCENARIO_STATUSES


@dataclass(frozen=True)
class ScenarioAccess:
    """A scenario and what the caller may do with it."""

    scenario: Scenario
    role: Role


@dataclass(frozen=True)
class NewShare:
    """A share just made; a link's token and URL are shown this once (only its hash is kept)."""

    share: ScenarioShare
    token: str | None = None
    url: str | None = None


async def default_language(session: AsyncSession, settings: Settings, user_id: str) -> str:
    """THE one place the language of a scenario or brief that names none is chosen: the user's
    (their default language, else their locale's, else English: `AccountService.language_of`)."""
    return await AccountService(session, settings).language_of(user_id)


def aspect_for(platform: str, aspect: str | None) -> str:
    return aspect or PLATFORM_ASPECTS.get(platform, Aspect.WIDE)


def content_of(scenario: Scenario) -> dict[str, Any]:
    """The scenario's content (CONTENT_FIELDS), as a version keeps it."""
    return {name: getattr(scenario, name) for name in CONTENT_FIELDS}


def checked_content(content: ScenarioContent, language: str) -> dict[str, Any]:
    """The content in `language` (unless it names its own) with its defaults filled in, if its
    timing holds; 422 naming the scene otherwise."""
    language = content.language or language
    words_per_minute = content.words_per_minute or default_words_per_minute(language)
    problems = timing_problems(content.scenes, content.target_duration_s, words_per_minute)
    if problems:
        raise ValidationFailed(
            describe(problems),
            problems=[{"scene": problem.scene, "detail": problem.message} for problem in problems],
        )
    return {
        "title": content.title,
        "logline": content.logline,
        "platform": str(content.platform),
        "aspect": aspect_for(content.platform, content.aspect),
        "language": language,
        "target_duration_s": content.target_duration_s,
        "words_per_minute": words_per_minute,
        "hook": content.hook,
        "scenes": [scene.model_dump(mode="json") for scene in content.scenes],
        "call_to_action": content.call_to_action,
    }


class ScenarioService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.scenarios = ScenarioRepository(session)

    # --- who may do what ---------------------------------------------------------------

    async def access(self, user_id: str, scenario_id: str) -> ScenarioAccess:
        """The scenario as `user_id` may see it; 404 when they may not see it at all."""
        scenario = await self.scenarios.get_unscoped(scenario_id)
        if scenario is not None:
            if scenario.owner_id == user_id:
                return ScenarioAccess(scenario, Role.OWNER)
            grant = await self.scenarios.grant(scenario_id, user_id, utcnow())
            if grant is not None:
                return ScenarioAccess(scenario, Role(grant.role))
        raise NotFound(f"no scenario {scenario_id}")

    async def for_edit(self, user_id: str, scenario_id: str) -> ScenarioAccess:
        """The scenario if `user_id` may change it (owner or editor); a viewer gets 403."""
        access = await self.access(user_id, scenario_id)
        if access.role == Role.VIEWER:
            raise Forbidden(f"scenario {scenario_id} is shared with you to view, not to edit")
        return access

    async def owned(self, user_id: str, scenario_id: str, doing: str) -> Scenario:
        """The scenario if `user_id` owns it; 403 for those it is shared with (`doing` says what)."""
        access = await self.access(user_id, scenario_id)
        if access.role != Role.OWNER:
            raise Forbidden(f"only the owner of scenario {scenario_id} may {doing}")
        return access.scenario

    # --- reading --------------------------------------------------------------------------

    async def get(self, user_id: str, scenario_id: str) -> ScenarioAccess:
        return await self.access(user_id, scenario_id)

    async def list_page(
        self,
        user_id: str,
        page: Page,
        *,
        status: str | None = None,
        language: str | None = None,
        platform: str | None = None,
        q: str | None = None,
    ) -> PageResult[ScenarioAccess]:
        """The user's own scenarios and those shared with them, newest first."""
        result = await self.scenarios.accessible_page(
            user_id,
            page.limit,
            page.offset,
            utcnow(),
            status=status,
            language=language,
            platform=platform,
            title_contains=q,
        )
        return PageResult([ScenarioAccess(s, role) for s, role in result.items], result.total)

    async def versions(self, user_id: str, scenario_id: str, page: Page) -> PageResult[ScenarioVersion]:
        await self.access(user_id, scenario_id)
        return await self.scenarios.versions_page(scenario_id, page.limit, page.offset)

    # --- writing --------------------------------------------------------------------------

    async def create(
        self, user_id: str, content: ScenarioContent, idempotency_key: str | None = None
    ) -> ScenarioAccess:
        """A scenario written by hand (version 1); with an idempotency key, the one it made."""
        language = content.language or await default_language(self.session, self.settings, user_id)
        values = checked_content(content, language)
        idempotency = Idempotency.of(idempotency_key, {"create": content.model_dump(mode="json")})
        scenario = await create_once(
            self.session,
            idempotency,
            lambda key: self.scenarios.find_by_idempotency_key(user_id, key),
            lambda: self._create(user_id, values, idempotency),
        )
        return ScenarioAccess(scenario, Role.OWNER)

    async def _create(
        self, user_id: str, values: dict[str, Any], idempotency: Idempotency | None
    ) -> Scenario:
        now = utcnow()
        scenario = Scenario(
            id=new_id("scn"),
            owner_id=user_id,
            status=ScenarioStatus.READY,
            progress=1.0,
            from_cache=False,
            title_folded=values["title"].casefold(),
            version=1,
            idempotency_key=idempotency.key if idempotency else None,
            idempotency_fingerprint=idempotency.fingerprint if idempotency else None,
            created_at=now,
            updated_at=now,
            **values,
        )
        self.scenarios.add(scenario)
        self.scenarios.add(
            ScenarioVersion(
                scenario_id=scenario.id,
                number=1,
                content=values,
                note="created",
                author_id=user_id,
                created_at=now,
            )
        )
        await self.session.commit()
        return scenario

    async def update(
        self, user_id: str, scenario_id: str, content: ScenarioContent, base_version: int | None = None
    ) -> ScenarioAccess:
        """Replace the content (a new version). `base_version`: 409 if a newer one was saved."""
        access = await self.for_edit(user_id, scenario_id)
        scenario = access.scenario
        if base_version is not None and base_version != scenario.version:
            raise Conflict(
                f"scenario {scenario_id} is at version {scenario.version}, not {base_version}: "
                "someone saved a change meanwhile; load it and apply your edit again",
                version=scenario.version,
            )
        await self.save_version(scenario, checked_content(content, scenario.language), "edited", user_id)
        await self.session.commit()
        return await self.access(user_id, scenario_id)

    async def restore(self, user_id: str, scenario_id: str, number: int) -> ScenarioAccess:
        """Make version `number`'s content the newest version again (history is kept)."""
        scenario = (await self.for_edit(user_id, scenario_id)).scenario
        version = await self.scenarios.version(scenario_id, number)
        if version is None:
            raise NotFound(f"scenario {scenario_id} has no version {number} (it has 1-{scenario.version})")
        await self.save_version(scenario, dict(version.content), f"restored version {number}", user_id)
        await self.session.commit()
        return await self.access(user_id, scenario_id)

    async def save_version(
        self, scenario: Scenario, values: dict[str, Any], note: str, author_id: str | None
    ) -> None:
        """Write `values` as the next version (the caller commits). 409 when the scenario is
        being generated, or when another change was saved since `scenario` was read."""
        if scenario.status not in EDITABLE_STATUSES:
            raise Conflict(f"scenario {scenario.id} is {scenario.status}: edit it once it is ready")
        now = utcnow()
        number = scenario.version + 1
        saved = await self.scenarios.update(
            scenario.id,
            Scenario.version == scenario.version,
            when_status=EDITABLE_STATUSES,
            **values,
            title_folded=values["title"].casefold(),
            version=number,
            status=ScenarioStatus.READY,
            error=None,
            progress=1.0,
            updated_at=now,
        )
        if not saved:
            raise Conflict(
                f"scenario {scenario.id} was changed while you edited it; load it and apply your edit again"
            )
        self.scenarios.add(
            ScenarioVersion(
                scenario_id=scenario.id,
                number=number,
                content=values,
                note=note[:200],
                author_id=author_id,
                created_at=now,
            )
        )

    async def delete(self, user_id: str, scenario_id: str) -> None:
        """Delete the scenario, its versions and shares; a generation under way is cancelled."""
        scenario = await self.owned(user_id, scenario_id, "delete it")
        if scenario.job_id and scenario.status not in FINISHED_SCENARIO_STATUSES:
            await jobs.cancel(self.session, scenario.job_id)
        await self.scenarios.delete(scenario)
        await self.session.commit()

    # --- sharing --------------------------------------------------------------------------

    async def share(self, user_id: str, scenario_id: str, request: ShareCreate) -> NewShare:
        """A read-only link (no email), or access for another kadr user as viewer or editor."""
        scenario = await self.owned(user_id, scenario_id, "share it")
        now = utcnow()
        if request.expires_at is not None and request.expires_at <= now:
            raise ValidationFailed("expires_at: give a time in the future")
        if request.email is None:
            new = await self._share_link(scenario, request)
        else:
            new = await self._share_with_user(scenario, request)
        await self.session.commit()
        return new

    async def _share_link(self, scenario: Scenario, request: ShareCreate) -> NewShare:
        token = secrets.token_urlsafe(32)
        share = ScenarioShare(
            id=new_id("shr"),
            scenario_id=scenario.id,
            owner_id=scenario.owner_id,
            kind=ShareKind.LINK,
            role=Role.VIEWER,
            token_hash=hash_secret(token),
            expires_at=request.expires_at,
            created_at=utcnow(),
        )
        self.scenarios.add(share)
        url = f"{self.settings.resolved_public_url}/v1/shared/scenarios/{token}"
        await self._emit_shared(scenario, scenario.owner_id, share, url=url)
        return NewShare(share, token, url)

    async def _share_with_user(self, scenario: Scenario, request: ShareCreate) -> NewShare:
        assert request.email is not None
        accounts = AccountService(self.session, self.settings)
        grantee = await accounts.user_by_email(request.email)
        if grantee is None or not grantee.is_active:
            raise ValidationFailed(
                f"email: no kadr user has the address {request.email!r}; they need an account first"
            )
        if grantee.id == scenario.owner_id:
            raise ValidationFailed("email: that is you; you own this scenario already")
        share = await self.scenarios.grant(scenario.id, grantee.id, utcnow())
        if share is None:
            share = ScenarioShare(
                id=new_id("shr"),
                scenario_id=scenario.id,
                owner_id=scenario.owner_id,
                kind=ShareKind.USER,
                user_id=grantee.id,
                email=grantee.email,
                created_at=utcnow(),
            )
            self.scenarios.add(share)
        # Shared again: the same grant with the new role and expiry (one grant per person).
        share.role = request.role
        share.expires_at = request.expires_at
        owner = await accounts.user(scenario.owner_id)
        await self._emit_shared(
            scenario,
            grantee.id,
            share,
            url=f"{self.settings.resolved_public_url}/v1/scenarios/{scenario.id}",
            shared_by=owner.email if owner is not None else None,
        )
        return NewShare(share)

    async def _emit_shared(
        self, scenario: Scenario, recipient_id: str, share: ScenarioShare, **data: Any
    ) -> None:
        """`scenario.shared`: to the person shared with, or to the owner for a link they made."""
        await emit(
            self.session,
            self.settings,
            recipient_id,
            EventType.SCENARIO_SHARED,
            scenario.id,
            {
                "scenario_id": scenario.id,
                "title": scenario.title,
                "kind": share.kind,
                "role": share.role,
                "expires_at": share.expires_at.isoformat() if share.expires_at else None,
                **data,
            },
        )

    async def shares(self, user_id: str, scenario_id: str, page: Page) -> PageResult[ScenarioShare]:
        await self.owned(user_id, scenario_id, "see its shares")
        return await self.scenarios.shares_page(scenario_id, page.limit, page.offset)

    async def revoke_share(self, user_id: str, scenario_id: str, share_id: str) -> None:
        """End a link or a user's access at once (the record stays, marked revoked)."""
        await self.owned(user_id, scenario_id, "revoke its shares")
        share = await self.scenarios.share(scenario_id, share_id)
        if share is None:
            raise NotFound(f"scenario {scenario_id} has no share {share_id}")
        if share.revoked_at is None:
            share.revoked_at = utcnow()
            await self.session.commit()

    async def shared(self, token: str) -> Scenario:
        """The scenario a live link opens; 404 for a revoked, expired or unknown link alike."""
        share = await self.scenarios.live_link(hash_secret(token), utcnow())
        scenario = await self.scenarios.get_unscoped(share.scenario_id) if share is not None else None
        if scenario is None:
            raise NotFound("this link does not open a scenario (it was revoked, it expired, or it never did)")
        return scenario
