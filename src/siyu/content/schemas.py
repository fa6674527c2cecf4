"""Input shapes of the content library: templates (per-channel bodies) and materials.

A body is checked when the template is saved, not when a journey first sends it: required
fields per channel, the smart SMS card's menu depth, and every string compiled as a Jinja
template. A problem is reported with its path in the document (``body.card.buttons[0].label:
unexpected '}'``, ``variants.b.subject: …``) so the operator finds it.
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from siyu.channels.base import MESSAGE_CHANNELS
from siyu.content.render import is_html_field, path_of, syntax_error
from siyu.segments.schemas import STAGES
from siyu.store.slugs import check_slug

M = TypeVar("M", bound=BaseModel)

MAX_STRING = 100_000
MAX_ATTACHMENTS = 9  # WeCom add_msg_template / add_moment_task take at most 9 attachments
# 5G message cards (siyu.channels.smart_sms): 4 suggestions on the card; second-level buttons
# become the message's chip list, at most 11 in all.
MAX_TOP_BUTTONS = 4
MAX_SUB_BUTTONS = 11
MAX_LABEL = 25  # the 5G message spec's displayText limit (siyu.channels.smart_sms)
BUTTON_TYPES = ("url", "reply", "call", "menu")
_VARIANT = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,31}$")
_URL = re.compile(r"^https?://\S+$")
_E164 = re.compile(r"^\+[1-9][0-9]{4,14}$")


class ContentError(ValueError):
    """A content request that cannot be carried out; invalid input names its field."""


def validate(model: type[M], raw: Any) -> M:
    """``model.model_validate`` with the first problem as one line naming its field."""
    if isinstance(raw, model):
        return raw
    if not isinstance(raw, dict):
        raise ContentError(f"expected a JSON object, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        e = exc.errors()[0]
        msg = str(e["msg"]).removeprefix("Value error, ")
        where = ".".join(str(p) for p in e["loc"])
        # Whole-document checks (bodies, material data) put the path in the message.
        raise ContentError(f"{where}: {msg}" if where else msg) from None


# --- bodies ---------------------------------------------------------------------------------------
def _fail(path: str, message: str) -> ValueError:
    return ValueError(f"{path}: {message}")


def _string(body: dict[str, Any], name: str, where: str, required: bool = True) -> None:
    value = body.get(name)
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip():
        raise _fail(path_of(where, name), "required, a non-empty string")


def _dict(body: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise _fail(path_of(where, name), "required, an object")
    return value


def _compile_all(value: Any, where: str, rel: str) -> None:
    """Compile every string (``rel`` is the path inside the body, which decides escaping)."""
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise _fail(where, f"longer than {MAX_STRING} characters")
        problem = syntax_error(value, is_html_field(rel))
        if problem:
            raise _fail(where, problem)
    elif isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise _fail(where, "keys must be strings")
            _compile_all(v, path_of(where, k), path_of(rel, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _compile_all(v, path_of(where, i), path_of(rel, i))
    elif value is not None and not isinstance(value, bool | int | float):
        raise _fail(where, f"unsupported value of type {type(value).__name__}")


def _buttons(buttons: Any, where: str, level: int) -> int:
    """Check a card's (level 1) or a menu's (level 2) buttons; returns how many level-2 ones."""
    if not isinstance(buttons, list) or not buttons:
        raise _fail(where, "required, a non-empty list of buttons")
    if level == 1 and len(buttons) > MAX_TOP_BUTTONS:
        raise _fail(where, f"at most {MAX_TOP_BUTTONS} buttons on a card")
    below = 0
    for i, button in enumerate(buttons):
        here = path_of(where, i)
        if not isinstance(button, dict):
            raise _fail(here, "a button is an object with label and type")
        _string(button, "label", here)
        if "{" not in button["label"] and len(button["label"]) > MAX_LABEL:
            raise _fail(path_of(here, "label"), f"at most {MAX_LABEL} characters")
        kind = button.get("type")
        if kind not in BUTTON_TYPES:
            raise _fail(path_of(here, "type"), f"one of {', '.join(BUTTON_TYPES)}")
        if kind == "menu":
            if level >= 2:
                raise _fail(path_of(here, "type"), "menus nest at most 2 levels")
            below += _buttons(button.get("buttons"), path_of(here, "buttons"), level + 1)
            continue
        field = {"url": "url", "reply": "reply", "call": "phone"}[kind]
        _string(button, field, here)
        if kind == "call" and "{" not in button["phone"] and not _E164.match(button["phone"]):
            raise _fail(path_of(here, "phone"), "an E.164 number, e.g. +864008001234")
        if "buttons" in button:
            raise _fail(path_of(here, "buttons"), f"only a menu button has buttons, not a {kind} button")
    if level == 1 and below > MAX_SUB_BUTTONS:
        raise _fail(where, f"at most {MAX_SUB_BUTTONS} buttons in all the menus of a card")
    return len(buttons) if level == 2 else below


def _check_channel(channel: str, body: dict[str, Any], where: str) -> None:
    if channel.startswith("wecom_"):
        _string(body, "text", where)
        attachments = body.get("attachments", [])
        if not isinstance(attachments, list) or len(attachments) > MAX_ATTACHMENTS:
            raise _fail(path_of(where, "attachments"), f"a list of at most {MAX_ATTACHMENTS} material keys")
        for i, key in enumerate(attachments):
            try:
                check_slug(key if isinstance(key, str) else "")
            except ValueError:
                raise _fail(path_of(path_of(where, "attachments"), i), "a material key") from None
    elif channel == "sms":
        _string(body, "template_code", where)
        params = _dict(body, "params", where)
        for name, value in params.items():
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise _fail(path_of(path_of(where, "params"), name), "a string or number")
        _string(body, "text", where)
        _string(body, "sign_name", where, required=False)
    elif channel == "smart_sms":
        card = _dict(body, "card", where)
        here = path_of(where, "card")
        _string(card, "title", here)
        _string(card, "body", here)
        _buttons(card.get("buttons"), path_of(here, "buttons"), 1)
        fallback = _dict(body, "fallback", where)
        _string(fallback, "text", path_of(where, "fallback"))
        _string(fallback, "sign_name", path_of(where, "fallback"), required=False)
    elif channel == "email":
        _string(body, "subject", where)
        if not any(isinstance(body.get(k), str) and body[k].strip() for k in ("text", "html")):
            raise _fail(path_of(where, "text"), "an email needs text or html")
    elif channel == "webhook":
        _string(body, "event", where)
        if "data" in body and not isinstance(body["data"], dict):
            raise _fail(path_of(where, "data"), "an object")


def check_body(channel: str, body: dict[str, Any], where: str = "body") -> None:
    """Raise ``ValueError("path: problem")`` unless ``body`` suits ``channel``."""
    _check_channel(channel, body, where)
    _compile_all(body, where, "")


def check_templates(body: dict[str, Any], where: str = "content") -> None:
    """Raise ``ValueError("path: problem")`` when a string of ``body`` does not compile or
    breaks the sandbox or its limits (inline content of a journey step, whatever its shape)."""
    _compile_all(body, where, "")


def merge_variant(body: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A variant's body: ``override`` laid over ``body`` (objects merge, anything else replaces)."""
    out = dict(body)
    for k, v in override.items():
        out[k] = merge_variant(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def check_channel_name(channel: str) -> str:
    if channel not in MESSAGE_CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; one of {', '.join(MESSAGE_CHANNELS)}")
    return channel


class TemplateFields(BaseModel):
    """Everything of a template but its key (what an update replaces)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    channel: str = Field(description="One of the message channels: wecom_private, sms, email, …")
    scenario: str | None = Field(
        default=None, min_length=1, max_length=64, description="welcome, birthday, …"
    )
    stage: str | None = Field(default=None, description="The journey stage it is written for.")
    tags: list[str] = Field(default_factory=list, max_length=20)
    body: dict[str, Any]
    variants: dict[str, dict[str, Any]] = Field(default_factory=dict, max_length=26)
    transactional: bool = Field(default=False, description="Service message: not a marketing send.")

    @field_validator("channel")
    @classmethod
    def _channel(cls, v: str) -> str:
        return check_channel_name(v)

    @field_validator("stage")
    @classmethod
    def _stage(cls, v: str | None) -> str | None:
        if v is not None and v not in STAGES:
            raise ValueError(f"unknown stage {v!r}; one of {', '.join(STAGES)}")
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        for tag in v:
            if not tag.strip() or len(tag) > 64 or any(ord(c) < 32 for c in tag):
                raise ValueError(f"tag {tag!r}: 1-64 characters, no control characters")
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _bodies(self) -> TemplateFields:
        check_body(self.channel, self.body)
        for name, override in self.variants.items():
            if not _VARIANT.match(name):
                raise ValueError(f"variants.{name}: use 1-32 lower-case letters, digits, '-' or '_'")
            check_body(self.channel, merge_variant(self.body, override), f"variants.{name}")
        return self


class TemplateCreate(TemplateFields):
    key: str = Field(description="Slug: 1-64 lower-case letters, digits, '-' or '_'.")

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        return check_slug(v)


# --- materials ------------------------------------------------------------------------------------
MATERIAL_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required, optional) — the fields of WeCom's attachment objects, plus ``file``: an
    # image uploaded to siyu (content/files.py), which stands in for media_id / pic_media_id
    # until the WeCom adapter uploads it.
    "image": ((), ("media_id", "pic_url", "file")),
    "link": (("title", "url"), ("picurl", "desc")),
    "miniprogram": (("title", "appid", "page"), ("pic_media_id", "file")),
}
_FILE_ID = re.compile(r"^[0-9a-f]{64}$")


class MaterialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    kind: Literal["image", "link", "miniprogram"]
    data: dict[str, Any]

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        return check_slug(v)

    @model_validator(mode="after")
    def _data(self) -> MaterialCreate:
        required, optional = MATERIAL_FIELDS[self.kind]
        for name, value in self.data.items():
            if name not in required + optional:
                raise ValueError(
                    f"data.{name}: unknown field; a {self.kind} has {', '.join(required + optional)}"
                )
            if not isinstance(value, str) or not value.strip() or len(value) > 2000:
                raise ValueError(f"data.{name}: a non-empty string of at most 2000 characters")
        for name in required:
            if name not in self.data:
                raise ValueError(f"data.{name}: required for a {self.kind}")
        if self.kind == "image" and not self.data:
            raise ValueError("data.file: an image needs an uploaded file, media_id or pic_url")
        if self.kind == "miniprogram" and not ({"pic_media_id", "file"} & self.data.keys()):
            raise ValueError("data.file: a mini-program card needs a cover: an uploaded file or pic_media_id")
        if "file" in self.data and not _FILE_ID.match(self.data["file"]):
            raise ValueError("data.file: the id of an uploaded file")
        for name in ("url", "pic_url", "picurl"):
            if name in self.data and not _URL.match(self.data[name]):
                raise ValueError(f"data.{name}: an http(s) URL")
        return self
