"""Accounts over HTTP: register, log in, refresh, log out, me, API keys. Thin: no SQL here."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from kadr.accounts.cookies import (
    clear_session_cookies,
    has_session_cookie,
    refresh_token_from_cookies,
    set_session_cookies,
)
from kadr.accounts.dependencies import AccountServiceDep, Admin, CurrentUser, LoginThrottleDep
from kadr.accounts.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    BrowserSession,
    LoginIn,
    ProfileIn,
    RefreshIn,
    RegisterIn,
    TokenPair,
    UserOut,
)
from kadr.accounts.service import IssuedTokens
from kadr.core.deps import SettingsDep
from kadr.core.forwarded import ClientAddress
from kadr.core.pagination import PageDep, Paginated

router = APIRouter(tags=["accounts"])


def _no_store(response: Response) -> None:
    """Responses that carry secrets must not be cached by browsers or proxies (RFC 6749 §5.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


def _token_pair(tokens: IssuedTokens, response: Response) -> TokenPair:
    _no_store(response)
    return TokenPair(
        access_token=tokens.access_token, expires_in=tokens.expires_in, refresh_token=tokens.refresh_token
    )


def _browser_session(
    tokens: IssuedTokens, request: Request, response: Response, settings: SettingsDep
) -> BrowserSession:
    """The cookie session's answer: the refresh token goes into the cookie, never into the body."""
    _no_store(response)
    set_session_cookies(response, request, settings, tokens.refresh_token)
    return BrowserSession(access_token=tokens.access_token, expires_in=tokens.expires_in)


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def register(body: RegisterIn, service: AccountServiceDep) -> UserOut:
    """Create an account (403 when registration is closed, 409 when the email is taken).

    `locale`, `timezone` and `default_language` are optional; a wrong one is 422 naming it.
    """
    profile = body.model_dump(include={"locale", "timezone", "default_language"})
    user = await service.register(body.email, body.password, body.display_name, profile)
    return UserOut.model_validate(user)


@router.post("/auth/login", response_model=TokenPair | BrowserSession)
async def login(
    body: LoginIn,
    request: Request,
    response: Response,
    service: AccountServiceDep,
    settings: SettingsDep,
    client: ClientAddress,
    throttle: LoginThrottleDep,
) -> TokenPair | BrowserSession:
    """Exchange email and password for an access token and a refresh token.

    With `"session": "cookie"` (browsers) the refresh token is set as an HttpOnly cookie for
    `/v1/auth` instead of being returned, with a readable `kadr_csrf` cookie beside it.
    Failed logins are throttled per account and address, per account and per address (429).
    """
    tokens = await service.login(
        body.email, body.password, client, request.headers.get("user-agent"), throttle
    )
    if body.session == "cookie":
        return _browser_session(tokens, request, response, settings)
    return _token_pair(tokens, response)


@router.post("/auth/refresh", response_model=TokenPair | BrowserSession)
async def refresh(
    request: Request,
    response: Response,
    service: AccountServiceDep,
    settings: SettingsDep,
    body: RefreshIn | None = None,
) -> TokenPair | BrowserSession:
    """Spend a refresh token for new tokens; replaying a spent one revokes its whole login.

    Without a body, the browser session's cookie is spent instead; that needs the
    `X-CSRF-Token` header equal to the `kadr_csrf` cookie (403 `csrf-failed` otherwise), and the
    answer sets the next cookies.
    """
    user_agent = request.headers.get("user-agent")
    if body is not None:
        return _token_pair(await service.refresh(body.refresh_token, user_agent), response)
    tokens = await service.refresh(refresh_token_from_cookies(request, settings), user_agent)
    return _browser_session(tokens, request, response, settings)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    request: Request, service: AccountServiceDep, settings: SettingsDep, body: RefreshIn | None = None
) -> Response:
    """Revoke the login (the refresh token's family) and, within seconds, its access tokens.

    Without a body, the browser session's cookie is revoked (with `X-CSRF-Token`, as for
    refresh) and both cookies are cleared.
    """
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    if body is not None:
        await service.logout(body.refresh_token)
        return response
    if has_session_cookie(request):
        await service.logout(refresh_token_from_cookies(request, settings))
    clear_session_cookies(response, request, settings)
    return response


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.patch("/me", response_model=UserOut)
async def update_me(body: ProfileIn, principal: Admin, service: AccountServiceDep) -> UserOut:
    """Change your profile: only the fields sent change, `null` clears one. A wrong locale (BCP 47),
    time zone (IANA) or language (ISO 639-1) is 422 naming the field.

    Needs a person's session or an `admin` key: a read-only key cannot change the account.
    """
    changes = body.model_dump(include=body.model_fields_set)
    return UserOut.model_validate(await service.update_profile(principal.user_id, changes))


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
async def create_api_key(
    body: ApiKeyIn, response: Response, principal: Admin, service: AccountServiceDep
) -> ApiKeyCreated:
    """Create an API key; the key itself is in this response only.

    Needs a person's session or an `admin` key. Without `scopes` the key is read-only.
    """
    key, secret = await service.create_api_key(principal, body.name, body.scopes)
    _no_store(response)
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=secret)


@router.get("/api-keys", response_model=Paginated[ApiKeyOut])
async def list_api_keys(principal: Admin, service: AccountServiceDep, page: PageDep) -> Paginated[ApiKeyOut]:
    """The caller's unrevoked keys, newest first (never the keys themselves)."""
    return Paginated[ApiKeyOut].of(await service.list_api_keys(principal.user_id, page), page)


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(key_id: str, principal: Admin, service: AccountServiceDep) -> Response:
    """Revoke one of the caller's keys at once; any other id is 404."""
    await service.revoke_api_key(principal.user_id, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
