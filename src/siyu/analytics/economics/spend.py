"""Channel spend: the cost side of channel economics, imported from ad platforms' CSV exports.

Files are ``channel,campaign,period_start,period_end,amount[,currency,impressions,clicks]``,
one row per channel (optionally a campaign) and period, both days inclusive. A bad row is
rejected with its line, field and reason and the good rows are stored: an operator fixes the
few bad lines and imports the file again, which is safe because a row is keyed by (channel,
campaign, period) and a re-import updates it instead of adding the spend a second time.

Channels are named by key or by name; either resolves to the channel's key, so a file that
says ``企业微信`` and one that says ``wecom`` update the same row. A name two channels share is
rejected (the key is unambiguous). The service never commits; the caller owns the unit of work.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from siyu.analytics.base import FIRST_DAY, LAST_DAY
from siyu.audit import service as audit
from siyu.store.models import Channel, ChannelSpend, utcnow

REQUIRED = ("channel", "campaign", "period_start", "period_end", "amount")
OPTIONAL = ("currency", "impressions", "clicks")
DEFAULT_CURRENCY = "CNY"
#: Amounts are stored as NUMERIC(18, 4): more decimals would be rounded silently, so they are refused.
AMOUNT_DECIMALS = 4
MAX_AMOUNT = Decimal("1e14")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_INT = re.compile(r"^\d+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SpendImportError(ValueError):
    """The file as a whole cannot be read (missing or unknown columns, not UTF-8, not found)."""


@dataclass
class RejectedRow:
    #: line of the file (the header is line 1)
    line: int
    field: str
    reason: str
    value: str | None = None


@dataclass
class SpendImportReport:
    source: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SpendRow:
    """One valid row, as stored."""

    channel_id: int
    channel: str
    campaign: str | None
    period_start: date
    period_end: date
    amount: Decimal
    currency: str
    impressions: int | None
    clicks: int | None

    @property
    def key(self) -> tuple[str, str, date, date]:
        return (self.channel, self.campaign or "", self.period_start, self.period_end)


class _Bad(ValueError):
    def __init__(self, field: str, reason: str, value: str | None = None) -> None:
        super().__init__(reason)
        self.field, self.reason, self.value = field, reason, value


# --- repository ------------------------------------------------------------------------------------
class SpendRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def for_keys(self, channels: Iterable[str]) -> list[ChannelSpend]:
        names = sorted(set(channels))
        if not names:
            return []
        return list(self.session.scalars(select(ChannelSpend).where(ChannelSpend.channel.in_(names))))

    def overlapping(self, start: date, end: date) -> list[ChannelSpend]:
        """Rows whose period shares at least one day with [start, end]."""
        stmt = select(ChannelSpend).where(ChannelSpend.period_start <= end, ChannelSpend.period_end >= start)
        return list(self.session.scalars(stmt.order_by(ChannelSpend.id)))

    def listing(
        self, channel: str | None = None, start: date | None = None, end: date | None = None
    ) -> list[ChannelSpend]:
        """Stored rows, optionally of one channel (key or name) and overlapping [start, end]."""
        stmt = select(ChannelSpend)
        if channel is not None:
            named = select(Channel.id).where(Channel.name == channel)
            stmt = stmt.where(or_(ChannelSpend.channel == channel, ChannelSpend.channel_id.in_(named)))
        if start is not None:
            stmt = stmt.where(ChannelSpend.period_end >= start)
        if end is not None:
            stmt = stmt.where(ChannelSpend.period_start <= end)
        order = (ChannelSpend.channel, ChannelSpend.period_start, ChannelSpend.campaign, ChannelSpend.id)
        return list(self.session.scalars(stmt.order_by(*order)))

    def channels(self) -> list[Channel]:
        return list(self.session.scalars(select(Channel).order_by(Channel.id)))


# --- parsing ---------------------------------------------------------------------------------------
class _Channels:
    """Channel lookup by key, then by name (unique names only)."""

    def __init__(self, channels: list[Channel]) -> None:
        self.by_key = {c.key: c for c in channels}
        self.by_name: dict[str, list[Channel]] = {}
        for c in channels:
            self.by_name.setdefault(c.name, []).append(c)

    def find(self, given: str) -> Channel:
        if given in self.by_key:
            return self.by_key[given]
        named = self.by_name.get(given, [])
        if len(named) == 1:
            return named[0]
        if named:
            keys = ", ".join(sorted(c.key for c in named))
            raise _Bad("channel", f"the name {given!r} is shared by channels {keys}; use the key", given)
        raise _Bad("channel", f"unknown channel {given!r} (neither a channel key nor a name)", given)


def _date(name: str, raw: str) -> date:
    if not _DATE.match(raw):
        raise _Bad(name, "expected a date as YYYY-MM-DD", raw)
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise _Bad(name, "not a calendar date", raw) from None
    if not FIRST_DAY <= day <= LAST_DAY:  # a typo such as 9999: ROI could not count its days
        raise _Bad(name, f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}", raw)
    return day


def _amount(raw: str) -> Decimal:
    try:
        value = Decimal(raw.replace(",", "")) if raw else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise _Bad("amount", "expected a number", raw)
    if value < 0:
        raise _Bad("amount", "must be 0 or more", raw)
    if value >= MAX_AMOUNT:
        raise _Bad("amount", "too large", raw)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -AMOUNT_DECIMALS:
        raise _Bad("amount", f"at most {AMOUNT_DECIMALS} decimal places", raw)
    return value.quantize(Decimal(1).scaleb(-AMOUNT_DECIMALS))


def _count(name: str, raw: str) -> int | None:
    if raw == "":
        return None
    if not _INT.match(raw) or len(raw) > 18:
        raise _Bad(name, "expected a whole number, 0 or more", raw)
    return int(raw)


def parse_row(raw: Mapping[str, str | None], channels: _Channels) -> SpendRow:
    """One row of the file; raises ``_Bad`` naming the first bad field."""
    get = {k: (raw.get(k) or "").strip() for k in (*REQUIRED, *OPTIONAL)}
    if not get["channel"]:
        raise _Bad("channel", "required")
    channel = channels.find(get["channel"])
    campaign = get["campaign"] or None
    if campaign is not None and len(campaign) > 200:
        raise _Bad("campaign", "at most 200 characters", campaign[:40] + "…")
    if campaign is not None and _CONTROL.search(campaign):  # PostgreSQL refuses NUL in text
        shown = campaign[:40].encode("unicode_escape").decode()
        raise _Bad("campaign", "control characters are not allowed", shown)
    start = _date("period_start", get["period_start"])
    end = _date("period_end", get["period_end"])
    if end < start:
        raise _Bad("period_end", f"before period_start ({start.isoformat()})", get["period_end"])
    amount = _amount(get["amount"])
    currency = (get["currency"] or DEFAULT_CURRENCY).upper()
    if not _CURRENCY.match(currency):
        raise _Bad("currency", "expected a three-letter ISO 4217 code such as CNY", get["currency"])
    impressions = _count("impressions", get["impressions"])
    clicks = _count("clicks", get["clicks"])
    if impressions is not None and clicks is not None and clicks > impressions:
        raise _Bad("clicks", f"more clicks than impressions ({impressions})", get["clicks"])
    return SpendRow(channel.id, channel.key, campaign, start, end, amount, currency, impressions, clicks)


def _check_header(name: str, header: list[str]) -> None:
    """Line 1 of the file: every required column once, no unknown, unnamed or repeated one."""
    problems = []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    unnamed = [str(i) for i, h in enumerate(header, start=1) if not h]
    if unnamed:
        problems.append(f"column(s) {', '.join(unnamed)} without a name")
    unknown = [c for c in header if c and c not in (*REQUIRED, *OPTIONAL)]
    if unknown:
        problems.append(f"unknown column(s) {', '.join(unknown)}")
    repeated = sorted({c for c in header if c and header.count(c) > 1})
    if repeated:
        problems.append(f"column(s) {', '.join(repeated)} given more than once")
    if problems:
        expected = ",".join(REQUIRED) + "[," + ",".join(OPTIONAL) + "]"
        raise SpendImportError(f"{name}: line 1 (header): {'; '.join(problems)} (expected {expected})")


def read_csv(path: Path, name: str | None = None) -> Iterator[tuple[int, dict[str, str | None]]]:
    """(line, row) of a spend CSV, after checking its header; UTF-8, with or without a BOM.
    ``name`` is what errors call the file (an upload's own name rather than a temporary one)."""
    name = name or path.name
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise SpendImportError(f"{name}: {exc.strerror or exc}") from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = [h.strip() for h in reader.fieldnames or []]
        except UnicodeDecodeError:
            raise SpendImportError(f"{name}: not UTF-8 text") from None
        except csv.Error as exc:  # a NUL byte, a field over the csv module's size limit
            raise SpendImportError(f"{name}: line 1 (header): {exc}") from None
        _check_header(name, header)
        reader.fieldnames = header
        try:
            for row in reader:
                if None in row:  # more cells than header columns
                    yield reader.line_num, {"__extra__": "1"}
                    continue
                if not any((v or "").strip() for v in row.values()):
                    continue  # blank line
                yield reader.line_num, row
        except UnicodeDecodeError:
            raise SpendImportError(f"{name}: not UTF-8 text (after line {reader.line_num})") from None
        except csv.Error as exc:
            raise SpendImportError(f"{name}: line {reader.line_num + 1}: {exc}") from None


# --- service ---------------------------------------------------------------------------------------
class SpendService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.repo = SpendRepository(session)

    def import_csv(self, path: Path, actor: str = "system", name: str | None = None) -> SpendImportReport:
        """``name``: what the report and errors call the file (default: its file name)."""
        name = name or Path(path).name
        return self.import_rows(read_csv(Path(path), name), name, actor)

    def import_rows(
        self, rows: Iterable[tuple[int, Mapping[str, str | None]]], source: str, actor: str = "system"
    ) -> SpendImportReport:
        """Validate every row, keep the good ones, upsert them by (channel, campaign, period)."""
        report = SpendImportReport(source=source[:200])
        channels = _Channels(self.repo.channels())
        valid: dict[tuple[str, str, date, date], tuple[int, SpendRow]] = {}
        for line, raw in rows:
            report.rows += 1
            try:
                if "__extra__" in raw:
                    raise _Bad("row", "more cells than the header has columns")
                row = parse_row(raw, channels)
                if row.key in valid:
                    first = valid[row.key][0]
                    raise _Bad("period_start", f"same channel, campaign and period as line {first}")
            except _Bad as bad:
                report.rejected.append(RejectedRow(line, bad.field, bad.reason, bad.value))
                continue
            valid[row.key] = (line, row)
        self._upsert([row for _, row in valid.values()], report)
        audit.record(
            self.session,
            actor,
            "spend.imported",
            "channel_spend",
            None,
            {k: v for k, v in report.to_dict().items() if k != "rejected"}
            | {"rejected": len(report.rejected)},
        )
        return report

    def _upsert(self, rows: list[SpendRow], report: SpendImportReport) -> None:
        stored = {
            (r.channel, r.campaign or "", r.period_start, r.period_end): r
            for r in self.repo.for_keys(row.channel for row in rows)
        }
        now = utcnow()
        for row in rows:
            old = stored.get(row.key)
            values = {
                "channel_id": row.channel_id,
                "amount": row.amount,
                "currency": row.currency,
                "impressions": row.impressions,
                "clicks": row.clicks,
            }
            if old is None:
                self.session.add(
                    ChannelSpend(
                        channel=row.channel,
                        campaign=row.campaign,
                        period_start=row.period_start,
                        period_end=row.period_end,
                        source=report.source,
                        imported_at=now,
                        **values,
                    )
                )
                report.inserted += 1
            elif any(_differs(getattr(old, k), v) for k, v in values.items()):
                for k, v in values.items():
                    setattr(old, k, v)
                old.source, old.imported_at = report.source, now
                report.updated += 1
            else:
                report.unchanged += 1
        self.session.flush()

    def list(
        self, channel: str | None = None, start: date | None = None, end: date | None = None
    ) -> list[dict[str, Any]]:
        return [spend_dict(r) for r in self.repo.listing(channel, start, end)]


def _differs(old: Any, new: Any) -> bool:
    if isinstance(new, Decimal) and old is not None:
        return Decimal(old) != new
    return bool(old != new)


def spend_dict(r: ChannelSpend) -> dict[str, Any]:
    return {
        "id": r.id,
        "channel": r.channel,
        "channel_id": r.channel_id,
        "campaign": r.campaign,
        "period_start": r.period_start.isoformat(),
        "period_end": r.period_end.isoformat(),
        "amount": float(r.amount),
        "currency": r.currency,
        "impressions": r.impressions,
        "clicks": r.clicks,
        "source": r.source,
        "imported_at": r.imported_at.isoformat(),
    }


__all__ = [
    "RejectedRow",
    "SpendImportError",
    "SpendImportReport",
    "SpendRepository",
    "SpendRow",
    "SpendService",
    "parse_row",
    "read_csv",
    "spend_dict",
]
