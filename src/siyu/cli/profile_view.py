"""``siyu contacts show`` as tables: who the contact is (identifiers masked, traits, tags), how
they came (touches), what they did lately (recent events) and which traits changed."""

from __future__ import annotations

from typing import Any

import orjson
from rich.table import Table

from siyu.cli.common import out
from siyu.i18n import t

#: Recent events printed (``--json`` has the profile's full recent list).
SHOWN_EVENTS = 10


def _short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return text if len(text) <= width else text[: width - 1] + "…"


def _at(stamp: str | None) -> str:
    return (stamp or "-")[:19].replace("T", " ")


def print_profile(data: dict[str, Any]) -> None:
    table = Table(title=f"#{data['id']}", show_header=False)
    table.add_column("field")
    table.add_column("value")
    for ident in data["identifiers"]:
        table.add_row(ident["type"], ident["value"])
    for k, v in data["traits"].items():
        table.add_row(k, _short(v))
    table.add_row(t("profile_first_channel"), str(data["first_channel"] or "-"))
    table.add_row(t("profile_tags"), ", ".join(tag["key"] for tag in data.get("tags", [])) or "-")
    table.add_row(t("profile_events"), str(data["event_count"]))
    out.print(table)
    if data.get("touches"):
        touches = Table(title=t("profile_touches"))
        for col in ("at", "channel", "first"):
            touches.add_column(t(f"profile_col_{col}"))
        for touch in data["touches"]:
            touches.add_row(_at(touch["at"]), str(touch["channel"] or "-"), "✓" if touch["first"] else "")
        out.print(touches)
    if data.get("recent_events"):
        events = Table(title=t("profile_recent", n=min(SHOWN_EVENTS, len(data["recent_events"]))))
        for col in ("at", "event", "properties"):
            events.add_column(t(f"profile_col_{col}"))
        for e in data["recent_events"][:SHOWN_EVENTS]:
            events.add_row(_at(e["timestamp"]), e["event"] or e["type"], _short(e["properties"] or {}))
        out.print(events)
    if data.get("trait_history"):
        changes = Table(title=t("profile_trait_history"))
        for col in ("at", "trait", "previous", "value"):
            changes.add_column(t(f"profile_col_{col}"))
        for h in data["trait_history"]:
            prev = "-" if h["previous"] is None else _short(h["previous"], 30)
            changes.add_row(_at(h["at"]), h["name"], prev, _short(h["value"], 30))
        out.print(changes)
