"""How the console writes an event: its catalogue name and a summary of its properties
(``下单 ¥35.04（1件）``), never the raw name and JSON. Values the brand's data carries (a
category, an order number) are marked ``translate="no"``: they are data, not page text."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from siyu.console.format import money
from siyu.console.texts.labels import label
from siyu.events.service import EventCatalogue, EventLabel, summary

_OPEN, _CLOSE = "\x00", "\x01"


def value_html(kind: str, value: Any, lang: str) -> Markup:
    """One property value as HTML: money in ¥, codes by their labels, other values as data."""
    if kind == "money" and isinstance(value, int | float) and not isinstance(value, bool):
        return escape(money(value, lang))
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return escape(f"{value:g}")
    if kind in ("stage", "channel") and isinstance(value, str):
        return escape(label(kind, value, lang))
    text = value if isinstance(value, str) else str(value)
    return Markup('<span class="data" translate="no">{}</span>').format(text[:120])


def describe(event: EventLabel, properties: dict[str, Any] | None, lang: str) -> dict[str, Any]:
    """``title``, ``summary`` (HTML) and ``props`` (label, HTML value, labelled?) of one event."""
    values: list[Markup] = []

    def mark(kind: str, value: Any) -> str:
        values.append(value_html(kind, value, lang))
        return f"{_OPEN}{len(values) - 1}{_CLOSE}"

    text = str(escape(summary(event, properties, lang, mark)))
    for i, html in enumerate(values):
        text = text.replace(f"{_OPEN}{i}{_CLOSE}", str(html))
    props = [
        (
            event.property_label(k, lang),
            value_html(event.kind(k), v, lang),
            event.property_label(k, lang) != k,
        )
        for k, v in (properties or {}).items()
        if not isinstance(v, dict | list)
    ]
    return {"title": event.title(lang), "summary": Markup(text), "props": props}


def describe_timeline(session: Session, items: list[dict[str, Any]], lang: str) -> None:
    """Adds ``title``, ``summary`` and ``props`` to every event of a profile's timeline."""
    names = {i["name"] for i in items if i.get("kind") == "event"}
    labels = EventCatalogue(session).labels(names)
    for item in items:
        if item.get("kind") == "event":
            item.update(describe(labels[item["name"]], item.get("properties"), lang))
