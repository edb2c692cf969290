"""Email over SMTP against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kadr.providers.smtp import EmailPermanentError, EmailTransientError, SmtpConfig, send_email
from tests.support.process import free_port
from tests.support.smtp import FakeSmtp

pytestmark = pytest.mark.anyio


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as server:
        yield server


async def test_an_email_arrives_with_its_headers_and_body(smtp: FakeSmtp) -> None:
    message_id = await send_email(
        smtp.config(), "ann@example.com", "Your clip\nis published", "It is live.", html="<p>It is live.</p>"
    )
    [message] = smtp.wait_for_messages(1)
    assert message["Subject"] == "Your clip is published"  # no header injection through new lines
    assert message["To"] == "ann@example.com"
    assert message["From"] == "kadr <kadr@example.com>"
    assert message["Message-ID"] == message_id and message_id.endswith("@example.com>")
    assert message["Date"]
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and plain.get_content().strip() == "It is live."
    assert html is not None and "<p>It is live.</p>" in html.get_content()
    assert smtp.envelopes[0]["rcpt_tos"] == ["ann@example.com"]


async def test_a_refused_recipient_is_permanent(smtp: FakeSmtp) -> None:
    smtp.reject("nobody@example.com")
    with pytest.raises(EmailPermanentError, match="550"):
        await send_email(smtp.config(), "nobody@example.com", "Hi", "Body")
    assert smtp.messages == []


async def test_a_4xx_answer_is_transient(smtp: FakeSmtp) -> None:
    smtp.fail_next(1)
    with pytest.raises(EmailTransientError, match="451"):
        await send_email(smtp.config(), "ann@example.com", "Hi", "Body")
    await send_email(smtp.config(), "ann@example.com", "Hi", "Body")
    assert len(smtp.wait_for_messages(1)) == 1


async def test_a_refused_connection_is_transient() -> None:
    config = SmtpConfig(host="127.0.0.1", port=free_port(), starttls=False, timeout_seconds=5)
    with pytest.raises(EmailTransientError):
        await send_email(config, "ann@example.com", "Hi", "Body")


async def test_requiring_starttls_from_a_server_without_it_is_permanent(smtp: FakeSmtp) -> None:
    with pytest.raises(EmailPermanentError, match=r"(?i)starttls"):
        await send_email(smtp.config(starttls=True), "ann@example.com", "Hi", "Body")


def test_the_password_is_not_in_the_config_repr() -> None:
    assert "hunter2" not in repr(SmtpConfig(host="mail", username="u", password="hunter2"))
