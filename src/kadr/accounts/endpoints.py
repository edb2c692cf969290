"""Accounts over HTTP: register, log in, refresh, log out, me, API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from kadr.accounts.dependencies import CurrentUser
from kadr.accounts.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    LoginIn,
    RefreshIn,
    RegisterIn,
    TokenPair,
    UserOut,
)
from kadr.accounts.service import AccountService
from kadr.core.deps import SessionDep, SettingsDep
from kadr.core.http import Page
from kadr.core.schemas import Paginated

router = APIRouter(tags=["accounts"])


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def register(body: RegisterIn, session: SessionDep, settings: SettingsDep) -> UserOut:
    user = await AccountService(session, settings).register(body.email, body.password, body.display_name)
    return UserOut.model_validate(user)


@router.post("/auth/login", response_model=TokenPair)
async def login(body: LoginIn, request: Request, session: SessionDep, settings: SettingsDep) -> TokenPair:
    client = request.client.host if request.client else "unknown"
    access, ttl, refresh = await AccountService(session, settings).login(
        body.email, body.password, client, request.headers.get("user-agent")
    )
    return TokenPair(access_token=access, expires_in=ttl, refresh_token=refresh)


@router.post("/auth/refresh", response_model=TokenPair)
async def refresh(body: RefreshIn, request: Request, session: SessionDep, settings: SettingsDep) -> TokenPair:
    access, ttl, fresh = await AccountService(session, settings).refresh(
        body.refresh_token, request.headers.get("user-agent")
    )
    return TokenPair(access_token=access, expires_in=ttl, refresh_token=fresh)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshIn, session: SessionDep, settings: SettingsDep) -> Response:
    await AccountService(session, settings).logout(body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
async def create_api_key(
    body: ApiKeyIn, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> ApiKeyCreated:
    key, secret = await AccountService(session, settings).create_api_key(user.id, body.name)
    return ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(key).model_dump(), "key": secret})


@router.get("/api-keys", response_model=Paginated[ApiKeyOut])
async def list_api_keys(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, page: Annotated[Page, Depends()]
) -> Paginated[ApiKeyOut]:
    keys, total = await AccountService(session, settings).api_keys(user.id, page.limit, page.offset)
    return Paginated[ApiKeyOut](
        items=[ApiKeyOut.model_validate(k) for k in keys], total=total, limit=page.limit, offset=page.offset
    )


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(
    key_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Response:
    await AccountService(session, settings).revoke_api_key(user.id, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
