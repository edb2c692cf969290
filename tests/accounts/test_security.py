"""Password hashes and opaque secrets."""

from __future__ import annotations

from kadr.accounts.security import hash_password, hash_secret, new_secret, verify_password


def test_passwords_are_salted_argon2_hashes() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first.startswith("$argon2id$") and first != second
    assert verify_password(first, "correct horse battery")
    assert not verify_password(first, "correct horse battery!")
    assert not verify_password(None, "anything")
    assert not verify_password("not-a-hash", "anything")


def test_secrets_are_random_and_stored_only_as_hashes() -> None:
    secrets = {new_secret("kadr_") for _ in range(100)}
    assert len(secrets) == 100 and all(s.startswith("kadr_") and len(s) > 40 for s in secrets)
    secret = secrets.pop()
    assert hash_secret(secret) == hash_secret(secret) and secret not in hash_secret(secret)
