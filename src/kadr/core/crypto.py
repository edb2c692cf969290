"""Encryption of secrets at rest (channel tokens, OAuth refresh tokens, webhook secrets).

The Fernet key is derived from `KADR_SECRET_KEY` with HKDF-SHA256, so the raw app secret is never
used as a key directly and the derived key is bound to this one purpose.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kadr.config import Settings

_HKDF_INFO = b"kadr secrets v1"
_HKDF_SALT = b"kadr/secret-box/salt/v1"


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted with the current key."""


def _derive_fernet_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode("utf-8")))


class SecretBox:
    """Encrypts JSON-able dicts into opaque tokens and back."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("KADR_SECRET_KEY is empty: set a long random value to encrypt secrets")
        self._fernet = Fernet(_derive_fernet_key(secret_key))

    def encrypt(self, data: dict[str, Any]) -> str:
        plaintext = json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return self._fernet.encrypt(plaintext).decode("ascii")

    def decrypt(self, token: str) -> dict[str, Any]:
        try:
            plaintext = self._fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError, ValueError):
            raise SecretDecryptionError(
                "a stored secret cannot be decrypted: it was encrypted with another KADR_SECRET_KEY "
                "(was the key changed?). Restore the previous KADR_SECRET_KEY, or reconnect the channel "
                "so its credentials are stored again with the current key."
            ) from None
        try:
            data = json.loads(plaintext)
        except ValueError:
            raise SecretDecryptionError("a stored secret decrypted to something that is not JSON") from None
        if not isinstance(data, dict):
            raise SecretDecryptionError("a stored secret decrypted to JSON that is not an object")
        return data


@lru_cache(maxsize=8)
def _box_for(secret_key: str) -> SecretBox:
    return SecretBox(secret_key)


def secret_box(settings: Settings) -> SecretBox:
    """The SecretBox for these settings' key (cached per key)."""
    return _box_for(settings.secret_key.get_secret_value())
