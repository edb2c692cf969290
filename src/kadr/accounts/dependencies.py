"""Who the request acts for, and what it may do.

Other domains write the alias of the scope a route needs in its signature::

    from kadr.accounts.dependencies import RunsRead, RunsWrite

    async def get_run(run_id: str, user: RunsRead, ...) -> RunOut: ...

A person's session (JWT) holds every scope; an API key only its own (accounts.scopes), and a
missing one is 403 `insufficient-scope`. `CurrentUser` authenticates without requiring a scope
(`/me`). `RequireScope(Scope.X)` goes in a decorator's `dependencies=[...]` where the route
does not need the user.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from kadr.accounts.models import User
from kadr.accounts.principal import Principal, PrincipalCache
from kadr.accounts.scopes import Scope
from kadr.accounts.security import is_api_key
from kadr.accounts.service import AccountService
from kadr.accounts.throttle import LoginThrottle
from kadr.config import Settings
from kadr.core.deps import SessionDep, SettingsDep
from kadr.core.errors import NotFound, Unauthorized

__all__ = [
    "AccountServiceDep",
    "Admin",
    "ChannelsRead",
    "ChannelsWrite",
    "CurrentPrincipal",
    "CurrentUser",
    "LoginThrottleDep",
    "NotificationsRead",
    "NotificationsWrite",
    "PublicationsRead",
    "Publish",
    "RequireScope",
    "RunsRead",
    "RunsWrite",
    "ScenariosRead",
    "ScenariosWrite",
    "Scope",
    "Scoped",
    "SystemAdmin",
    "VideosRead",
    "VideosWrite",
    "authorize",
    "current_user",
]


def read_credential(request: Request) -> str:
    """The access token or API key the request carries.

    `Authorization: Bearer <jwt | kadr_…>` wins over `X-API-Key: kadr_…`.
    """
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    api_key = request.headers.get("x-api-key", "").strip()
    if api_key:
        # Only API keys belong here; a JWT in this header would be a client mistake worth naming.
        if not is_api_key(api_key):
            raise Unauthorized("X-API-Key must hold an API key (kadr_…)")
        return api_key
    raise Unauthorized("send `Authorization: Bearer <access token or API key>` or `X-API-Key: <API key>`")


def _app_state(request: Request, name: str, make: Any) -> Any:
    """An object kept on the app (one per app, so two apps in one process share nothing).

    Made on first use from the event loop: no await between the check and the set, so two
    first requests cannot both make one.
    """
    value = getattr(request.app.state, name, None)
    if value is None:
        value = make()
        setattr(request.app.state, name, value)
    return value


def principal_cache(request: Request, settings: Settings) -> PrincipalCache:
    """The app's authentication cache (`KADR_AUTH_CACHE_SECONDS`, `KADR_AUTH_CACHE_SIZE`)."""
    cache: PrincipalCache = _app_state(
        request,
        "auth_cache",
        lambda: PrincipalCache(settings.auth_cache_seconds, settings.auth_cache_size),
    )
    return cache


async def account_service(request: Request, session: SessionDep, settings: SettingsDep) -> AccountService:
    return AccountService(session, settings, principal_cache(request, settings))


AccountServiceDep = Annotated[AccountService, Depends(account_service)]


async def current_principal(request: Request, session: SessionDep, settings: SettingsDep) -> Principal:
    """The request's authenticated credential; 401 problem otherwise (`token-expired` for a
    stale JWT). Checked once per request, whichever dependencies ask."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        service = AccountService(session, settings, principal_cache(request, settings))
        principal = await service.authenticate(read_credential(request))
        request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def current_user(principal: CurrentPrincipal) -> User:
    """The authenticated, active user, whatever the credential's scopes."""
    return principal.user()


async def authorize(request: Request, session: SessionDep, settings: SettingsDep, scope: Scope) -> User:
    """The authenticated user, if the credential holds `scope`; 401 or 403 problem otherwise.

    For endpoints where authentication is optional (a signed link may stand in for it), called
    directly; everywhere else the `Scoped` dependencies below do the same."""
    principal = await current_principal(request, session, settings)
    principal.require(scope)
    return principal.user()


class Scoped:
    """A dependency: the user behind a credential that holds `scope` (one instance per scope)."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, principal: CurrentPrincipal) -> User:
        principal.require(self.scope)
        return principal.user()

    def __repr__(self) -> str:
        return f"Scoped({self.scope.value!r})"


@cache
def scoped(scope: Scope) -> Scoped:
    """The one `Scoped` of `scope`, so FastAPI runs it once per request however often it is named."""
    return Scoped(scope)


def RequireScope(scope: Scope) -> DependsParam:
    return Depends(scoped(scope))


CurrentUser = Annotated[User, Depends(current_user)]
VideosRead = Annotated[User, Depends(scoped(Scope.VIDEOS_READ))]
VideosWrite = Annotated[User, Depends(scoped(Scope.VIDEOS_WRITE))]
RunsRead = Annotated[User, Depends(scoped(Scope.RUNS_READ))]
RunsWrite = Annotated[User, Depends(scoped(Scope.RUNS_WRITE))]
ChannelsRead = Annotated[User, Depends(scoped(Scope.CHANNELS_READ))]
ChannelsWrite = Annotated[User, Depends(scoped(Scope.CHANNELS_WRITE))]
PublicationsRead = Annotated[User, Depends(scoped(Scope.PUBLICATIONS_READ))]
Publish = Annotated[User, Depends(scoped(Scope.PUBLISH))]
NotificationsRead = Annotated[User, Depends(scoped(Scope.NOTIFICATIONS_READ))]
NotificationsWrite = Annotated[User, Depends(scoped(Scope.NOTIFICATIONS_WRITE))]
ScenariosRead = Annotated[User, Depends(scoped(Scope.SCENARIOS_READ))]
ScenariosWrite = Annotated[User, Depends(scoped(Scope.SCENARIOS_WRITE))]


async def _admin(principal: CurrentPrincipal) -> Principal:
    principal.require(Scope.ADMIN)
    return principal


#: A credential allowed to manage credentials: a person's session, or an `admin` key.
Admin = Annotated[Principal, Depends(_admin)]


async def _system_admin(principal: CurrentPrincipal) -> Principal:
    # The admin area does not exist for anyone else: 404, like another user's row.
    if not principal.user_fields.get("is_admin"):
        raise NotFound("no such page")
    principal.require(Scope.ADMIN)
    return principal


#: An administrator of the whole system (`users.is_admin`; `kadr admin grant EMAIL`) with a
#: credential that may administer (a session, or an `admin` key); 404 for every other user.
SystemAdmin = Annotated[Principal, Depends(_system_admin)]


async def login_throttle(request: Request) -> LoginThrottle:
    """The app's failed-login counters (accounts.throttle), made on first use."""
    throttle: LoginThrottle = _app_state(request, "login_throttle", LoginThrottle)
    return throttle


LoginThrottleDep = Annotated[LoginThrottle, Depends(login_throttle)]
