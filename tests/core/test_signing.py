"""Signed links: valid for their purpose and subject only, until they expire."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from kadr.config import Settings
from kadr.core.errors import Forbidden, TokenExpired
from kadr.core.signing import sign, verify


def test_a_signed_link_verifies_for_its_purpose_and_subject(settings: Settings) -> None:
    token = sign(settings, "download", "art_1", 60)
    assert verify(settings, "download", token, "art_1")["sub"] == "art_1"
    with pytest.raises(Forbidden):
        verify(settings, "upload", token, "art_1")
    with pytest.raises(Forbidden):
        verify(settings, "download", token, "art_2")
    with pytest.raises(Forbidden):
        verify(settings, "download", token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "art_1")
    other = settings.model_copy(update={"secret_key": SecretStr("another-secret-0123456789abcdef0123456789")})
    with pytest.raises(Forbidden):
        verify(other, "download", token, "art_1")


def test_an_expired_link_says_so(settings: Settings) -> None:
    token = sign(settings, "download", "art_1", -1)
    with pytest.raises(TokenExpired):
        verify(settings, "download", token, "art_1")
