"""An SMTP server (aiosmtpd) on 127.0.0.1 that checks what a receiving MTA and a bulk-mail
filter check: the envelope (MAIL FROM among the allowed senders, RCPT TO a known mailbox), AUTH
when required, and the headers Gmail/Yahoo demand of bulk senders (``From``, ``Date``,
``Subject``, ``Message-ID``, ``List-Unsubscribe``). It can answer with transient (421/451) or
permanent (550) replies on demand and counts accepted messages per ``X-Siyu-Key``."""

from __future__ import annotations

import logging
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

REQUIRED_HEADERS = ("From", "Date", "Subject", "Message-ID", "List-Unsubscribe")


class _EphemeralPortController(Controller):
    """aiosmtpd's Controller cannot bind port 0 by itself (it connects to ``self.port`` to
    check the server is up); read the port the OS chose before that check."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    def __init__(
        self,
        allowed_senders: set[str] | None = None,
        unknown_recipients: set[str] | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.allowed_senders = {s.lower() for s in allowed_senders or set()}
        self.unknown_recipients = {r.lower() for r in unknown_recipients or set()}
        self.username, self.password = username, password
        self.lock = threading.Lock()
        self.accepted: list[EmailMessage] = []
        self.by_key: Counter[str] = Counter()
        self.by_message_id: Counter[str] = Counter()
        self.sessions: set[tuple[Any, ...]] = set()  # client (host, port) seen: one per connection
        self.failed_logins = 0
        self.login_sessions: set[tuple[Any, ...]] = set()  # connections that attempted AUTH
        self.rejections: list[str] = []
        #: Injected replies: (stage, reply) with stage one of "MAIL", "RCPT", "DATA".
        self.fail_next: list[tuple[str, str]] = []
        self.host = "127.0.0.1"
        self.port = 0

    def count(self, key: str) -> int:
        with self.lock:
            return self.by_key[key]

    # -- aiosmtpd hooks (run on the server's event-loop thread) -----------------------------

    def _injected(self, stage: str) -> str | None:
        with self.lock:
            if self.fail_next and self.fail_next[0][0] == stage:
                return self.fail_next.pop(0)[1]
        return None

    def _reject(self, reply: str) -> str:
        with self.lock:
            self.rejections.append(reply)
        return reply

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if injected := self._injected("MAIL"):
            return injected
        if self.allowed_senders and address.lower() not in self.allowed_senders:
            return self._reject(f"553 5.7.1 Sender {address} not allowed")
        with self.lock:
            self.sessions.add(tuple(session.peer))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if injected := self._injected("RCPT"):
            return injected
        if "@" not in address:
            return self._reject(f"501 5.1.3 Bad recipient address syntax {address}")
        if address.lower() in self.unknown_recipients:
            return self._reject(f"550 5.1.1 {address}: user unknown")
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if injected := self._injected("DATA"):
            return injected
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        mail = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(mail, EmailMessage)
        missing = [h for h in REQUIRED_HEADERS if not mail.get(h)]
        if missing:
            return self._reject(f"550 5.7.1 Missing required headers: {', '.join(missing)}")
        if parseaddr(str(mail["From"]))[1].lower() != str(envelope.mail_from).lower():
            return self._reject("550 5.7.1 From header does not match the envelope sender")
        to = parseaddr(str(mail["To"]))[1].lower()
        if to not in {r.lower() for r in envelope.rcpt_tos}:
            return self._reject("550 5.7.1 To header does not match the envelope recipients")
        with self.lock:
            self.accepted.append(mail)
            self.by_key[str(mail.get("X-Siyu-Key", ""))] += 1
            self.by_message_id[str(mail["Message-ID"])] += 1
        return "250 2.0.0 Message accepted for delivery"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        with self.lock:
            self.login_sessions.add(tuple(session.peer))
            self.failed_logins += 0 if ok else 1
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    @contextmanager
    def running(self) -> Iterator[tuple[str, int]]:
        """Serve on 127.0.0.1 (a free port) until the block ends; yields ``(host, port)``."""
        auth: dict[str, Any] = {}
        if self.password is not None:
            auth = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
        controller = _EphemeralPortController(self, hostname=self.host, port=0, **auth)
        # Plain-text AUTH is fine on loopback; keep aiosmtpd's warnings about it (and about its
        # own deprecated Session.login_data) out of the test report.
        log = logging.getLogger("mail.log")
        level = log.level
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"aiosmtpd\..*")
            log.setLevel(logging.ERROR)
            controller.start()
            self.port = controller.port
            try:
                yield self.host, self.port
            finally:
                controller.stop()
                log.setLevel(level)
