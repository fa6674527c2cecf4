"""SMTP email against a local aiosmtpd server that checks the envelope, AUTH and bulk-sender
headers, and can answer 4xx/5xx on demand."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from tests.emulators.smtp import SmtpServer

from siyu.channels.base import OutboundMessage, Recipient
from siyu.channels.email import SmtpAdapter, message_id_for, unsubscribe_token, verify_unsubscribe_token

FROM = "news@brand.example"
SECRET = b"unsubscribe-secret-for-tests"


def mail(
    key: str = "j1:7:1:0", email: str = "li.lei@example.cn", contact_id: int = 7, **content: Any
) -> OutboundMessage:
    body: dict[str, Any] = {
        "subject": "会员日 · 双倍积分",
        "text": "本周六双倍积分。",
        "html": "<p>本周六<b>双倍积分</b></p>",
    }
    return OutboundMessage(key, "email", Recipient(contact_id, email=email, name="李雷"), body | content)


def adapter(host: str, port: int, **secrets: Any) -> SmtpAdapter:
    config = {
        "host": host,
        "port": port,
        "from_address": FROM,
        "from_name": "品牌会员中心",
        "unsubscribe_url": "https://brand.example/u/{token}",
        "unsubscribe_mailto": "unsubscribe@brand.example",
        "timeout_s": 5,
    }
    return SmtpAdapter(config, {"unsubscribe_secret": SECRET.decode()} | secrets)


@pytest.fixture
def server() -> Iterator[tuple[SmtpServer, str, int]]:
    emu = SmtpServer(allowed_senders={FROM}, unknown_recipients={"nobody@example.cn"})
    with emu.running() as (host, port):
        yield emu, host, port


@pytest.fixture
def auth_server() -> Iterator[tuple[SmtpServer, str, int]]:
    emu = SmtpServer(allowed_senders={FROM}, username="relay-user", password="relay-pass")
    with emu.running() as (host, port):
        yield emu, host, port


def test_html_and_text_with_bulk_sender_headers(server: tuple[SmtpServer, str, int]) -> None:
    emu, host, port = server
    smtp = adapter(host, port)
    [result] = smtp.send([mail(reply_to="service@brand.example")])
    smtp.close()
    assert result.status == "sent", result.error
    assert emu.count("j1:7:1:0") == 1
    [received] = emu.accepted
    assert received.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p.get_content() for p in received.iter_parts()}
    assert parts["text/plain"].strip() == "本周六双倍积分。"
    assert "<b>双倍积分</b>" in parts["text/html"]
    assert str(received["Subject"]) == "会员日 · 双倍积分"
    assert str(received["From"]) == f"品牌会员中心 <{FROM}>"
    assert str(received["Reply-To"]) == "service@brand.example"
    assert received["X-Siyu-Key"] == "j1:7:1:0"
    # RFC 2369 + RFC 8058 one-click unsubscribe, with a token that names this contact
    unsubscribe = str(received["List-Unsubscribe"])
    assert "<mailto:unsubscribe@brand.example?subject=unsubscribe>" in unsubscribe
    url = re.search(r"<(https://brand\.example/u/([^>]+))>", unsubscribe)
    assert url is not None
    assert verify_unsubscribe_token(url.group(2), SECRET) == 7
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert result.provider_message_id == received["Message-ID"]


def test_text_only_mail_is_a_single_text_part(server: tuple[SmtpServer, str, int]) -> None:
    emu, host, port = server
    [result] = adapter(host, port).send([mail(html=None)])
    assert result.status == "sent"
    assert emu.accepted[0].get_content_type() == "text/plain"


def test_html_only_mail_gets_a_derived_text_alternative(server: tuple[SmtpServer, str, int]) -> None:
    emu, host, port = server
    html = '<h1>会员日</h1><p>双倍<b>积分</b>&amp;好礼</p><p><a href="https://b.example/c/1">领券</a></p>'
    [result] = adapter(host, port).send([mail(text=None, html=html)])
    assert result.status == "sent"
    parts = {p.get_content_type(): p.get_content() for p in emu.accepted[0].iter_parts()}
    text = parts["text/plain"].replace("\r\n", "\n").strip()  # SMTP carries CRLF line ends
    assert text == "会员日\n双倍积分&好礼\n领券 (https://b.example/c/1)"
    assert parts["text/html"].strip() == html


def test_message_id_is_derived_from_the_key() -> None:
    smtp = SmtpAdapter({"host": "localhost", "from_address": FROM}, {})
    first, again, other = smtp.build(mail()), smtp.build(mail()), smtp.build(mail(key="j1:8:1:0"))
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]
    assert re.fullmatch(r"<[0-9a-f]{32}@brand\.example>", str(first["Message-ID"]))
    assert first["Message-ID"] == message_id_for("j1:7:1:0", FROM)
    # without unsubscribe settings there is no List-Unsubscribe-Post to lie about
    assert first["List-Unsubscribe-Post"] is None


def test_one_connection_serves_the_whole_batch(server: tuple[SmtpServer, str, int]) -> None:
    emu, host, port = server
    smtp = adapter(host, port)
    results = smtp.send([mail(key=f"j1:{i}:1:0", contact_id=i) for i in range(4)])
    smtp.close()
    assert [r.status for r in results] == ["sent"] * 4
    assert len(emu.sessions) == 1 and len(emu.accepted) == 4


def test_auth_with_the_right_password_sends(auth_server: tuple[SmtpServer, str, int]) -> None:
    emu, host, port = auth_server
    [result] = adapter(host, port, username="relay-user", password="relay-pass").send([mail()])
    assert result.status == "sent" and emu.count("j1:7:1:0") == 1


def test_wrong_password_fails_the_batch_without_retrying_each(
    auth_server: tuple[SmtpServer, str, int],
) -> None:
    emu, host, port = auth_server
    results = adapter(host, port, username="relay-user", password="guess").send([mail(), mail(key="k2")])
    assert [r.status for r in results] == ["failed", "failed"]
    assert "authentication failed" in (results[0].error or "") and results[0].detail["smtp_code"] == 535
    # one connection tried to log in (smtplib tries each offered mechanism on it), then gave up
    assert len(emu.login_sessions) == 1 and emu.failed_logins >= 1 and not emu.accepted


def test_server_requiring_auth_refuses_an_unauthenticated_sender(
    auth_server: tuple[SmtpServer, str, int],
) -> None:
    emu, host, port = auth_server
    [result] = adapter(host, port).send([mail()])
    assert result.status == "failed" and result.detail["smtp_code"] == 530
    assert not emu.accepted


def test_451_asks_for_a_retry_which_then_succeeds(server: tuple[SmtpServer, str, int]) -> None:
    emu, host, port = server
    emu.fail_next = [("DATA", "451 4.3.0 Temporary local problem, try again")]
    smtp = adapter(host, port)
    [first] = smtp.send([mail()])
    assert first.status == "retry" and first.detail["smtp_code"] == 451
    [second] = smtp.send([mail()])
    assert second.status == "sent"
    assert emu.count("j1:7:1:0") == 1


def test_421_closes_the_connection_and_the_next_message_reconnects(
    server: tuple[SmtpServer, str, int],
) -> None:
    emu, host, port = server
    emu.fail_next = [("MAIL", "421 4.7.0 Too many connections, closing")]
    results = adapter(host, port).send([mail(), mail(key="j1:8:1:0", contact_id=8)])
    assert [r.status for r in results] == ["retry", "sent"]
    assert len(emu.sessions) == 1  # the 421'd session never reached an accepted MAIL
    assert emu.count("j1:8:1:0") == 1


def test_550_fails_only_that_recipient(server: tuple[SmtpServer, str, int]) -> None:
    emu, host, port = server
    results = adapter(host, port).send([mail(email="nobody@example.cn"), mail(key="j1:8:1:0", contact_id=8)])
    assert [r.status for r in results] == ["failed", "sent"]
    assert results[0].detail["smtp_code"] == 550 and "nobody@example.cn" in emu.rejections[0]
    assert emu.count("j1:7:1:0") == 0 and emu.count("j1:8:1:0") == 1


def test_invalid_content_names_the_field(server: tuple[SmtpServer, str, int]) -> None:
    emu, host, port = server
    results = adapter(host, port).send(
        [
            mail(subject=""),
            mail(text=None, html=None),
            mail(email=""),
            mail(subject="hi\r\nBcc: victim@example.cn"),
        ]
    )
    assert [r.status for r in results] == ["failed"] * 4
    assert "content.subject" in (results[0].error or "")
    assert "content.text" in (results[1].error or "")
    assert "recipient.email" in (results[2].error or "")
    assert "header" in (results[3].error or "")
    assert not emu.accepted


def test_unreachable_server_is_a_retry() -> None:
    smtp = SmtpAdapter({"host": "127.0.0.1", "port": 9, "from_address": FROM, "timeout_s": 1}, {})
    results = smtp.send([mail(), mail(key="k2")])
    assert [r.status for r in results] == ["retry", "retry"]
    assert smtp.lookup(mail(), since=datetime(2024, 1, 1)) is None


def test_unsubscribe_token_round_trip_and_tampering() -> None:
    token = unsubscribe_token("j1:7:1:0", 7, SECRET)
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", token)  # safe in a URL path as is
    assert verify_unsubscribe_token(token, SECRET) == 7
    assert unsubscribe_token("j1:7:2:0", 7, SECRET) != token  # each message its own token
    contact, key_hash, tag = token.split(".")
    assert verify_unsubscribe_token(f"8.{key_hash}.{tag}", SECRET) is None  # someone else's id
    assert verify_unsubscribe_token(f"{contact}.{key_hash}.{tag[:-1]}A", SECRET) is None
    assert verify_unsubscribe_token(token, b"another-secret") is None
    assert verify_unsubscribe_token("7", SECRET) is None
    assert verify_unsubscribe_token("", SECRET) is None


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="from_address"):
        SmtpAdapter({"host": "smtp.example.cn"}, {})
    with pytest.raises(ValueError, match="unsubscribe_secret"):
        SmtpAdapter({"host": "h", "from_address": FROM, "unsubscribe_url": "https://b.example/u/{token}"}, {})
    with pytest.raises(ValueError, match="token"):
        SmtpAdapter(
            {"host": "h", "from_address": FROM, "unsubscribe_url": "https://b.example/u"},
            {"unsubscribe_secret": "s"},
        )
