"""Tests here reach the provider stand-ins (Google, Telegram, SMTP) through `settings`."""

from tests.support.publishing import publishing_settings_fixture  # noqa: F401
