"""Smart SMS (5G消息): a rich card with buttons sent through a carrier's Chatbot (MaaP) platform.

Built on the China Telecom / China Unicom "5G消息业务平台行业客户接入接口技术规范 V1.0.4" (the
GSMA MaaP Chatbot API as the Chinese CSPs expose it; summary in wechaty/puppet-walnut
``docs/接口规范.md``), plus two resources of the GSMA MaaP Chatbot API (FNW.11) that V1.0.4 lacks:

* ``POST {root}/bot/{v}/{chatbotId}/accessToken`` ``{appId, appKey}`` → ``accessToken`` for
  ``expires`` (7200) s, sent as ``authorization: accessToken <token>``. A new token voids the old
  one and the daily quota is 2000: cached, renewed near expiry or on 40001/40014/41001/42001.
* ``GET .../contactCapabilities?userContact=tel:+86…`` (FNW.11): 404 or 46001 means no 5G-message
  terminal; ``send`` then returns ``failed``/``not_capable``, ``detail={"fallback": True}``,
  without sending, and the dispatcher sends ``content["fallback"]`` through the SMS provider
  (with tracked short links, which the platform's ``smsSupported`` fallback could not do).
* ``POST .../messages``: ``messageId`` is the chatbot's choice; a UUIDv5 of the idempotency key
  makes it our caller-context field, echoed by every status report. ``messageList`` holds the
  card (``application/vnd.gsma.botmessage.v1.0+json``) and, for second-level buttons, a chip list
  (``application/vnd.gsma.botsuggestion.v1.0+json``, the floating menu under the card).
* ``GET .../messages/{messageId}/status`` (FNW.11) lets :meth:`lookup` find a send by key.
* Callbacks (``deliveryNotification``, ``messageNotification``) are signed with
  ``sha256(sorted(token, timestamp, nonce) joined)``: :func:`verify_notification`.

Two-level menus. Per-message suggestions cannot nest in the spec, so a card's top-level buttons
become the card's own suggestions (at most 4) and the ``children`` of every button become the
message's floating chip list (at most 11), in order; the parent button stays on the card as what
it says (typically a ``reply`` whose keyword tells us the contact opened that branch). The
chatbot-wide fixed menu (固定菜单: 3 entries × 5 sub-entries) is a true two-level menu and is set
with :meth:`SmartSmsAdapter.set_persistent_menu`. Mini-programs: the spec has no mini-program
action, so ``miniprogram`` buttons are ``openUrl`` actions carrying the mini-program's URL Scheme
(e.g. ``weixin://dl/business/?t=…`` from WeChat's ``generatescheme``). Buttons may also come
in the content library's shape (``type`` url/reply/call/menu; docs/content.md).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

import httpx

from siyu.channels.base import OutboundMessage, Receipt, SendResult
from siyu.channels.http import ProviderError, ProviderHttp
from siyu.channels.smart_sms_callbacks import parse_time

CARD_TYPE = "application/vnd.gsma.botmessage.v1.0+json"
CHIPS_TYPE = "application/vnd.gsma.botsuggestion.v1.0+json"
MAX_CARD_BUTTONS, MAX_CHIPS, MAX_LABEL, MAX_POSTBACK = 4, 11, 25, 2048
MAX_TITLE, MAX_BODY = 200, 2000
MENU_TOP, MENU_SUB = 3, 5  # fixed menu: 3 first-level entries, 5 per submenu
ACTIONS = ("url", "miniprogram", "reply", "call")
TOKEN_ERRORS = {40001, 40014, 41001, 42001}
TEMPORARY_ERRORS = {-1, -2, 30003, 45001}  # busy, internal error, per-second limit, call limit
NOT_A_5G_USER = {46001}
CARD_CAPABILITIES = {"chatbotsa", "chatbotcommunication"}
SERVICE_CAPABILITY = [{"capabilityId": "ChatbotSA", "version": '+g.gsma.rcs.botversion="#=1"'}]
_ID_NAMESPACE = uuid.UUID("6f1d1f0e-3b53-4f5e-9a1c-5a4d2b7c9e10")


class ContentError(ValueError):
    """Invalid smart SMS content; the message names the field (``card.buttons[1].label``)."""


class PlatformError(Exception):
    def __init__(self, code: Any, message: str, temporary: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.temporary = code, temporary


def message_id_for(key: str, chatbot_id: str) -> str:
    """The platform ``messageId`` of the message sent under idempotency ``key``."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{chatbot_id}|{key}"))


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ContentError(f"{field}: must be a non-empty string")
    if len(value) > limit:
        raise ContentError(f"{field}: longer than {limit} characters")
    return value


def _url(value: Any, field: str, schemes: tuple[str, ...] | None = ("http", "https")) -> str:
    text = _text(value, field, MAX_POSTBACK)
    parts = urlsplit(text)
    if not parts.scheme or (schemes and (parts.scheme not in schemes or not parts.netloc)):
        raise ContentError(f"{field}: not a valid {'/'.join(schemes or ('URL scheme',))} URL")
    return text


def _as_button(button: Any) -> Any:
    """A content-library button (``type`` url/reply/call/menu with ``url``/``reply``/``phone``/
    ``buttons``) in this module's shape; a ``menu`` opens its branch as a ``reply`` of its label."""
    if not isinstance(button, dict) or "type" not in button or "action" in button:
        return button
    kind, label = button["type"], button.get("label")
    value = {"url": button.get("url"), "reply": button.get("reply"), "call": button.get("phone")}.get(
        kind, label
    )
    shaped = {"label": label, "action": "reply" if kind == "menu" else kind, "value": value}
    return shaped | ({"children": button.get("buttons", [])} if kind == "menu" else {})


def suggestion(button: dict[str, Any], field: str, url_application: str = "browser") -> dict[str, Any]:
    """One spec suggestion (``reply``, ``openUrl`` or ``dialPhoneNumber``) for a content button."""
    button = _as_button(button)
    if not isinstance(button, dict):
        raise ContentError(f"{field}: must be an object")
    label = _text(button.get("label"), f"{field}.label", MAX_LABEL)
    action = button.get("action")
    if action not in ACTIONS:
        raise ContentError(f"{field}.action: must be one of {', '.join(ACTIONS)}")
    if action == "reply":
        keyword = _text(button.get("value"), f"{field}.value", MAX_POSTBACK)
        return {"reply": {"displayText": label, "postback": {"data": keyword}}}
    if action == "call":
        phone = _text(button.get("value"), f"{field}.value", 20)
        if not phone.startswith("+") or not phone[1:].isdigit():
            raise ContentError(f"{field}.value: not an E.164 phone number")
        dial = {"dialPhoneNumber": {"phoneNumber": phone}}
        return {"action": {"dialerAction": dial, "displayText": label, "postback": {"data": f"call:{label}"}}}
    schemes = ("http", "https") if action == "url" else None  # a mini-program scheme: weixin://, alipays://
    target = _url(button.get("value"), f"{field}.value", schemes)
    return {
        "action": {
            "urlAction": {"openUrl": {"url": target, "application": url_application}},
            "displayText": label,
            "postback": {"data": f"{action}:{label}"},
        }
    }


def _children(button: Any, field: str, url_application: str) -> list[dict[str, Any]]:
    """The second-level suggestions under ``button``; a third level is refused."""
    button = _as_button(button)
    children = button.get("children", []) if isinstance(button, dict) else []
    if not isinstance(children, list):
        raise ContentError(f"{field}.children: must be a list")
    for j, child in enumerate(children):
        if isinstance(child, dict) and ("children" in child or child.get("type") == "menu"):
            raise ContentError(f"{field}.children[{j}].children: at most two menu levels")
    return [suggestion(child, f"{field}.children[{j}]", url_application) for j, child in enumerate(children)]


def build_message_list(content: dict[str, Any], url_application: str = "browser") -> list[dict[str, Any]]:
    """The ``messageList`` for smart SMS ``content``; raises :class:`ContentError`."""
    card = content.get("card")
    if not isinstance(card, dict):
        raise ContentError("card: must be an object")
    fallback = content.get("fallback")
    if not isinstance(fallback, dict):
        raise ContentError("fallback: must be an object")
    _text(fallback.get("text"), "fallback.text", 1000)
    if "params" in fallback and not isinstance(fallback["params"], dict):
        raise ContentError("fallback.params: must be an object")
    body: dict[str, Any] = {
        "title": _text(card.get("title"), "card.title", MAX_TITLE),
        "description": _text(card.get("body"), "card.body", MAX_BODY),
    }
    if card.get("image") is not None:
        image = _url(card["image"], "card.image")
        size = card.get("image_size", 0)
        if not isinstance(size, int) or size < 0:
            raise ContentError("card.image_size: must be a non-negative integer (bytes)")
        body["media"] = {
            "mediaUrl": image,
            "mediaContentType": _image_type(image),
            "mediaFileSize": size,
            "height": "MEDIUM_HEIGHT",
        }
    buttons = card.get("buttons", [])
    if not isinstance(buttons, list) or len(buttons) > MAX_CARD_BUTTONS:
        raise ContentError(f"card.buttons: must be a list of at most {MAX_CARD_BUTTONS}")
    on_card, chips = [], []
    for i, button in enumerate(buttons):
        on_card.append(suggestion(button, f"card.buttons[{i}]", url_application))
        chips += _children(button, f"card.buttons[{i}]", url_application)
    if len(chips) > MAX_CHIPS:
        raise ContentError(f"card.buttons[].children: at most {MAX_CHIPS} second-level buttons in all")
    if on_card:
        body["suggestions"] = on_card
    card_json = {"generalPurposeCard": {"layout": {"cardOrientation": "VERTICAL"}, "content": body}}
    parts = [{"contentType": CARD_TYPE, "contentText": {"message": card_json}}]
    if chips:
        parts.append({"contentType": CHIPS_TYPE, "contentText": {"suggestions": chips}})
    return parts


def persistent_menu(buttons: list[dict[str, Any]], url_application: str = "browser") -> dict[str, Any]:
    """The fixed-menu document (``{"menu": {"entries": [...]}}``): a button with ``children``
    becomes a submenu (``{"menu": {"displayText", "entries"}}``), at most 3 × 5 entries."""
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MENU_TOP:
        raise ContentError(f"menu: must have 1 to {MENU_TOP} entries")
    entries = []
    for i, button in enumerate(buttons):
        field = f"menu[{i}]"
        subs = _children(button, field, url_application)
        if not subs:
            entries.append(suggestion(button, field, url_application))
        elif len(subs) > MENU_SUB:
            raise ContentError(f"{field}.children: at most {MENU_SUB} entries")
        else:
            label = _text(button.get("label"), f"{field}.label", MAX_LABEL)
            entries.append({"menu": {"displayText": label, "entries": subs}})
    return {"menu": {"entries": entries}}


def _image_type(url: str) -> str:
    path = urlsplit(url).path.lower()
    return "image/png" if path.endswith(".png") else "image/gif" if path.endswith(".gif") else "image/jpeg"


class SmartSmsAdapter:
    """Sends ``smart_sms`` messages. Content: ``{"card": {"title", "body", "image"?,
    "image_size"?, "buttons": [{"label", "action": url|miniprogram|reply, "value",
    "children"?: [...]}]}, "fallback": {"text", "template_code"?, "params"?}}``."""

    kind = "smart_sms"
    messages_per_call = 1  # V1.0.4 sends one message per request
    CONFIG_FIELDS: ClassVar[dict[str, str]] = {
        "base_url": "required: the platform's serverRoot (host, port, base path) from the CSP",
        "chatbot_id": "required: the chatbot URI, e.g. sip:106500@botplatform.rcs.chinaunicom.cn",
        "app_id": "required: the chatbot's appId",
        "api_version": "API version in the URL path (default v1)",
        "capability_check": "query contactCapabilities before each card (default true)",
        "status_query": "lookup() through the message status resource (default true)",
        "platform_fallback": "let the platform fall back to SMS itself (smsSupported; default false)",
        "store_supported": "let the platform store messages for offline handsets (default true)",
        "traffic_type": "trafficType of marketing messages (default advertisement)",
        "url_application": "how openUrl buttons open: browser or webview (default browser)",
        "retries": "attempts inside one call on network errors, 429 and 5xx (default 2)",
        "rate_per_s": "client-side request rate limit (default 50)",
    }
    SECRET_ALIASES: ClassVar[dict[str, tuple[str, ...]]] = {"app_key": ("password",)}
    SECRET_FIELDS: ClassVar[dict[str, str]] = {
        "app_key": "required: the chatbot's appKey (`password` is accepted as an alias)",
        "notify_token": "token the platform signs callbacks with (for verify_notification)",
    }

    def __init__(self, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        for name in ("base_url", "chatbot_id", "app_id"):
            if not config.get(name):
                raise ValueError(f"smart_sms config: {name} is required")
        app_key = str(secrets.get("app_key") or secrets.get("password") or "")
        if not app_key:
            raise ValueError("smart_sms secrets: app_key is required")
        self.base_url = str(config["base_url"]).rstrip("/")
        self.chatbot_id, self.app_id, self.app_key = str(config["chatbot_id"]), str(config["app_id"]), app_key
        self.api_version = str(config.get("api_version", "v1"))
        self.capability_check = bool(config.get("capability_check", True))
        self.status_query = bool(config.get("status_query", True))
        self.platform_fallback = bool(config.get("platform_fallback", False))
        self.store_supported = bool(config.get("store_supported", True))
        self.traffic_type = str(config.get("traffic_type", "advertisement"))
        self.url_application = str(config.get("url_application", "browser"))
        self.notify_token: str | None = secrets.get("notify_token")
        self.http = ProviderHttp(
            self.base_url, float(config.get("rate_per_s", 50.0)), int(config.get("retries", 2))
        )
        self._root = self.base_url
        self._token: str | None = None
        self._token_expires = 0.0

    # -- platform calls ---------------------------------------------------------------------

    def _url(self, resource: str, root: str | None = None) -> str:
        return f"{root or self._root}/bot/{self.api_version}/{quote(self.chatbot_id, safe='')}/{resource}"

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "Date": format_datetime(datetime.now(UTC), usegmt=True)}

    def _access_token(self, refresh: bool = False) -> str:
        if self._token and not refresh and time.monotonic() < self._token_expires:
            return self._token
        credentials = {"appId": self.app_id, "appKey": self.app_key}
        url = self._url("accessToken", self.base_url)  # a repeated token request harms nothing
        resp = self.http.request("POST", url, idempotent=True, json=credentials, headers=self._headers())
        body = _json(resp)
        if body.get("errorCode") != 0 or not body.get("accessToken"):
            code, why = (
                body.get("errorCode", f"HTTP {resp.status_code}"),
                body.get("errorMessage", resp.text[:200]),
            )
            raise PlatformError(code, f"accessToken: {why}", code in TEMPORARY_ERRORS)
        expires = float(body.get("expires") or 7200)
        self._token = str(body["accessToken"])
        self._token_expires = time.monotonic() + max(expires - 300, expires / 2)
        if body.get("url"):
            root = str(body["url"]).rstrip("/")
            self._root = root if "://" in root else f"{urlsplit(self.base_url).scheme}://{root}"
        return self._token

    def _call(self, method: str, resource: str, **kwargs: Any) -> tuple[httpx.Response, dict[str, Any]]:
        """One authorised call; on a token error, fetches a new token and tries once more."""
        for attempt in range(2):
            headers = self._headers() | {
                "Authorization": f"accessToken {self._access_token(refresh=attempt > 0)}"
            }
            resp = self.http.request(method, self._url(resource), headers=headers, **kwargs)
            body = _json(resp)
            if body.get("errorCode") not in TOKEN_ERRORS and resp.status_code != 401:
                break
        return resp, body

    def can_render_card(self, phone: str) -> bool:
        """Whether the handset at ``phone`` (E.164) is a 5G-message terminal that renders cards."""
        resp, body = self._call("GET", "contactCapabilities", params={"userContact": f"tel:{phone}"})
        if resp.status_code == 404 or body.get("errorCode") in NOT_A_5G_USER:
            return False
        _raise_for(resp, body)
        capabilities = body.get("capabilities")
        if capabilities is None:  # platforms that answer 200/404 only
            return True
        return any(str(c).lower() in CARD_CAPABILITIES for c in capabilities)

    def build_payload(self, message: OutboundMessage) -> dict[str, Any]:
        phone = message.recipient.phone
        if not phone or not phone.startswith("+") or not phone[1:].isdigit():
            raise ContentError("recipient.phone: missing or not E.164")
        parts = build_message_list(message.content, self.url_application)
        payload: dict[str, Any] = {
            "messageId": message_id_for(message.key, self.chatbot_id),
            "messageList": parts,
            "destinationAddress": [f"tel:{phone}"],
            "senderAddress": self.chatbot_id,
            # one conversation per contact and chatbot; one contribution per message
            "conversationId": str(uuid.uuid5(_ID_NAMESPACE, f"conversation|{self.chatbot_id}|{phone}")),
            "contributionId": str(uuid.uuid5(_ID_NAMESPACE, f"contribution|{self.chatbot_id}|{message.key}")),
            "serviceCapability": SERVICE_CAPABILITY,
            "trafficType": self.traffic_type,
            "smsSupported": self.platform_fallback,
            "storeSupported": self.store_supported,
            "reportRequest": ["sent", "failed", "delivered", "displayed", "deliveredToNetwork"],
        }
        if self.platform_fallback:
            payload["smsContent"] = message.content["fallback"]["text"]
        return payload

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """One request per message: V1.0.4 supports single sends only (一阶段只支持消息单发)."""
        return [self._send_one(message) for message in messages]

    def _send_one(self, message: OutboundMessage) -> SendResult:
        try:
            payload = self.build_payload(message)
        except ContentError as exc:
            return SendResult("failed", error=f"invalid content: {exc}")
        try:
            phone = str(message.recipient.phone)  # build_payload checked it is E.164
            if self.capability_check and not self.platform_fallback and not self.can_render_card(phone):
                return SendResult("failed", error="not_capable", detail={"fallback": True})
            resp, body = self._call("POST", "messages", json=payload)
            _raise_for(resp, body)
        except ProviderError as exc:
            return SendResult("retry", error=str(exc), retry_after_s=exc.retry_after_s)
        except PlatformError as exc:
            status = "retry" if exc.temporary else "failed"
            soon = 1.0 if exc.code in TOKEN_ERRORS else None  # a fresh token is one call away
            return SendResult(status, error=str(exc), retry_after_s=soon, detail={"code": exc.code})
        return SendResult("sent", provider_message_id=payload["messageId"])

    def lookup(self, message: OutboundMessage, since: datetime) -> SendResult | None:
        """The platform's status of the message sent under ``message.key``; None when it never
        saw it. Raises :class:`ProviderError` when the platform cannot be asked right now, so a
        dispatcher never mistakes "unknown" for "not sent"."""
        if not self.status_query:
            return None
        message_id = message_id_for(message.key, self.chatbot_id)
        try:
            resp, body = self._call("GET", f"messages/{quote(message_id, safe='')}/status")
            if resp.status_code == 404:
                return None
            _raise_for(resp, body)
        except PlatformError as exc:
            raise ProviderError(str(exc), temporary=exc.temporary) from exc
        at = parse_time(body.get("dateTime"))
        if at < (since if since.tzinfo else since.replace(tzinfo=UTC)):
            return None
        status = str(body.get("status", ""))
        if status in ("failed", "revokeOk"):
            error = f"{status}: {body.get('errorMessage', '')}"
            return SendResult("failed", provider_message_id=message_id, error=error)
        return SendResult("sent", provider_message_id=message_id, detail={"status": status})

    def set_persistent_menu(self, buttons: list[dict[str, Any]]) -> None:
        """Replace the chatbot's fixed menu (固定菜单, two levels); the platform reviews it."""
        menu = persistent_menu(buttons, self.url_application)
        _raise_for(*self._call("POST", "update/chatBotInfo/menu", idempotent=True, json=menu))

    def receipts(self, since: datetime) -> list[Receipt]:
        """Status reports are pushed to the callback URL (see :func:`parse_delivery_notification`)."""
        return []

    def close(self) -> None:
        self.http.close()


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _raise_for(resp: httpx.Response, body: dict[str, Any]) -> None:
    code = body.get("errorCode")
    if resp.is_success and code in (0, None):
        return
    # A token error after a fresh token means another worker's token request voided ours (the
    # platform keeps one live token per chatbot): temporary, the next attempt gets a new one.
    temporary = (
        code in TEMPORARY_ERRORS or code in TOKEN_ERRORS or resp.status_code == 429 or resp.status_code >= 500
    )
    code = f"HTTP {resp.status_code}" if code is None else code
    raise PlatformError(code, str(body.get("errorMessage") or resp.text[:200]), temporary)
