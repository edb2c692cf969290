"""Password hashes, access tokens and opaque secrets."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from argon2 import PasswordHasher

from kadr.accounts.security import (
    api_key_display_prefix,
    decode_access_token,
    hash_password,
    hash_secret,
    is_api_key,
    issue_access_token,
    new_api_key,
    new_refresh_token,
    new_secret,
    password_needs_rehash,
    verify_password,
)
from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.errors import TokenExpired, Unauthorized
from kadr.core.signing import sign


def test_passwords_are_salted_argon2_hashes() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first.startswith("$argon2id$") and first != second
    assert verify_password(first, "correct horse battery")
    assert not verify_password(first, "correct horse battery!")
    assert not verify_password(None, "anything")
    assert not verify_password(None, "not-a-real-password")  # the dummy hash's own password
    assert not verify_password("not-a-hash", "anything")
    assert not verify_password("!", "anything")


def test_weaker_hashes_need_a_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("correct horse battery")
    assert verify_password(weak, "correct horse battery")
    assert password_needs_rehash(weak)
    assert not password_needs_rehash(hash_password("correct horse battery"))
    assert not password_needs_rehash("!")


def test_access_tokens_carry_the_expected_claims(settings: Settings) -> None:
    token, ttl = issue_access_token(settings, "usr_1", "fam_1")
    assert ttl == settings.access_token_ttl_seconds
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = decode_access_token(settings, token)
    assert claims["sub"] == "usr_1" and claims["typ"] == "access"
    assert claims["fid"] == "fam_1", "the login it belongs to, so revoking the login stops it"
    assert claims["exp"] - claims["iat"] == ttl
    assert claims["jti"].startswith("jti_")
    again = issue_access_token(settings, "usr_1", "fam_1")[0]
    assert decode_access_token(settings, again)["jti"] != claims["jti"]


def test_expired_access_tokens_are_told_apart(settings: Settings) -> None:
    past = utcnow() - timedelta(seconds=1)
    secret = settings.secret_key.get_secret_value()
    expired = jwt.encode(
        {"sub": "usr_1", "fid": "fam_1", "exp": past, "typ": "access"}, secret, algorithm="HS256"
    )
    with pytest.raises(TokenExpired):
        decode_access_token(settings, expired)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda s, exp: jwt.encode({"sub": "u", "exp": exp, "typ": "access"}, "x" * 40), id="key"
        ),
        pytest.param(
            lambda s, exp: jwt.encode({"exp": exp, "typ": "access"}, s.secret_key.get_secret_value()),
            id="no-sub",
        ),
        pytest.param(
            lambda s, exp: jwt.encode({"sub": "u", "typ": "access"}, s.secret_key.get_secret_value()),
            id="no-exp",
        ),
        pytest.param(
            lambda s, exp: jwt.encode({"sub": "u", "exp": exp}, s.secret_key.get_secret_value()), id="no-typ"
        ),
        pytest.param(lambda s, exp: sign(s, "download", "u", 60), id="other-purpose"),
        pytest.param(
            lambda s, exp: jwt.encode({"sub": "u", "exp": exp, "typ": "access"}, "", algorithm="none"),
            id="alg-none",
        ),
        pytest.param(lambda s, exp: "not.a.jwt", id="garbage"),
        pytest.param(
            # Valid in every other way, but names no login: it could never be revoked.
            lambda s, exp: jwt.encode(
                {"sub": "u", "exp": exp, "typ": "access"}, s.secret_key.get_secret_value()
            ),
            id="no-fid",
        ),
    ],
)
def test_other_tokens_are_refused(settings: Settings, make) -> None:  # type: ignore[no-untyped-def]
    token = make(settings, utcnow() + timedelta(minutes=5))
    with pytest.raises(Unauthorized) as raised:
        decode_access_token(settings, token)
    assert not isinstance(raised.value, TokenExpired)


def test_secrets_are_random_and_stored_only_as_hashes() -> None:
    secrets = {new_secret("kadr_") for _ in range(100)}
    assert len(secrets) == 100 and all(s.startswith("kadr_") and len(s) > 40 for s in secrets)
    secret = secrets.pop()
    digest = hash_secret(secret)
    assert digest == hash_secret(secret) and len(digest) == 64 and secret not in digest


def test_api_keys_and_refresh_tokens_are_told_apart() -> None:
    key, refresh = new_api_key(), new_refresh_token()
    assert is_api_key(key) and not is_api_key(refresh)
    assert api_key_display_prefix(key) == key[:11] and api_key_display_prefix(key).startswith("kadr_")
