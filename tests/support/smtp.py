"""A real SMTP server for tests (aiosmtpd on a local port) that keeps what it receives.

    with FakeSmtp() as smtp:
        await send_email(smtp.config(), "ann@example.com", "Hi", "Body")
        message = smtp.wait_for_messages(1)[0]      # email.message.EmailMessage
        smtp.reject("bob@example.com")              # RCPT TO answers 550 from now on

Plain SMTP without TLS or AUTH, so `smtp.config()` sets `starttls=False`.
"""

from __future__ import annotations

import threading
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from kadr.providers.smtp import SmtpConfig
from tests.support.process import free_port, wait_for_items


class _Handler:
    def __init__(self, owner: FakeSmtp) -> None:
        self.owner = owner

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        with self.owner._lock:
            rejected = address.lower() in self.owner._rejected or self.owner._reject_all
        if rejected:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.owner._lock:
            if self.owner._temporary_failures > 0:
                self.owner._temporary_failures -= 1
                return "451 4.3.0 Temporary local problem, try again later"
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8")
        message = BytesParser(policy=policy.default).parsebytes(content)
        assert isinstance(message, EmailMessage)
        with self.owner._lock:
            self.owner._messages.append(message)
            self.owner._envelopes.append(
                {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos), "time": time.time()}
            )
        return "250 Message accepted for delivery"


class FakeSmtp:
    """Context manager: a real aiosmtpd server on 127.0.0.1 while inside `with`."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []
        self._envelopes: list[dict[str, Any]] = []
        self._rejected: set[str] = set()
        self._reject_all = False
        self._temporary_failures = 0
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)

    def __enter__(self) -> FakeSmtp:
        self._controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._controller.stop()

    def config(self, **overrides: Any) -> SmtpConfig:
        """An SmtpConfig that reaches this server."""
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "starttls": False,
            "sender": "kadr <kadr@example.com>",
            "timeout_seconds": 10.0,
        }
        values.update(overrides)
        return SmtpConfig(**values)

    def reject(self, *addresses: str) -> None:
        """RCPT TO for these addresses (or every address, when none are given) answers 550."""
        with self._lock:
            if addresses:
                self._rejected.update(address.lower() for address in addresses)
            else:
                self._reject_all = True

    def fail_next(self, n: int = 1) -> None:
        """The next `n` messages are answered 451 (try again later) at DATA."""
        with self._lock:
            self._temporary_failures = n

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def envelopes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(envelope) for envelope in self._envelopes]

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        return wait_for_items(lambda: self.messages, count, timeout, "emails")
