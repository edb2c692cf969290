"""Email over SMTP (aiosmtplib): the only module that talks to a mail server.

Failures are classified for the notify job: `EmailTransientError` (cannot connect, timeouts, 4xx
replies) is retried later; `EmailPermanentError` (5xx replies, refused recipients, a server without the
STARTTLS or AUTH the configuration asks for) is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid

import aiosmtplib


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = True  # require STARTTLS (upgrade a plain connection); fail if the server lacks it
    use_tls: bool = False  # implicit TLS from the first byte (usually port 465)
    sender: str = "kadr <kadr@localhost>"
    timeout_seconds: float = 30.0


class EmailTransientError(Exception):
    """The mail server could not be reached or asked to try later (4xx): retry."""


class EmailPermanentError(Exception):
    """The mail server refused the message (5xx, recipient refused) or the configuration is wrong."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _sender_domain(sender: str) -> str:
    addresses = getaddresses([sender])
    address = addresses[0][1] if addresses else ""
    return address.rpartition("@")[2] or "localhost"


def build_message(
    config: SmtpConfig, to: str, subject: str, text: str, html: str | None = None
) -> EmailMessage:
    message = EmailMessage()
    try:
        message["From"] = config.sender
        message["To"] = to
        message["Subject"] = _one_line(subject)
    except (ValueError, IndexError) as exc:
        raise EmailPermanentError(f"cannot build the email: {exc}") from None
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=_sender_domain(config.sender))
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def _classify_code(code: int, text: str) -> Exception:
    if 400 <= code < 500:
        return EmailTransientError(text)
    return EmailPermanentError(text)


async def send_email(config: SmtpConfig, to: str, subject: str, text: str, html: str | None = None) -> str:
    """Send one email to `to`; the Message-ID of what was sent."""
    message = build_message(config, to, subject, text, html)
    where = f"{config.host}:{config.port}"
    try:
        await aiosmtplib.send(
            message,
            hostname=config.host,
            port=config.port,
            username=config.username or None,
            password=config.password or None,
            use_tls=config.use_tls,
            start_tls=False if config.use_tls else config.starttls,
            timeout=config.timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [refused.code for refused in exc.recipients]
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        text_ = f"the mail server at {where} refused the recipient ({detail})"
        if codes and all(400 <= code < 500 for code in codes):
            raise EmailTransientError(text_) from None
        raise EmailPermanentError(text_) from None
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise EmailPermanentError(
            f"the mail server at {where} refused the login ({exc.code} {exc.message}); "
            "check the SMTP user name and password"
        ) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise _classify_code(
            exc.code, f"the mail server at {where} answered {exc.code} {exc.message}"
        ) from None
    except aiosmtplib.SMTPNotSupported as exc:
        raise EmailPermanentError(f"the mail server at {where} does not support it: {exc}") from None
    except (
        aiosmtplib.SMTPConnectError,
        aiosmtplib.SMTPTimeoutError,
        aiosmtplib.SMTPServerDisconnected,
    ) as exc:
        raise EmailTransientError(f"cannot talk to the mail server at {where}: {exc}") from None
    except aiosmtplib.SMTPException as exc:
        if "STARTTLS" in str(exc).upper():  # aiosmtplib raises a bare SMTPException for it
            raise EmailPermanentError(
                f"the mail server at {where} does not offer STARTTLS ({exc}); set starttls off "
                "for a server without TLS, or use_tls for implicit TLS"
            ) from None
        raise EmailTransientError(f"sending through {where} failed: {exc}") from None
    except OSError as exc:
        raise EmailTransientError(f"cannot connect to the mail server at {where}: {exc}") from None
    return str(message["Message-ID"])


__all__ = [
    "EmailPermanentError",
    "EmailTransientError",
    "SmtpConfig",
    "build_message",
    "send_email",
]
