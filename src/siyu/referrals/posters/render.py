"""Drawing a poster with Pillow: pure, no database and no network (the service hands in what
was fetched), so the same inputs always give the same PNG and the cache can trust its key.

Text needs a CJK font: Pillow's built-in bitmap font has no Chinese, and would draw nicknames
and campaign names as empty boxes. :func:`find_font` takes SIYU_POSTER_FONT, else a font the
system has (``.ci/run`` installs fonts-wqy-microhei), else refuses with what to install."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont, ImageOps

from siyu.referrals.posters.template import FontMissing, PosterTemplate, TextBox, fill

#: Debian/Ubuntu paths of CJK fonts, most common first (fonts-wqy-microhei, fonts-wqy-zenhei,
#: fonts-noto-cjk, fonts-droid-fallback).
KNOWN_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
INSTALL_HINT = "apt-get install fonts-wqy-microhei, or set SIYU_POSTER_FONT to a .ttf/.ttc/.otf with Chinese"
#: Palette of the initial-letter avatars (the nickname's hash picks one: stable per person).
AVATAR_COLOURS = ("#E67E22", "#16A085", "#2980B9", "#8E44AD", "#C0392B", "#27AE60", "#D35400")


@dataclass(frozen=True)
class Inputs:
    """What one poster shows. Images are None when missing or not fetchable."""

    nickname: str
    campaign: str
    link: str
    avatar: Image.Image | None = None
    qr: Image.Image | None = None
    background: Image.Image | None = None


def find_font(configured: Path | None) -> Path:
    """The CJK font file to draw with; :class:`FontMissing` names the setting and the package."""
    if configured is not None:
        if not configured.is_file():
            raise FontMissing(
                f"SIYU_POSTER_FONT: {configured} is not a font file; {INSTALL_HINT}",
                field="SIYU_POSTER_FONT",
                zh=f"海报字体文件不存在：{configured}（请安装 fonts-wqy-microhei 或设置 SIYU_POSTER_FONT）",
            )
        return configured
    found = _system_font()
    if found is None:
        raise FontMissing(
            f"no CJK font found for posters; {INSTALL_HINT}",
            field="SIYU_POSTER_FONT",
            zh="服务器上没有中文字体，无法生成海报（请安装 fonts-wqy-microhei 或设置 SIYU_POSTER_FONT）",
        )
    return found


@lru_cache(maxsize=1)
def _system_font() -> Path | None:
    for candidate in KNOWN_FONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:  # fontconfig knows fonts installed elsewhere (other distributions, ~/.fonts)
        listed = subprocess.run(
            [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line.split(":")[0].strip() for line in listed.splitlines() if line.strip())
    return Path(files[0]) if files else None


@lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(path, size)
    except OSError as exc:
        raise FontMissing(
            f"SIYU_POSTER_FONT: {path} cannot be read as a font ({exc}); {INSTALL_HINT}",
            field="SIYU_POSTER_FONT",
            zh=f"海报字体无法读取：{path}",
        ) from None


def qr_matrix(link: str) -> list[list[bool]]:
    """The QR code of ``link`` with a 2-module quiet zone (medium error correction: a poster is
    often photographed or printed)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=2)
    code.add_data(link)
    code.make(fit=True)
    return code.get_matrix()


def qr_image(link: str, size: int) -> Image.Image:
    """The QR code drawn on a white ``size`` square with whole-pixel modules (scanners dislike
    modules of uneven width), centred."""
    matrix = qr_matrix(link)
    n = len(matrix)
    module = max(1, size // n)
    small = Image.new("L", (n, n), 255)
    small.putdata([0 if dark else 255 for row in matrix for dark in row])
    drawn = small.resize((n * module, n * module), Image.Resampling.NEAREST)
    square = Image.new("RGBA", (size, size), "white")
    offset = (size - drawn.width) // 2
    square.paste(drawn.convert("RGBA"), (offset, offset))
    return square


def initial_avatar(nickname: str, size: int, font_path: str) -> Image.Image:
    """A coloured disc with the nickname's first character: the avatar when none can be had."""
    letter = (nickname.strip()[:1] or "?").upper()
    colour = AVATAR_COLOURS[hashlib.sha256(nickname.encode()).digest()[0] % len(AVATAR_COLOURS)]
    img = Image.new("RGBA", (size, size), colour)
    draw = ImageDraw.Draw(img)
    draw.text(
        (size / 2, size / 2), letter, font=_font(font_path, max(8, size // 2)), fill="white", anchor="mm"
    )
    return img


def _mask(size: int, shape: str) -> Image.Image:
    mask = Image.new("L", (size * 4, size * 4), 0)  # drawn 4× and reduced: a smooth edge
    if shape == "circle":
        ImageDraw.Draw(mask).ellipse((0, 0, size * 4 - 1, size * 4 - 1), fill=255)
    else:
        mask.paste(255, (0, 0, size * 4, size * 4))
    return mask.resize((size, size), Image.Resampling.LANCZOS)


def _text(draw: ImageDraw.ImageDraw, box: TextBox, text: str, font_path: str) -> None:
    """``text`` in ``box``: shrunk (to half its size at most) to fit ``max_width``, then cut
    with an ellipsis, so a long nickname never runs off the poster."""
    size = box.font_size
    font = _font(font_path, size)
    if box.max_width:
        while draw.textlength(text, font=font) > box.max_width and size > max(8, box.font_size // 2):
            size -= 1
            font = _font(font_path, size)
        while len(text) > 1 and draw.textlength(text, font=font) > box.max_width:
            text = text[:-2] + "…"
    anchor = {"left": "la", "center": "ma", "right": "ra"}[box.align]
    draw.text((box.x, box.y), text, font=font, fill=box.color, anchor=anchor)


def render(template: PosterTemplate, inputs: Inputs, font_path: Path) -> bytes:
    """The poster as PNG bytes."""
    font = str(font_path)
    size = (template.width, template.height)
    canvas = Image.new("RGBA", size, template.background.color)
    if inputs.background is not None:
        canvas.alpha_composite(
            ImageOps.fit(inputs.background.convert("RGBA"), size, Image.Resampling.LANCZOS)
        )
    if template.avatar:
        box = template.avatar
        face = inputs.avatar or initial_avatar(inputs.nickname, box.size, font)
        face = ImageOps.fit(face.convert("RGBA"), (box.size, box.size), Image.Resampling.LANCZOS)
        canvas.paste(face, (box.x, box.y), _mask(box.size, box.shape))
    q = template.qr
    code = inputs.qr.convert("RGBA").resize((q.size, q.size), Image.Resampling.LANCZOS) if inputs.qr else None
    canvas.paste(code or qr_image(inputs.link, q.size), (q.x, q.y))
    draw = ImageDraw.Draw(canvas)
    if template.nickname:
        _text(draw, template.nickname, inputs.nickname, font)
    for line in template.texts:
        _text(draw, line, fill(line.text, inputs.nickname, inputs.campaign), font)
    out = io.BytesIO()
    canvas.convert("RGB").save(out, format="PNG")
    return out.getvalue()
