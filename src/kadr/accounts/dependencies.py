"""`CurrentUser`: the user behind the request's bearer token or API key.

Other domains write `user: CurrentUser` in an endpoint's signature::

    from kadr.accounts.dependencies import CurrentUser
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kadr.accounts.models import User
from kadr.accounts.security import is_api_key
from kadr.accounts.service import AccountService, new_login_throttle
from kadr.core.deps import SessionDep, SettingsDep
from kadr.core.errors import Unauthorized
from kadr.core.ratelimit import RateLimiter


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


async def current_user(request: Request, session: SessionDep, settings: SettingsDep) -> User:
    """The authenticated, active user; 401 problem otherwise (`token-expired` for a stale JWT).

    Also callable directly, `await current_user(request, session, settings)`, from endpoints
    where authentication is optional.
    """
    return await AccountService(session, settings).authenticate(read_credential(request))


CurrentUser = Annotated[User, Depends(current_user)]


async def login_throttle(request: Request) -> RateLimiter:
    """The app's failed-login counter, made on first use.

    One per app rather than per module, so two apps in one process (tests, embedded roles)
    do not share counters.
    """
    throttle: RateLimiter | None = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        # Async on purpose: it runs on the event loop (not FastAPI's thread pool for sync
        # dependencies), and with no await between check and set, two first requests cannot race.
        throttle = new_login_throttle()
        request.app.state.login_throttle = throttle
    return throttle


LoginThrottle = Annotated[RateLimiter, Depends(login_throttle)]
