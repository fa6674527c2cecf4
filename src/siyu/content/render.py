"""Personalising a template body for one contact, safely.

Every string of a body is a Jinja2 template rendered in a ``SandboxedEnvironment``: operators
write templates, so a template may read the variables it is given but not Python internals
(``{{ ''.__class__ }}``), and may not make the process build gigabyte strings or numbers
nor run unbounded loops (the limits live in content/sandbox.py).

What operators can rely on:

* a missing value renders as the empty string, or as the filter's default
  (``{{ contact.name | default("朋友") }}``), at any depth (``{{ contact.address.city }}``),
  and arithmetic or comparisons with a missing value do not fail either;
* an error in one field (a sandbox violation, a filter given a value it cannot read) empties
  that field and is reported in :attr:`Rendered.errors` with the field's path; the other
  fields still render — the caller decides whether a message with errors may go out;
* text channels render as written; only the email ``html`` field is HTML-escaped.

Compiled templates are cached by source (the journey engine renders the same few templates
for thousands of contacts per second; compiling costs ~100 times a render).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import ChainableUndefined, Template, TemplateSyntaxError, pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context

from siyu.content.sandbox import MAX_FIELD_CHARS, Sandbox, bound
from siyu.profiles.pii import mask_email, mask_phone

DEFAULT_TIMEZONE = "Asia/Shanghai"
#: How a link looks in a preview, where no short link is created.
PREVIEW_LINK = "[link:{url}]"


class LinkTracker(Protocol):
    def track(self, url: str) -> str: ...


@dataclass
class Rendered:
    """A rendered body. ``errors`` name each field that failed (``card.buttons[0].label: …``);
    ``links`` are the tracked links it contains (short links, or marked URLs in a preview)."""

    content: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"content": self.content, "errors": list(self.errors), "links": list(self.links)}


class _PreviewLinks:
    """Stands in for a :class:`~siyu.content.links.LinkMaker` when nothing may be written."""

    def track(self, url: str) -> str:
        return PREVIEW_LINK.format(url=url)


class LenientUndefined(ChainableUndefined):
    """Missing values are empty and chainable; arithmetic with them stays missing and
    comparisons are false. The sandbox's "unsafe attribute" undefined is the exception: any use
    of it raises :class:`SecurityError`, so a probe like ``''.__class__`` is reported, not
    silently printed as nothing."""

    __slots__ = ()

    def _unsafe(self) -> bool:
        exc = self._undefined_exception
        return isinstance(exc, type) and issubclass(exc, SecurityError)

    def _missing(self, *_args: Any, **_kwargs: Any) -> LenientUndefined:
        if self._unsafe():
            self._fail_with_undefined_error()
        return self

    def _false(self, _other: Any) -> bool:
        if self._unsafe():
            self._fail_with_undefined_error()
        return False

    def __str__(self) -> str:
        self._missing()
        return ""

    def __getattr__(self, name: str) -> LenientUndefined:
        if name[:2] == "__" and name[-2:] == "__":
            raise AttributeError(name)
        return self._missing()

    def __iter__(self) -> Iterator[Any]:
        self._missing()
        return iter(())

    __getitem__ = __call__ = _missing  # type: ignore[assignment]
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _missing  # type: ignore[assignment]
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _missing  # type: ignore[assignment]
    __mod__ = __rmod__ = __pow__ = __rpow__ = __neg__ = __pos__ = _missing  # type: ignore[assignment]
    __lt__ = __le__ = __gt__ = __ge__ = _false  # type: ignore[assignment]


# --- filters and globals -------------------------------------------------------------------------
_current: ContextVar[LinkTracker | None] = ContextVar("siyu_content_links", default=None)


def _trackable(url: str) -> bool:
    return url.startswith(("https://", "http://")) and len(url) <= 2000


@pass_context  # not a pure function: keeps Jinja from folding ``'https://…' | track`` at compile time
def link(_context: Context, url: Any) -> Any:
    """``{{ link("https://…") }}`` / ``{{ url | track }}``: a tracked short link. Missing
    values stay missing; non-http(s) URLs (``tel:``, app schemes) are left as written."""
    if url is None or isinstance(url, LenientUndefined):
        return url
    text = str(url).strip()
    tracker = _current.get()
    if tracker is None or not _trackable(text):
        return text
    return tracker.track(text)


def mask(value: Any) -> Any:
    """``13800138000`` → ``138****8000``; an email → ``z***@example.com``."""
    if value is None or isinstance(value, LenientUndefined):
        return value
    text = str(value).strip()
    if "@" in text:
        return mask_email(text)
    digits = re.sub(r"[\s\-]", "", text)
    if len(digits) == 11 and digits.startswith("1") and digits.isdigit():
        digits = "+86" + digits
    if digits.lstrip("+").isdigit():
        return mask_phone(digits if digits.startswith("+") else "+" + digits)
    return text[:1] + "***" + text[-1:] if len(text) > 2 else "*" * len(text)


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name or DEFAULT_TIMEZONE))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)  # a bad trait must not stop the message


def _strftime(value: date, fmt: str) -> str:
    # Directive by directive, so Chinese text in the format ("%m月%d日") never meets the
    # C library's locale handling.
    return re.sub(r"%[a-zA-Z%]", lambda m: value.strftime(m.group()), fmt)


@pass_context
def date_filter(context: Context, value: Any, fmt: str = "%Y-%m-%d", tz: str | None = None) -> Any:
    """Format a datetime, date, ISO string or epoch seconds in the contact's time zone (the
    ``timezone`` variable, else Asia/Shanghai). Naive datetimes are UTC."""
    if value is None or isinstance(value, LenientUndefined) or value == "":
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        moment: date = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, datetime | date):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"date: cannot read {str(value)[:40]!r} as a date") from None
        if len(str(value).strip()) == 10:
            moment = moment.date()
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(_zone(tz or context.get("timezone")))
    return _strftime(moment, str(fmt))


def money(value: Any, symbol: str = "¥", decimals: int = 2) -> Any:
    """``1234.5`` → ``¥1,234.50`` (yuan, half-up rounding)."""
    if value is None or isinstance(value, LenientUndefined) or value == "":
        return value
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise ValueError(f"money: cannot read {str(value)[:40]!r} as an amount") from None
    if not amount.is_finite():
        raise ValueError(f"money: {value!r} is not an amount")
    places = max(0, min(int(decimals), 6))
    amount = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{abs(amount):,.{places}f}"


def _environment(autoescape: bool) -> Sandbox:
    env = Sandbox(
        autoescape=autoescape,
        undefined=LenientUndefined,
        keep_trailing_newline=True,
        # ``None`` (a trait set to null) prints as nothing, like a missing value.
        finalize=lambda v: "" if v is None else v,
    )
    bound(env)
    env.filters.update(mask=mask, date=date_filter, money=money, track=link)
    env.globals["link"] = link
    return env


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


@lru_cache(maxsize=8192)
def compile_template(source: str, html: bool = False) -> Template:
    """The compiled template of ``source`` (cached). Raises ``TemplateSyntaxError``."""
    return (_HTML if html else _TEXT).from_string(source)


def syntax_error(source: str, html: bool = False) -> str | None:
    """What makes a template source unusable, or None: a syntax error, or — rendered once
    without variables — a sandbox violation or a limit exceeded (a loop over ``range`` that
    would stall every send, ``''.__class__``), so the template is refused when it is saved."""
    try:
        template = compile_template(source, html)
    except TemplateSyntaxError as exc:
        return exc.message or "syntax error"
    if "{" not in source:
        return None
    token = _current.set(_PreviewLinks())
    try:
        template.render({})
    except SecurityError as exc:  # LimitExceeded included
        return str(exc)
    except Exception:  # needs real variables (a filter given a missing value): fine
        pass
    finally:
        _current.reset(token)
    return None


def is_html_field(path: str) -> bool:
    """The one field rendered with HTML escaping: the email's ``html`` body."""
    return path == "html"


# --- rendering -----------------------------------------------------------------------------------
def path_of(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def _render_value(value: Any, path: str, variables: dict[str, Any], errors: list[str]) -> Any:
    if isinstance(value, str):
        if "{" not in value:  # no Jinja syntax: nothing to render (most attachment keys, urls)
            return value
        try:
            text = compile_template(value, is_html_field(path)).render(variables)
        except Exception as exc:  # one field's failure must not stop the others
            errors.append(f"{path}: {_reason(exc)}")
            return ""
        if len(text) > MAX_FIELD_CHARS:
            errors.append(f"{path}: longer than {MAX_FIELD_CHARS} characters")
            return ""
        return text
    if isinstance(value, dict):
        return {k: _render_value(v, path_of(path, k), variables, errors) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_value(v, path_of(path, i), variables, errors) for i, v in enumerate(value)]
    return value


def _reason(exc: Exception) -> str:
    if isinstance(exc, TemplateSyntaxError):
        return exc.message or "syntax error"
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, SecurityError | ValueError) else f"{type(exc).__name__}: {text}"


def render(
    body: dict[str, Any],
    variables: dict[str, Any],
    links: LinkTracker | None,
    *,
    channel: str | None = None,
    materials: dict[str, dict[str, Any]] | None = None,
) -> Rendered:
    """Render every string of ``body`` with ``variables``. ``links`` turns URLs passed to
    ``link()`` / ``|track`` into short links (None: a preview, URLs are only marked).

    ``channel="smart_sms"`` also tracks the card's ``url`` buttons and appends them to the
    fallback SMS text (unless ``fallback.links`` is false) so a phone without card support
    still gets working, counted links. ``materials`` (key → material) turns the WeCom
    ``attachments`` list of material keys into WeCom attachment objects."""
    errors: list[str] = []
    recorder = _Recorder(links if links is not None else _PreviewLinks())
    token = _current.set(recorder)
    try:
        content = {k: _render_value(v, k, variables, errors) for k, v in body.items()}
        if channel == "smart_sms":
            _smart_sms_links(content, recorder)
        if materials is not None and isinstance(content.get("attachments"), list):
            content["attachments"] = _attachments(content["attachments"], materials, recorder, errors)
    finally:
        _current.reset(token)
    return Rendered(content, errors, list(dict.fromkeys(recorder.made)))


class _Recorder:
    """Wraps the tracker to list the links a render made."""

    def __init__(self, inner: LinkTracker) -> None:
        self.inner = inner
        self.made: list[str] = []

    def track(self, url: str) -> str:
        short = self.inner.track(url)
        self.made.append(short)
        return short


def _url_buttons(buttons: Any) -> Iterator[dict[str, Any]]:
    for button in buttons if isinstance(buttons, list) else []:
        if not isinstance(button, dict):
            continue
        if button.get("type") == "url" and isinstance(button.get("url"), str):
            yield button
        yield from _url_buttons(button.get("buttons"))


def _smart_sms_links(content: dict[str, Any], tracker: _Recorder) -> None:
    card = content.get("card")
    fallback = content.get("fallback")
    extra = []
    for button in _url_buttons(card.get("buttons") if isinstance(card, dict) else None):
        url = button["url"].strip()
        if _trackable(url):
            button["url"] = tracker.track(url)
        extra.append((str(button.get("label", "")), button["url"]))
    if not isinstance(fallback, dict) or fallback.get("links") is False:
        return
    text = str(fallback.get("text", ""))
    lines = [f"{label} {url}".strip() for label, url in extra if url not in text]
    if lines:
        fallback["text"] = "\n".join([text.rstrip(), *lines]) if text.strip() else "\n".join(lines)


def _attachments(
    keys: list[Any], materials: dict[str, dict[str, Any]], tracker: _Recorder, errors: list[str]
) -> list[dict[str, Any]]:
    """Material keys → WeCom attachment objects (``{"msgtype": "link", "link": {...}}``), the
    shape ``add_msg_template`` / ``add_moment_task`` take; link URLs are tracked."""
    out = []
    for i, key in enumerate(keys):
        material = materials.get(str(key))
        if material is None:
            errors.append(f"attachments[{i}]: unknown material {key!r}")
            continue
        kind, data = material["kind"], dict(material["data"])
        if kind == "link" and _trackable(str(data.get("url", ""))):
            data["url"] = tracker.track(str(data["url"]))
        out.append({"msgtype": kind, kind: data})
    return out
