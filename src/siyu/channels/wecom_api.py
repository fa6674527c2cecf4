"""The WeCom (企业微信) server-API client under the adapter: access-token cache, errcode handling,
and the message bodies of the customer-contact send APIs with the limits WeCom documents.

Facts relied on (developer.work.weixin.qq.com/document/path/…):

* 91039 gettoken: ``GET /cgi-bin/gettoken?corpid=&corpsecret=`` → ``access_token``,
  ``expires_in`` (7200 s); every other call carries ``?access_token=``.
* 90313 global error codes: 40001/40091 bad secret, 40013 bad corpid, 40014 invalid token,
  42001 expired token, 45009 call frequency over the limit, 45033 too many concurrent calls,
  -1 system busy, 41063 "群发消息正在被派发中，请稍后再试" (a list right after a create).
* 92135 add_msg_template: ``text.content`` ≤ 4000 bytes, ≤ 9 attachments (image ``media_id`` or
  ``pic_url``; link ``title``+``url``; miniprogram ``title``+``pic_media_id``+``appid``+``page``;
  video/file ``media_id``), text and attachments not both empty, ≤ 10,000 ``external_userid``.
* 92137 send_welcome_msg: the same body plus ``welcome_code`` (valid 20 s, usable once).
* 95094 add_moment_task: ``text.content`` ≤ 2000 characters, attachments are up to 9 images, or
  1 video, or 1 link (``title``, ``url``, cover ``media_id``) — one kind only.
"""

from __future__ import annotations

import random
import time
from typing import Any

import httpx
import orjson

from siyu.channels.http import ProviderError, ProviderHttp, retry_after_header

#: Token errors: drop the cached token, fetch a new one and repeat the call once.
TOKEN_ERRORS = {40014, 42001}
#: The call was refused before WeCom acted on it, so repeating it can never duplicate a send.
RATE_ERRORS = {45009, 45033}
#: WeCom may have acted (system busy) or asks to come back later: a later attempt may succeed.
TEMPORARY_ERRORS = {-1, 6000, 41063} | RATE_ERRORS
#: gettoken answers that mean the configured credentials are wrong.
AUTH_ERRORS = {40001, 40013, 40091, 41002, 41004}

MAX_ATTACHMENTS = 9
MAX_TEXT_BYTES = 4000  # add_msg_template / send_welcome_msg
MAX_MOMENT_TEXT_CHARS = 2000  # add_moment_task
ATTACHMENT_TYPES = ("image", "link", "miniprogram", "video", "file")
MOMENT_ATTACHMENT_TYPES = ("image", "link", "video")


class WeComError(ProviderError):
    """An errcode answer from WeCom (after the client's own retries)."""

    def __init__(self, errcode: int, errmsg: str, path: str, retry_after_s: float | None = None) -> None:
        temporary = errcode in TEMPORARY_ERRORS
        super().__init__(f"{path}: errcode {errcode}: {errmsg}", temporary, retry_after_s)
        self.errcode = errcode
        self.errmsg = errmsg
        self.path = path


class ContentError(ValueError):
    """A message the adapter refuses before calling WeCom; ``field`` names the offending field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


class WeComApi:
    """One corp's API client. ``call`` returns the decoded answer of an errcode-0 call and raises
    :class:`WeComError` otherwise, having refreshed the token once on 40014/42001 and retried
    45009/45033 up to ``rate_retries`` times with exponential backoff and jitter
    (:meth:`rate_delay`). ``calls`` and ``rate_limited`` count for progress reports."""

    TOKEN_MARGIN_S = 300.0

    def __init__(
        self,
        base_url: str,
        corp_id: str,
        corp_secret: str,
        rate_per_s: float = 100.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        timeout_s: float = 10.0,
        rate_retries: int = 6,
        max_backoff_s: float = 60.0,
    ) -> None:
        self.corp_id = corp_id
        self.corp_secret = corp_secret
        self.retries = retries
        self.backoff_s = backoff_s
        self.http = ProviderHttp(base_url, rate_per_s, retries, backoff_s, timeout_s)
        # Creating a task is not idempotent: ProviderHttp repeats a request after a read timeout or a
        # 5xx, which could create a second task. Creates go through a client that never repeats on
        # its own (sharing the rate limit); an unknown outcome becomes ``retry`` and the dispatcher
        # asks ``lookup`` before sending again.
        self.http_once = ProviderHttp(base_url, rate_per_s, 0, backoff_s, timeout_s)
        self.http_once.limiter = self.http.limiter
        # 45009/45033 prove WeCom did nothing, so they may be retried more often than network
        # errors: a long sync rides out a busy minute instead of failing hours of work.
        self.rate_retries = max(retries, rate_retries)
        self.max_backoff_s = max_backoff_s
        self._token: str | None = None
        self._token_valid_until = 0.0
        self.token_fetches = 0
        self.calls = 0
        self.rate_limited = 0  # 45009/45033 answers seen (retried or not)

    def rate_delay(self, errcode: int, attempt: int) -> float:
        """Exponential backoff with jitter. 45009 is the per-minute cap (10,000 calls per API per
        corp): it starts four times longer than 45033 (too many concurrent calls), which clears
        as soon as a call in flight ends. Capped at ``max_backoff_s`` (a minute by default: the
        cap's window)."""
        base = self.backoff_s * (4 if errcode == 45009 else 1)
        return min(self.max_backoff_s, base * 2**attempt) * (1 + random.random() * 0.25)

    def close(self) -> None:
        self.http.close()
        self.http_once.close()

    def token(self) -> str:
        if self._token and time.monotonic() < self._token_valid_until:
            return self._token
        resp = self.http.request(
            "GET", "/cgi-bin/gettoken", params={"corpid": self.corp_id, "corpsecret": self.corp_secret}
        )
        data = _decode(resp, "/cgi-bin/gettoken")
        code = int(data.get("errcode", 0))
        if code:
            errmsg = str(data.get("errmsg", ""))
            if code in AUTH_ERRORS:
                errmsg = f"{errmsg} (check config corp_id and secret corp_secret)"
            raise WeComError(code, errmsg, "/cgi-bin/gettoken")
        self.token_fetches += 1
        expires_in = float(data.get("expires_in", 7200))
        # Renew ahead of expiry so a token never dies between our check and WeCom's.
        self._token_valid_until = time.monotonic() + expires_in - min(self.TOKEN_MARGIN_S, expires_in / 10)
        self._token = str(data["access_token"])
        return self._token

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        creates: bool = False,
    ) -> dict[str, Any]:
        """``creates=True`` marks a call that makes something (a task, a welcome message): it is
        repeated only after answers that prove WeCom refused it (token errors, 45009/45033)."""
        http = self.http_once if creates else self.http
        refreshed = False
        attempt = 0
        while True:
            query = {**(params or {}), "access_token": self.token()}
            self.calls += 1
            kwargs: dict[str, Any] = {"params": query}
            if body is not None:
                kwargs["content"] = orjson.dumps(body)
                kwargs["headers"] = {"Content-Type": "application/json"}
            # Reads (lists, results) are safe to repeat after a 5xx; creates never are.
            data = _decode(http.request(method, path, idempotent=not creates, **kwargs), path)
            code = int(data.get("errcode", 0))
            if code == 0:
                return data
            if code in TOKEN_ERRORS and not refreshed:
                self._token, refreshed = None, True
                continue
            if code in RATE_ERRORS:
                self.rate_limited += 1
                if attempt < self.rate_retries:
                    time.sleep(self.rate_delay(code, attempt))
                    attempt += 1
                    continue
            retry_after = (60.0 if code == 45009 else 1.0) if code in RATE_ERRORS else None
            raise WeComError(code, str(data.get("errmsg", "")), path, retry_after)

    def pages(self, path: str, body: dict[str, Any], list_field: str) -> list[dict[str, Any]]:
        """Every item of a cursor-paged POST list (``cursor`` in, ``next_cursor`` out)."""
        items: list[dict[str, Any]] = []
        cursor = ""
        while True:
            data = self.call("POST", path, {**body, "cursor": cursor} if cursor else body)
            items.extend(data.get(list_field) or [])
            cursor = str(data.get("next_cursor") or "")
            if not cursor:
                return items


def _decode(resp: httpx.Response, path: str) -> dict[str, Any]:
    """The JSON answer of a 2xx response. Any other status is an unknown outcome, whatever its
    body says: a proxy's 5xx with a JSON body has no ``errcode`` and would otherwise read as
    "ok, nothing found" — and a lookup that finds nothing sends the message again."""
    if not 200 <= resp.status_code < 300:
        raise ProviderError(
            f"{path}: HTTP {resp.status_code}: {resp.text[:200]}",
            temporary=True,
            retry_after_s=retry_after_header(resp),
        )
    try:
        data = orjson.loads(resp.content)
    except orjson.JSONDecodeError as exc:
        raise ProviderError(f"{path}: HTTP {resp.status_code}, not JSON: {resp.text[:200]}", True) from exc
    if not isinstance(data, dict):
        raise ProviderError(f"{path}: unexpected answer {resp.text[:200]}", True)
    return data


# --- message bodies ---------------------------------------------------------------------------


def message_body(content: dict[str, Any]) -> dict[str, Any]:
    """``text`` + ``attachments`` of add_msg_template / send_welcome_msg, checked against 92135."""
    text = content.get("text") or ""
    if not isinstance(text, str):
        raise ContentError("text", "must be a string")
    if len(text.encode()) > MAX_TEXT_BYTES:
        raise ContentError("text", f"{len(text.encode())} bytes; WeCom allows at most {MAX_TEXT_BYTES}")
    attachments = _attachment_list(content)
    for i, att in enumerate(attachments):
        _check_attachment(att, f"attachments[{i}]", moment=False)
    if not text and not attachments:
        raise ContentError("text", "text and attachments cannot both be empty")
    body: dict[str, Any] = {}
    if text:
        body["text"] = {"content": text}
    if attachments:
        body["attachments"] = attachments
    return body


def moment_body(content: dict[str, Any]) -> dict[str, Any]:
    """``text`` + ``attachments`` of add_moment_task, checked against 95094."""
    text = content.get("text") or ""
    if not isinstance(text, str):
        raise ContentError("text", "must be a string")
    if len(text) > MAX_MOMENT_TEXT_CHARS:
        raise ContentError("text", f"{len(text)} characters; moments allow at most {MAX_MOMENT_TEXT_CHARS}")
    attachments = _attachment_list(content)
    for i, att in enumerate(attachments):
        _check_attachment(att, f"attachments[{i}]", moment=True)
    kinds = {att["msgtype"] for att in attachments}
    if len(kinds) > 1:
        raise ContentError("attachments", "a moment carries images, or one video, or one link — not a mix")
    if kinds & {"link", "video"} and len(attachments) > 1:
        raise ContentError("attachments", "a moment carries at most one link or one video")
    if not text and not attachments:
        raise ContentError("text", "text and attachments cannot both be empty")
    body: dict[str, Any] = {}
    if text:
        body["text"] = {"content": text}
    if attachments:
        body["attachments"] = attachments
    return body


def _attachment_list(content: dict[str, Any]) -> list[dict[str, Any]]:
    attachments = content.get("attachments") or []
    if not isinstance(attachments, list):
        raise ContentError("attachments", "must be a list")
    if len(attachments) > MAX_ATTACHMENTS:
        raise ContentError("attachments", f"{len(attachments)} items; WeCom allows at most {MAX_ATTACHMENTS}")
    return attachments


_REQUIRED: dict[str, tuple[str, ...]] = {
    "link": ("title", "url"),
    "miniprogram": ("title", "pic_media_id", "appid", "page"),
    "video": ("media_id",),
    "file": ("media_id",),
}


def _check_attachment(att: Any, where: str, moment: bool) -> None:
    allowed = MOMENT_ATTACHMENT_TYPES if moment else ATTACHMENT_TYPES
    if not isinstance(att, dict) or att.get("msgtype") not in allowed:
        raise ContentError(f"{where}.msgtype", f"must be one of {', '.join(allowed)}")
    kind = att["msgtype"]
    inner = att.get(kind)
    if not isinstance(inner, dict):
        raise ContentError(f"{where}.{kind}", f"missing the {kind} object")
    if kind == "image":
        if not (inner.get("media_id") or (inner.get("pic_url") and not moment)):
            raise ContentError(f"{where}.image", "needs media_id" if moment else "needs media_id or pic_url")
        return
    # A moment link's cover is an uploaded media_id; a message link's cover is a picurl.
    required = ("url", "media_id") if kind == "link" and moment else _REQUIRED[kind]
    for name in required:
        if not inner.get(name):
            raise ContentError(f"{where}.{kind}.{name}", "is required")
