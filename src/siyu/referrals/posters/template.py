"""The poster template a campaign keeps in ``settings["poster"]``: the canvas, its background,
and where the inviter's avatar, nickname, QR code and the text lines go.

Every value is checked here, once, so rendering never meets a box that does not fit the canvas
or a colour Pillow cannot read; a refusal names the field (``settings.poster.qr.size``) the way
the campaign builder shows it, in English and Chinese. Sizes are in poster pixels; the default
is 750 × 1334, the width WeChat shows a full-screen image at on a phone."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: Where the template lives in a campaign, as field names in errors start.
FIELD = "settings.poster"
#: Canvas limits: large enough for a print-quality phone poster, small enough that one render
#: (RGBA, 4 bytes a pixel) stays under ~16 MB of memory.
MIN_SIDE, MAX_SIDE = 200, 2000
MAX_TEXTS = 10
PLACEHOLDERS = ("nickname", "campaign")
_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class PosterError(ValueError):
    """A poster the referral capability refuses to make (HTTP 422): a bad template, or no font.
    ``field`` names the input to blame; ``zh`` is the problem in Chinese for the console."""

    def __init__(self, message: str, *, field: str | None = None, zh: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.message, self.field, self.zh = message, field, zh or message


class PosterNotFound(PosterError):
    """The campaign or the participant's code does not exist (HTTP 404)."""


class FontMissing(PosterError):
    """No CJK font: SIYU_POSTER_FONT is unset and none is installed, or it names no font file
    (HTTP 503: the installation, not the request, must be fixed)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


Coord = Field(ge=0, le=MAX_SIDE)


class Background(_Model):
    """A colour, or an uploaded image (a content-library material file id: the SHA-256 of its
    bytes) scaled to cover the canvas; the colour shows while the image is missing."""

    color: str = "#FFFFFF"
    file: str | None = Field(default=None, min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")


class AvatarBox(_Model):
    x: int = Coord
    y: int = Coord
    size: int = Field(ge=16, le=MAX_SIDE)
    shape: Literal["circle", "square"] = "circle"


class TextBox(_Model):
    """Text at (x, y) (its top edge; ``align`` says whether x is its left edge, centre or right
    edge), shrunk to ``max_width`` when longer."""

    x: int = Coord
    y: int = Coord
    font_size: int = Field(ge=8, le=200)
    color: str = "#333333"
    align: Literal["left", "center", "right"] = "left"
    max_width: int | None = Field(default=None, ge=16, le=MAX_SIDE)


class TextLine(TextBox):
    text: str = Field(min_length=1, max_length=200)


class QrBox(_Model):
    x: int = Coord
    y: int = Coord
    size: int = Field(ge=80, le=MAX_SIDE)


class PosterTemplate(_Model):
    width: int = Field(default=750, ge=MIN_SIDE, le=MAX_SIDE)
    height: int = Field(default=1334, ge=MIN_SIDE, le=MAX_SIDE)
    background: Background = Background()
    avatar: AvatarBox | None = None
    nickname: TextBox | None = None
    qr: QrBox
    texts: list[TextLine] = Field(default_factory=list, max_length=MAX_TEXTS)


#: The poster a campaign without a template gets: avatar and nickname at the top, the
#: campaign's name, the QR code in the middle and a line telling the friend what to do.
DEFAULT: dict[str, Any] = {
    "width": 750,
    "height": 1334,
    "background": {"color": "#FFF4E6"},
    "avatar": {"x": 60, "y": 80, "size": 120, "shape": "circle"},
    "nickname": {"x": 210, "y": 105, "font_size": 40, "color": "#333333", "max_width": 480},
    "qr": {"x": 175, "y": 560, "size": 400},
    "texts": [
        {"text": "{campaign}", "x": 375, "y": 330, "font_size": 56, "color": "#C0392B", "align": "center",
         "max_width": 650},
        {"text": "{nickname} 邀请你一起参加", "x": 375, "y": 430, "font_size": 34, "color": "#555555",
         "align": "center", "max_width": 650},
        {"text": "长按识别二维码", "x": 375, "y": 1010, "font_size": 32, "color": "#777777",
         "align": "center"},
    ],
}  # fmt: skip


_ZH = {
    "missing": "必填",
    "extra_forbidden": "不认识的字段",
    "greater_than_equal": "太小",
    "less_than_equal": "太大",
    "too_short": "太短",
    "string_too_short": "太短",
    "string_too_long": "太长",
    "too_long": "太长或太多",
    "string_pattern_mismatch": "格式不对",
    "literal_error": "不是可选的值",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "model_type": "应为对象",
    "list_type": "应为列表",
    "string_type": "应为文字",
}


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join([FIELD, *map(str, loc)])


def parse(data: Any) -> PosterTemplate:
    """The template from ``settings["poster"]`` (None: the default), checked: the first problem
    raises :class:`PosterError` naming its field."""
    if data is None:
        data = DEFAULT
    if not isinstance(data, dict):
        raise PosterError("must be an object", field=FIELD, zh="应为对象")
    try:
        template = PosterTemplate.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PosterError(
            first["msg"], field=_where(first["loc"]), zh=_ZH.get(first["type"], first["msg"])
        ) from None
    _check(template)
    return template


def _check(t: PosterTemplate) -> None:
    """What the schema alone cannot say: colours, boxes inside the canvas, known placeholders."""
    colours = [("background.color", t.background.color)]
    if t.nickname:
        colours.append(("nickname.color", t.nickname.color))
    colours += [(f"texts.{i}.color", line.color) for i, line in enumerate(t.texts)]
    for where, value in colours:
        if not _COLOUR.match(value):
            raise PosterError(
                f"{value!r} is not a colour; use #RGB, #RRGGBB or #RRGGBBAA",
                field=f"{FIELD}.{where}",
                zh="颜色格式应为 #RRGGBB",
            )
    boxes: list[tuple[str, int, int, int]] = [("qr", t.qr.x, t.qr.y, t.qr.size)]
    if t.avatar:
        boxes.append(("avatar", t.avatar.x, t.avatar.y, t.avatar.size))
    for where, x, y, size in boxes:
        if x + size > t.width or y + size > t.height:
            raise PosterError(
                f"the {size}×{size} box at ({x}, {y}) does not fit the {t.width}×{t.height} poster",
                field=f"{FIELD}.{where}",
                zh=f"超出海报范围（海报 {t.width}×{t.height}）",
            )
    texts: list[tuple[str, TextBox]] = [("nickname", t.nickname)] if t.nickname else []
    texts += [(f"texts.{i}", line) for i, line in enumerate(t.texts)]
    for where, box in texts:
        if box.x > t.width or box.y + box.font_size > t.height:
            raise PosterError(
                f"the text at ({box.x}, {box.y}) lies outside the {t.width}×{t.height} poster",
                field=f"{FIELD}.{where}",
                zh=f"超出海报范围（海报 {t.width}×{t.height}）",
            )
    for i, line in enumerate(t.texts):
        unknown = [p for p in _PLACEHOLDER.findall(line.text) if p not in PLACEHOLDERS]
        if unknown:
            raise PosterError(
                f"unknown placeholder {{{unknown[0]}}}; use {{nickname}} or {{campaign}}",
                field=f"{FIELD}.texts.{i}.text",
                zh=f"不认识的占位符 {{{unknown[0]}}}，可用 {{nickname}}、{{campaign}}",
            )


def fill(text: str, nickname: str, campaign: str) -> str:
    """A text line with its placeholders replaced (other braces are kept as written)."""
    values = {"nickname": nickname, "campaign": campaign}
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
