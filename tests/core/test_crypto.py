"""Secrets at rest: round trip, key separation, nothing readable in the ciphertext."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from kadr.config import Settings
from kadr.core.crypto import SecretBox, SecretDecryptionError, secret_box


def test_round_trip(settings: Settings) -> None:
    box = secret_box(settings)
    data = {"bot_token": "123456:ABC-secret", "chat_id": -1001234567890, "nested": {"ü": [1, 2]}}
    token = box.encrypt(data)
    assert isinstance(token, str)
    assert box.decrypt(token) == data


def test_the_ciphertext_does_not_contain_the_plaintext(settings: Settings) -> None:
    token = secret_box(settings).encrypt({"refresh_token": "1//very-secret-refresh-token"})
    assert "very-secret" not in token
    assert "refresh_token" not in token
    assert settings.secret_key.get_secret_value() not in token


def test_a_token_from_another_key_fails_clearly(settings: Settings) -> None:
    token = secret_box(settings).encrypt({"a": 1})
    other = settings.model_copy(update={"secret_key": SecretStr("another-secret-0123456789abcdef0123456789")})
    with pytest.raises(SecretDecryptionError, match="KADR_SECRET_KEY"):
        secret_box(other).decrypt(token)
    with pytest.raises(SecretDecryptionError):
        secret_box(settings).decrypt("not-a-token")
    with pytest.raises(SecretDecryptionError):
        secret_box(settings).decrypt(token[:-4] + "AAAA")


def test_the_box_is_cached_per_key_and_the_key_is_derived(settings: Settings) -> None:
    assert secret_box(settings) is secret_box(settings)
    key = settings.secret_key.get_secret_value()
    # The same secret always gives the same key (tokens survive restarts)...
    assert SecretBox(key).decrypt(secret_box(settings).encrypt({"x": "y"})) == {"x": "y"}
    # ...and the raw secret is not the Fernet key.
    assert key.encode() not in SecretBox(key)._fernet._signing_key + SecretBox(key)._fernet._encryption_key


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="KADR_SECRET_KEY"):
        SecretBox("")
