"""The brand's time zone: the one zone every day, "today", period bucket and shown time is in.

Decision (issue 15): one zone, not two. The brand zone is also the time zone of contacts that
carry no ``timezone`` trait (quiet hours, calendar-day caps, "day N at HH:MM" waits), so a
journey's "day 1 at 10:00" and the dashboard's "today" never disagree.

Where it comes from, first match wins:

1. ``SIYU_TIMEZONE`` (the environment wins, so an installation can pin it);
2. ``SIYU_DEFAULT_TIMEZONE``, the older name of the contacts' default zone, still honoured;
3. the stored setting ``brand.timezone``, edited in the console (设置 → 品牌时区) or with
   ``siyu brand timezone``;
4. ``Asia/Shanghai``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:  # config validates its zones here: no import cycle, and no store at import
    from sqlalchemy.orm import Session

    from siyu.config import Settings

DEFAULT_TIMEZONE = "Asia/Shanghai"
SETTING = "brand.timezone"
#: IANA names only (letters, digits, ``/ _ + -``): a zone name is spliced into SQL as a literal
#: (``AT TIME ZONE 'Asia/Shanghai'``, see ``analytics.zone``), so nothing else may pass.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}")


class ZoneError(ValueError):
    """Not a time zone this installation knows (IANA name such as ``Asia/Shanghai``)."""

    def __init__(self, name: object) -> None:
        self.message = f"unknown time zone {name!r}: expected an IANA name such as Asia/Shanghai"
        super().__init__(self.message)
        self.name = name
        self.field = "timezone"


def check_zone(name: object) -> str:
    """``name`` if it is a known IANA time zone, else ``ZoneError``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name.strip()):
        raise ZoneError(name)
    name = name.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ZoneError(name) from None
    return name


def env_timezone(settings: Settings) -> str | None:
    """The zone the environment pins (``SIYU_TIMEZONE``, else ``SIYU_DEFAULT_TIMEZONE``)."""
    return settings.timezone or settings.default_timezone


def stored_timezone(session: Session) -> str | None:
    from siyu.store.settings import get_setting

    value = get_setting(session, SETTING)
    try:
        return check_zone(value) if value else None
    except ZoneError:
        return None  # a bad stored value (edited by hand) must not stop every page


def brand_timezone(session: Session, settings: Settings) -> str:
    """The brand's time zone (see the module docstring for the order)."""
    return env_timezone(settings) or stored_timezone(session) or DEFAULT_TIMEZONE


def set_brand_timezone(session: Session, name: str) -> str:
    """Store the brand zone (the caller commits). The environment still wins when it sets one."""
    from siyu.store.settings import put_setting

    zone = check_zone(name)
    put_setting(session, SETTING, zone)
    return zone


def describe(session: Session, settings: Settings) -> dict[str, Any]:
    """The brand zone and where it comes from: ``{"timezone", "source", "stored", "pinned"}``
    (source: ``environment``, ``stored`` or ``default``; with ``pinned`` set, a stored zone has
    no effect until the variable is removed)."""
    pinned = env_timezone(settings)
    stored = stored_timezone(session)
    source = "environment" if pinned else "stored" if stored else "default"
    return {
        "timezone": pinned or stored or DEFAULT_TIMEZONE,
        "source": source,
        "stored": stored,
        "pinned": pinned,
    }


def change(session: Session, settings: Settings, name: str, actor: str) -> dict[str, Any]:
    """Store the brand zone (audited; the caller commits) and describe the result."""
    from siyu.audit.service import record

    before = stored_timezone(session)
    zone = set_brand_timezone(session, name)
    record(session, actor, "brand.timezone", "setting", SETTING, {"from": before, "to": zone})
    return describe(session, settings)
