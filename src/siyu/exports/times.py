"""Times in exported files: in the brand's time zone, as text a spreadsheet shows as is."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def local_text(value: datetime | None, zone: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:  # the system of record's naive times are UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(zone)).strftime(fmt)
