"""A 5G message (MaaP Chatbot) platform as the China Telecom / Unicom interface spec V1.0.4
describes it, plus the GSMA FNW.11 capability and message-status resources.

It checks what the platform checks: appId/appKey for the accessToken (a new token invalidates
the previous one; expired tokens answer 42001), the ``authorization: accessToken …`` and ``date``
headers, that ``senderAddress`` is this chatbot (30008), the required message fields, and the card
and suggestion JSON against the spec's schema (title ≤ 200, description ≤ 2000, ≤ 4 card
suggestions, ≤ 11 chips, display text ≤ 25, openUrl needs ``url`` and ``application``), with the
spec's error codes. Accepted messages are recorded per ``messageId``."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.emulators.server import Emulator, Request, Response, json_response

CARD_TYPE = "application/vnd.gsma.botmessage.v1.0+json"
CHIPS_TYPE = "application/vnd.gsma.botsuggestion.v1.0+json"
CONTENT_TYPES = {"text/plain", "application/vnd.gsma.rcs-ft-http", CARD_TYPE, CHIPS_TYPE}
ACTION_KINDS = {"urlAction", "dialerAction", "mapAction", "calendarAction", "composeAction", "deviceAction"}


class Invalid(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _text(value: Any, where: str, limit: int, code: int = 40021) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise Invalid(code, f"{where}: string of 1..{limit} characters required")


def check_suggestion(item: Any, where: str) -> None:
    if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in ("reply", "action"):
        raise Invalid(40017, f"{where}: exactly one of reply/action required")
    kind, body = next(iter(item.items()))
    _text(body.get("displayText"), f"{where}.{kind}.displayText", 25, code=40018)
    postback = body.get("postback")
    if kind == "reply" and not isinstance(postback, dict):
        raise Invalid(20002, f"{where}.reply.postback required")
    if postback is not None:
        _text(postback.get("data"), f"{where}.{kind}.postback.data", 2048, code=40019)
    if kind == "action":
        kinds = [k for k in body if k in ACTION_KINDS]
        if len(kinds) != 1:
            raise Invalid(40017, f"{where}.action: exactly one action type required")
        if kinds[0] == "urlAction":
            open_url = body["urlAction"].get("openUrl") or {}
            url = open_url.get("url")
            if not isinstance(url, str) or not urlsplit(url).scheme:
                raise Invalid(40052, f"{where}.action.urlAction.openUrl.url: URI required")
            if open_url.get("application") not in ("browser", "webview"):
                raise Invalid(40017, f"{where}.action.urlAction.openUrl.application: browser or webview")


def check_card(content_text: Any) -> None:
    card = (
        (content_text or {}).get("message", {}).get("generalPurposeCard")
        if isinstance(content_text, dict)
        else None
    )
    if not isinstance(card, dict):
        raise Invalid(47001, "message.generalPurposeCard required")
    layout = card.get("layout") or {}
    if layout.get("cardOrientation") not in ("VERTICAL", "HORIZONTAL"):
        raise Invalid(20002, "layout.cardOrientation: VERTICAL or HORIZONTAL")
    if layout["cardOrientation"] == "HORIZONTAL" and layout.get("imageAlignment") not in ("LEFT", "RIGHT"):
        raise Invalid(20002, "layout.imageAlignment required for HORIZONTAL cards")
    content = card.get("content")
    if not isinstance(content, dict) or not ({"media", "title", "description"} & set(content)):
        raise Invalid(20002, "content: one of media/title/description required")
    if "title" in content:
        _text(content["title"], "content.title", 200)
    if "description" in content:
        _text(content["description"], "content.description", 2000)
    if "media" in content:
        media = content["media"]
        missing = [f for f in ("mediaUrl", "mediaContentType", "mediaFileSize", "height") if f not in media]
        if missing or media["height"] not in ("SHORT_HEIGHT", "MEDIUM_HEIGHT", "TALL_HEIGHT"):
            raise Invalid(40007, f"content.media: invalid or missing {missing or 'height'}")
        if not isinstance(media["mediaFileSize"], int) or media["mediaFileSize"] < 0:
            raise Invalid(40006, "content.media.mediaFileSize: integer ≥ 0")
    if "suggestions" in content:
        suggestions = content["suggestions"]
        if not isinstance(suggestions, list) or not 1 <= len(suggestions) <= 4:
            raise Invalid(40016, "content.suggestions: 1..4 per card")
        for i, item in enumerate(suggestions):
            check_suggestion(item, f"content.suggestions[{i}]")


def check_chips(content_text: Any) -> None:
    chips = content_text.get("suggestions") if isinstance(content_text, dict) else None
    if not isinstance(chips, list) or not 1 <= len(chips) <= 11:
        raise Invalid(40016, "suggestions: 1..11 chips")
    for i, item in enumerate(chips):
        check_suggestion(item, f"suggestions[{i}]")


def check_menu(body: Any) -> None:
    entries = (body or {}).get("menu", {}).get("entries") if isinstance(body, dict) else None
    if not isinstance(entries, list) or not 1 <= len(entries) <= 3:
        raise Invalid(40016, "menu.entries: 1..3 first-level entries")
    for i, entry in enumerate(entries):
        if isinstance(entry, dict) and set(entry) == {"menu"}:
            sub = entry["menu"]
            _text(sub.get("displayText"), f"menu.entries[{i}].menu.displayText", 25, code=40018)
            subs = sub.get("entries")
            if not isinstance(subs, list) or not 1 <= len(subs) <= 5:
                raise Invalid(47002, f"menu.entries[{i}].menu.entries: 1..5 entries")
            for j, item in enumerate(subs):
                check_suggestion(item, f"menu.entries[{i}].menu.entries[{j}]")  # no third level
        else:
            check_suggestion(entry, f"menu.entries[{i}]")


class SmartSmsPlatform(Emulator):
    def __init__(
        self,
        chatbot_id: str,
        app_id: str,
        app_key: str,
        not_capable: set[str] | None = None,
        api_version: str = "v1",
    ) -> None:
        super().__init__()
        self.chatbot_id, self.app_id, self.app_key = chatbot_id, app_id, app_key
        self.prefix = f"/bot/{api_version}/{chatbot_id}/"
        self.not_capable = not_capable or set()  # E.164 numbers that are no 5G-message terminal
        self.token: str | None = None
        self.expired: set[str] = set()
        self.token_requests = 0
        self.messages: dict[str, dict[str, Any]] = {}  # messageId → first accepted request body
        self.sends: Counter[str] = Counter()  # accepted sends per messageId
        self.accepted_at: dict[str, datetime] = {}
        self.capability_queries: list[str] = []
        self.rejections: list[tuple[int, str]] = []
        self.menu: dict[str, Any] | None = None
        self.fail_next: list[int] = []  # errorCodes to answer the next POST messages with
        self.http_fail_next: list[int] = []  # HTTP statuses (e.g. 503) for the next POST messages

    def expire_token(self) -> None:
        with self.lock:
            if self.token:
                self.expired.add(self.token)
            self.token = None

    def handle(self, request: Request) -> Response:
        path = unquote(request.path)
        if not path.startswith(self.prefix):
            return json_response({"errorCode": 30008, "errorMessage": "unknown chatbotId"}, 404)
        resource = path[len(self.prefix) :]
        if resource == "accessToken" and request.method == "POST":
            return self._access_token(request.json() or {})
        if "date" not in request.headers:
            return json_response({"errorCode": 20002, "errorMessage": "date header required"}, 400)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self.lock:
            if scheme != "accessToken" or not token or (token != self.token and token not in self.expired):
                return json_response({"errorCode": 40014, "errorMessage": "invalid accessToken"}, 401)
            if token in self.expired:
                return json_response({"errorCode": 42001, "errorMessage": "accessToken expired"}, 401)
        try:
            if resource == "contactCapabilities" and request.method == "GET":
                return self._capabilities(request.query.get("userContact", ""))
            if resource == "messages" and request.method == "POST":
                return self._message(request.json())
            if resource.startswith("messages/") and resource.endswith("/status") and request.method == "GET":
                return self._status(resource.split("/")[1])
            if resource == "update/chatBotInfo/menu" and request.method == "POST":
                check_menu(request.json())
                self.menu = request.json()
                return json_response({"errorCode": 0, "errorMessage": "success"})
        except Invalid as exc:
            with self.lock:
                self.rejections.append((exc.code, str(exc)))
            return json_response({"errorCode": exc.code, "errorMessage": str(exc)}, 400)
        return json_response({"errorCode": 20003, "errorMessage": f"no such resource {resource}"}, 404)

    def _access_token(self, body: dict[str, Any]) -> Response:
        with self.lock:
            self.token_requests += 1
            if body.get("appId") != self.app_id or body.get("appKey") != self.app_key:
                return json_response({"errorCode": 40001, "errorMessage": "appKey error"})
            if self.token:  # fetching a new token invalidates the previous one
                self.expired.add(self.token)
            self.token = uuid.uuid4().hex
            return json_response(
                {"accessToken": self.token, "expires": 7200, "errorCode": 0, "url": self.base_url}
            )

    def _capabilities(self, user_contact: str) -> Response:
        phone = user_contact.removeprefix("tel:")
        with self.lock:
            self.capability_queries.append(phone)
        if phone in self.not_capable:
            return json_response({"errorCode": 46001, "errorMessage": "not a 5G message terminal"}, 404)
        return json_response(
            {"errorCode": 0, "capabilities": ["ChatbotSA", "FileTransfer", "GeolocationPush"]}
        )

    def _message(self, body: Any) -> Response:
        if not isinstance(body, dict):
            raise Invalid(44002, "empty POST body")
        with self.lock:
            if self.http_fail_next:
                return Response(self.http_fail_next.pop(0), "<html>gateway unavailable</html>")
            if self.fail_next:
                code = self.fail_next.pop(0)
                return json_response({"errorCode": code, "errorMessage": "injected"})
        for name in ("messageId", "conversationId", "contributionId"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise Invalid(20002, f"{name} required")
        if body.get("senderAddress") != self.chatbot_id:
            raise Invalid(30008, "chatbotId does not match senderAddress")
        addresses = body.get("destinationAddress")
        if not isinstance(addresses, list) or len(addresses) != 1:
            raise Invalid(20002, "destinationAddress: exactly one tel: URI (single sends only)")
        if not str(addresses[0]).startswith("tel:+") or not str(addresses[0])[5:].isdigit():
            raise Invalid(20002, "destinationAddress: tel:+<digits> required")
        for name in ("smsSupported", "storeSupported"):
            if not isinstance(body.get(name), bool):
                raise Invalid(20002, f"{name}: boolean required")
        if body["smsSupported"] and not body.get("smsContent"):
            raise Invalid(20002, "smsContent required when smsSupported")
        capabilities = body.get("serviceCapability") or []
        if not any(c.get("capabilityId") == "ChatbotSA" and c.get("version") for c in capabilities):
            raise Invalid(20002, "serviceCapability: ChatbotSA with version required")
        parts = body.get("messageList")
        if not isinstance(parts, list) or not parts:
            raise Invalid(20002, "messageList required")
        for part in parts:
            kind = part.get("contentType")
            if kind not in CONTENT_TYPES:
                raise Invalid(40008, f"unsupported contentType {kind}")
            if kind == CARD_TYPE:
                check_card(part.get("contentText"))
            elif kind == CHIPS_TYPE:
                check_chips(part.get("contentText"))
        message_id = body["messageId"]
        with self.lock:
            self.messages.setdefault(message_id, body)
            self.accepted_at.setdefault(message_id, datetime.now(UTC))
            self.sends[message_id] += 1
        return json_response({"messageId": message_id, "errorCode": 0, "errorMessage": "success"})

    def _status(self, message_id: str) -> Response:
        with self.lock:
            if message_id not in self.messages:
                return json_response({"errorCode": 20002, "errorMessage": "unknown messageId"}, 404)
            at = self.accepted_at[message_id]
        return json_response(
            {"errorCode": 0, "messageId": message_id, "status": "sent", "dateTime": at.isoformat()}
        )

    # -- what the platform pushes to the chatbot's notify URL --------------------------------

    @staticmethod
    def signed_headers(token: str, nonce: str = "6f2c8a1e-0d3b-4c57-9a7e-2b1f0c9d8e7a") -> dict[str, str]:
        timestamp = str(int(time.time()))
        signature = hashlib.sha256("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
        return {"signature": signature, "timestamp": timestamp, "nonce": nonce}

    def delivery_notification(
        self, reports: list[tuple[str, str, str]], error: tuple[int, str] | None = None
    ) -> dict:
        """``reports``: (messageId, phone, status); ``error`` goes on the ``failed`` ones."""
        items = []
        for message_id, phone, status in reports:
            item = {
                "messageId": message_id,
                "status": status,
                "dateTime": "2025-03-17T14:42:20.840+08:00",
                "destinationAddress": self.chatbot_id,
                "senderAddress": f"tel:{phone}",
            }
            if status == "failed" and error:
                item |= {"errorCode": error[0], "errorMessage": error[1]}
            items.append(item)
        return {"deliveryInfoList": items}

    def message_notification(self, phone: str, parts: list[dict[str, Any]]) -> dict:
        return {
            "messageId": str(uuid.uuid4()),
            "messageList": parts,
            "dateTime": "2025-03-17T14:43:01.120+08:00",
            "destinationAddress": self.chatbot_id,
            "senderAddress": f"tel:{phone}",
            "conversationId": "XS12345646DSAS",
            "contributionId": str(uuid.uuid4()),
        }
