"""Email over SMTP (stdlib ``smtplib``), with the headers bulk senders must carry today.

What each message carries and why:

* ``Message-ID: <{sha256(key)[:32]}@{from domain}>`` — derived from the outbox key, so a resend
  after a crash carries the same id and receivers that de-duplicate on Message-ID (RFC 5322
  §3.6.4 makes it the message's identity) show it once;
* ``X-Siyu-Key`` — the key in clear, for support and for bounce processing;
* ``List-Unsubscribe`` (RFC 2369) with a ``mailto:`` and/or an ``https:`` URI, and
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058) when there is an https URI —
  Gmail and Yahoo require one-click unsubscribe from bulk senders since February 2024. The https
  URI carries an HMAC token (:func:`unsubscribe_token`) so the ``/u/{token}`` endpoint can revoke
  email consent without a login and without trusting a bare contact id.

SMTP has no query API, so :meth:`SmtpAdapter.lookup` returns None. Exactly-once for email rests
on the deterministic Message-ID: the only window for a duplicate is between the server's ``250``
to ``DATA`` and our commit of the result, and a duplicate from that window has the same
Message-ID. Reply codes follow RFC 5321 §4.2.1: 4yz is transient (retry), 5yz permanent (failed),
for the whole transaction and for each refused recipient.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import smtplib
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from html import unescape
from typing import Any, ClassVar

from siyu.channels.base import OutboundMessage, Receipt, SendResult

_TOKEN_CONTEXT = b"siyu-unsubscribe-v1:"


def message_id_for(key: str, from_address: str) -> str:
    """The Message-ID of the email sent under idempotency ``key``."""
    domain = from_address.rpartition("@")[2] or "localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def html_to_text(html: str) -> str:
    """A readable plain-text rendering of ``html``: block ends become line breaks, links keep
    their URL (``text (url)``), scripts and styles are dropped, entities decoded."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", "", html)
    text = re.sub(r'(?is)<a\b[^>]*?href\s*=\s*["\']([^"\']+)["\'][^>]*>(.*?)</a\s*>', r"\2 (\1)", text)
    text = re.sub(r"(?i)<br\s*/?>|</(p|div|h[1-6]|li|tr)\s*>", "\n", text)
    text = unescape(re.sub(r"<[^>]+>", "", text))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _token_mac(body: str, secret: bytes) -> str:
    return _b64(hmac.new(secret, _TOKEN_CONTEXT + body.encode(), hashlib.sha256).digest()[:16])


def unsubscribe_token(key: str, contact_id: int, secret: bytes) -> str:
    """A URL-safe token naming ``contact_id``, different for each message (it includes a hash
    of ``key``) and unforgeable without ``secret`` (128-bit HMAC-SHA256 tag)."""
    body = f"{int(contact_id)}.{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    return f"{body}.{_token_mac(body, secret)}"


def verify_unsubscribe_token(token: str, secret: bytes) -> int | None:
    """The contact id in ``token`` if its tag is valid for ``secret``, else None."""
    contact, sep, rest = token.partition(".")
    key_hash, sep2, tag = rest.partition(".")
    if not (sep and sep2 and contact.isdigit() and key_hash and tag):
        return None
    body = f"{contact}.{key_hash}"
    if not hmac.compare_digest(_token_mac(body, secret).encode(), tag.encode()):
        return None
    return int(contact)


class SmtpAdapter:
    """Sends ``email`` messages. Content: ``{"subject": str, "text": str, "html"?: str|None,
    "reply_to"?: str}`` (``text`` is derived from ``html`` when only html is given); the
    recipient's ``email`` is required."""

    kind = "smtp"
    messages_per_call = 1  # one SMTP transaction each, over a kept connection
    CONFIG_FIELDS: ClassVar[dict[str, str]] = {
        "host": "required: SMTP server host name",
        "port": "SMTP port (default 465 with ssl, else 587 with starttls, else 25)",
        "from_address": "required: the From address (its domain also names the Message-ID)",
        "from_name": "display name in From",
        "starttls": "upgrade the connection with STARTTLS (bool, default false)",
        "ssl": "connect with implicit TLS, SMTPS (bool, default false)",
        "unsubscribe_url": "one-click unsubscribe URL template containing {token}",
        "unsubscribe_mailto": "address for mailto: unsubscribe requests",
        "timeout_s": "socket timeout in seconds (default 30)",
    }
    SECRET_FIELDS: ClassVar[dict[str, str]] = {
        "username": "SMTP AUTH user (defaults to from_address when only a password is set)",
        "password": "SMTP AUTH password; AUTH is used only when it is set",
        "unsubscribe_secret": "HMAC key for unsubscribe tokens (needed when unsubscribe_url is set)",
    }

    def __init__(self, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        for name in ("host", "from_address"):
            if not config.get(name):
                raise ValueError(f"smtp config: {name} is required")
        self.host: str = str(config["host"])
        self.use_ssl = bool(config.get("ssl", False))
        self.starttls = bool(config.get("starttls", False))
        default_port = 465 if self.use_ssl else 587 if self.starttls else 25
        self.port = int(config.get("port") or default_port)
        self.from_address: str = str(config["from_address"])
        self.from_name: str | None = config.get("from_name")
        self.unsubscribe_url: str | None = config.get("unsubscribe_url")
        self.unsubscribe_mailto: str | None = config.get("unsubscribe_mailto")
        self.timeout_s = float(config.get("timeout_s", 30.0))
        self.password: str | None = secrets.get("password")
        self.username: str = secrets.get("username") or self.from_address
        secret = secrets.get("unsubscribe_secret")
        self.unsubscribe_secret: bytes | None = secret.encode() if isinstance(secret, str) else secret
        if self.unsubscribe_url:
            if "{token}" not in self.unsubscribe_url or not self.unsubscribe_url.startswith("https://"):
                raise ValueError("smtp config: unsubscribe_url must be an https:// URL containing {token}")
            if not self.unsubscribe_secret:
                raise ValueError("smtp secrets: unsubscribe_secret is required with unsubscribe_url")
        self._conn: smtplib.SMTP | None = None

    # -- building ---------------------------------------------------------------------------

    def build(self, message: OutboundMessage, now: datetime | None = None) -> EmailMessage:
        """The MIME message for ``message``; raises ValueError naming the bad field."""
        content, recipient = message.content, message.recipient
        if not recipient.email or "@" not in recipient.email:
            raise ValueError("recipient.email missing or invalid")
        subject, text, html = content.get("subject"), content.get("text"), content.get("html")
        if not isinstance(subject, str) or not subject.strip():
            raise ValueError("content.subject must be a non-empty string")
        if html is not None and not isinstance(html, str):
            raise ValueError("content.html must be a string or null")
        if not text and html:  # spam filters distrust HTML without a text alternative: derive one
            text = html_to_text(html)
        if not isinstance(text, str) or not text.strip():
            raise ValueError("content.text must be a non-empty string (or give content.html)")
        mail = EmailMessage()
        try:
            mail["Subject"] = subject
            mail["From"] = (
                formataddr((self.from_name, self.from_address)) if self.from_name else self.from_address
            )
            mail["To"] = formataddr((recipient.name, recipient.email)) if recipient.name else recipient.email
            if content.get("reply_to"):
                mail["Reply-To"] = str(content["reply_to"])
        except ValueError as exc:  # a CR/LF in a header value would allow header injection
            raise ValueError(f"content: invalid header value ({exc})") from exc
        mail["Date"] = format_datetime(now or datetime.now(UTC))
        mail["Message-ID"] = message_id_for(message.key, self.from_address)
        mail["X-Siyu-Key"] = message.key
        self._add_unsubscribe(mail, message)
        mail.set_content(text)
        if html:
            mail.add_alternative(html, subtype="html")
        return mail

    def _add_unsubscribe(self, mail: EmailMessage, message: OutboundMessage) -> None:
        uris: list[str] = []
        if self.unsubscribe_mailto:
            uris.append(f"<mailto:{self.unsubscribe_mailto}?subject=unsubscribe>")
        if self.unsubscribe_url and self.unsubscribe_secret:
            token = unsubscribe_token(message.key, message.recipient.contact_id, self.unsubscribe_secret)
            uris.append(f"<{self.unsubscribe_url.format(token=token)}>")
        if uris:
            mail["List-Unsubscribe"] = ", ".join(uris)
        if self.unsubscribe_url:
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"

    # -- sending ----------------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        """One authenticated connection, reused for the rest of the batch."""
        if self._conn is not None and self._conn.sock is not None:
            return self._conn
        context = ssl.create_default_context()
        conn: smtplib.SMTP
        if self.use_ssl:
            conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        try:
            conn.ehlo()
            if self.starttls:
                conn.starttls(context=context)
                conn.ehlo()
            if self.password:
                conn.login(self.username, self.password)
        except BaseException:
            _quietly_close(conn)
            raise
        self._conn = conn
        return conn

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult] = []
        connection_error: SendResult | None = None
        for message in messages:
            try:
                mail = self.build(message)
            except ValueError as exc:
                results.append(SendResult("failed", error=f"invalid content: {exc}"))
                continue
            if connection_error is not None:  # the server refused us: do not hammer it per message
                results.append(connection_error)
                continue
            try:
                conn = self._connect()
            except smtplib.SMTPResponseException as exc:  # greeting, STARTTLS or AUTH refused
                what = "authentication failed" if exc.smtp_code in (454, 530, 534, 535) else "refused"
                connection_error = _from_code(
                    exc.smtp_code, f"{what}: {exc.smtp_code} {_text(exc.smtp_error)}"
                )
                results.append(connection_error)
                continue
            except smtplib.SMTPNotSupportedError as exc:  # e.g. AUTH or STARTTLS not offered: config
                connection_error = SendResult("failed", error=f"server lacks a required extension: {exc}")
                results.append(connection_error)
                continue
            except (OSError, smtplib.SMTPException) as exc:
                connection_error = SendResult("retry", error=f"cannot connect: {exc}")
                results.append(connection_error)
                continue
            results.append(self._transmit(conn, mail, message))
        return results

    def _transmit(self, conn: smtplib.SMTP, mail: EmailMessage, message: OutboundMessage) -> SendResult:
        message_id = str(mail["Message-ID"])
        assert message.recipient.email is not None
        try:
            refused = conn.send_message(mail, from_addr=self.from_address, to_addrs=[message.recipient.email])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            return _from_code(code, f"recipient refused: {code} {_text(reply)}")
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, 421 …
            return _from_code(exc.smtp_code, f"{exc.smtp_code} {_text(exc.smtp_error)}")
        except (OSError, smtplib.SMTPException) as exc:  # dropped connection: the next send reconnects
            _quietly_close(conn)
            return SendResult("retry", error=f"connection lost: {exc}")
        if refused:  # only one recipient per message, so this is defensive
            code, reply = next(iter(refused.values()))
            return _from_code(code, f"recipient refused: {code} {_text(reply)}")
        return SendResult("sent", provider_message_id=message_id)

    def lookup(self, message: OutboundMessage, since: datetime) -> SendResult | None:
        """SMTP cannot be asked what it accepted; see the module docstring for why a resend is
        still shown once."""
        return None

    def receipts(self, since: datetime) -> list[Receipt]:
        """Bounces come back as DSN emails to the envelope sender, not through a polling API."""
        return []

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (OSError, smtplib.SMTPException):
                _quietly_close(self._conn)
            self._conn = None


def _from_code(code: int, error: str) -> SendResult:
    """RFC 5321: 4yz transient, 5yz permanent (anything else is unexpected: treat as transient)."""
    status = "failed" if 500 <= code < 600 else "retry"
    return SendResult(status, error=error, detail={"smtp_code": code})


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _quietly_close(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):
        conn.close()
