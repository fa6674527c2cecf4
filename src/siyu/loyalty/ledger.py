"""The points ledger: awards, spends, clawbacks and expiries, each a row of ``points_entries``;
spends, expiries and clawbacks take points from awards through ``points_draws``.

Rules the rows keep (``siyu loyalty verify`` proves them):

* an award's ``remaining`` is its points minus everything drawn from it;
* a spend or an expiry is exactly the sum of its draws; a clawback is its draws plus the part
  that went negative (a debt, repaid from the member's next active points);
* spends draw only from active awards (released, unexpired), earliest expiry first, then the
  oldest; a clawback draws first from its own order's award, even while that is still pending
  (the refund window is what pending is for), then from other active awards.

Every write for a member first takes that member's lock (a PostgreSQL advisory lock held to the
end of the transaction), then *settles* the member at ``now``: releases pending awards whose
time has come, expires what is past its expiry and repays a negative balance. So a spend never
sees an award in a state the jobs have not caught up with, and two processes spending the same
points queue instead of both seeing the same balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from siyu.loyalty.programme import MAX_POINTS, LoyaltyError, expiry_for, get_programme, validity_for_source
from siyu.loyalty.sweep import LIVE, E, expire_due, release_due
from siyu.store.changes import emit_events, note_changed
from siyu.store.dialect import chunked
from siyu.store.locks import xact_locks_for
from siyu.store.models import PointsDraw, PointsEntry, utcnow

LOCK = "loyalty.points"


class InsufficientPoints(LoyaltyError):
    def __init__(self, wanted: int, available: int) -> None:
        super().__init__(
            "insufficient_points", f"needs {wanted} points, {available} available", field="points"
        )
        self.wanted = wanted
        self.available = available


@dataclass
class Balance:
    """A member's points at a moment. ``active`` can be spent; ``pending`` is still in its
    refund window; ``negative`` is owed after a clawback and comes off the next points."""

    active: int = 0
    pending: int = 0
    spent: int = 0
    expired: int = 0
    negative: int = 0
    earned: int = 0
    next_expiry: datetime | None = None
    next_expiry_points: int = 0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["next_expiry"] = self.next_expiry.isoformat() if self.next_expiry else None
        return out


def brand_tz(session: Session) -> str:
    from siyu.brand import DEFAULT_TIMEZONE, stored_timezone

    return stored_timezone(session) or DEFAULT_TIMEZONE


def check_points(points: object, field: str = "points") -> int:
    """A positive whole number of points within the programme's bound (refuses bools, floats,
    negatives and figures that would overflow a column)."""
    if isinstance(points, bool) or not isinstance(points, int):
        raise LoyaltyError("invalid_points", f"{field}: {points!r} is not a whole number", field=field)
    if not 0 < points <= MAX_POINTS:
        raise LoyaltyError("invalid_points", f"{field}: {points} is outside 1–{MAX_POINTS}", field=field)
    return points


def _text(value: str, field: str, size: int) -> str:
    text = (value or "").strip()
    if not text or len(text) > size:
        raise LoyaltyError("invalid_" + field, f"{field}: 1–{size} characters", field=field)
    return text


def _reason(value: str) -> str:
    """The reason as stored: a phone or email typed into it is masked (the ledger is read by
    every operator and copied into exports; a person's identifiers belong in identities only)."""
    from siyu.profiles.detect import DEFAULT

    return str(DEFAULT.scrub_value(_text(value, "reason", 200)))[:200]


def _external(value: str | None) -> str | None:
    if value is None:
        return None
    return _text(value, "external_id", 200)


#: Members share this many locks (id modulo): a batch of thousands of members takes at most this
#: many advisory locks, well inside PostgreSQL's shared lock table, and two single members
#: collide one time in 1,024 (they then queue, which is harmless).
LOCK_BUCKETS = 1024


def lock_members(session: Session, contact_ids: Sequence[int]) -> None:
    """Serialise points writes per member (ascending lock keys, so no two callers deadlock)."""
    xact_locks_for(session, LOCK, sorted({cid % LOCK_BUCKETS for cid in contact_ids}))


def _balance_columns(now: datetime) -> list[Any]:
    live = and_(E.kind == "award", E.status.in_(LIVE))
    unexpired = or_(E.expires_at.is_(None), E.expires_at > now)
    released = func.coalesce(E.available_at, E.created_at) <= now

    def total(cond: Any, value: Any) -> Any:
        return func.coalesce(func.sum(case((cond, value), else_=0)), 0)

    return [
        total(and_(live, released, unexpired), E.remaining),
        total(and_(live, ~released, unexpired), E.remaining),
        total(E.kind == "spend", -E.points),
        total(E.kind == "expire", -E.points) + total(and_(live, ~unexpired), E.remaining),
        total(E.kind == "award", E.remaining) - func.coalesce(func.sum(E.points), 0),
        total(E.kind.in_(("award", "clawback")), E.points),
    ]


def balances(session: Session, contact_ids: list[int], now: datetime | None = None) -> dict[int, Balance]:
    """Balances of many contacts in a few queries (contacts without entries get zeros). The
    balance is what the ledger holds *at* ``now``: an award whose pending time has passed counts
    as active and one past its expiry as expired even before the jobs have run."""
    now = now or utcnow()
    out = {cid: Balance() for cid in contact_ids}
    for chunk in chunked(sorted(set(contact_ids))):
        rows = session.execute(
            select(E.contact_id, *_balance_columns(now)).where(E.contact_id.in_(chunk)).group_by(E.contact_id)
        )
        for cid, active, pending, spent, expired, negative, earned in rows:
            out[cid] = Balance(
                int(active), int(pending), int(spent), int(expired), int(negative), int(earned)
            )
        nxt = (
            select(E.contact_id, func.min(E.expires_at).label("at"))
            .where(
                E.contact_id.in_(chunk),
                E.kind == "award",
                E.status.in_(LIVE),
                E.remaining > 0,
                E.expires_at > now,
            )
            .group_by(E.contact_id)
            .subquery()
        )
        rows = session.execute(
            select(nxt.c.contact_id, nxt.c.at, func.sum(E.remaining))
            .join(E, and_(E.contact_id == nxt.c.contact_id, E.expires_at == nxt.c.at))
            .where(E.kind == "award", E.status.in_(LIVE), E.remaining > 0)
            .group_by(nxt.c.contact_id, nxt.c.at)
        )
        for cid, at, points in rows:
            out[cid].next_expiry = at
            out[cid].next_expiry_points = int(points or 0)
    return out


class Ledger:
    def __init__(self, session: Session, *, now: datetime | None = None, tz: str | None = None) -> None:
        self.session = session
        self.now = now or utcnow()
        self._tz = tz

    @property
    def tz(self) -> str:
        if self._tz is None:
            self._tz = brand_tz(self.session)
        return self._tz

    # -- reads ---------------------------------------------------------------------------------

    def balance(self, contact_id: int) -> Balance:
        return balances(self.session, [contact_id], self.now)[contact_id]

    def entries(self, contact_id: int, *, limit: int = 200, offset: int = 0) -> list[PointsEntry]:
        return list(
            self.session.scalars(
                select(E)
                .where(E.contact_id == contact_id)
                .order_by(E.created_at.desc(), E.id.desc())
                .limit(limit)
                .offset(offset)
            )
        )

    def _existing(self, kind: str, external_id: str | None) -> PointsEntry | None:
        if external_id is None:
            return None
        return self.session.scalar(select(E).where(E.kind == kind, E.external_id == external_id))

    def _spendable(self, contact_id: int) -> list[PointsEntry]:
        return list(
            self.session.scalars(
                select(E)
                .where(
                    E.contact_id == contact_id,
                    E.kind == "award",
                    E.status == "active",
                    E.remaining > 0,
                    or_(E.expires_at.is_(None), E.expires_at > self.now),
                    func.coalesce(E.available_at, E.created_at) <= self.now,
                )
                .order_by(E.expires_at.is_(None), E.expires_at, E.available_at, E.id)
            )
        )

    # -- writes --------------------------------------------------------------------------------

    def settle(self, contact_id: int) -> None:
        """Bring one member's rows to ``now`` (under their lock): release, expire, repay."""
        self.session.flush()
        release_due(self.session, self.now, [contact_id])
        expire_due(self.session, self.now, [contact_id])
        # the statements above bypass the ORM: reload this member's entries, nothing else
        for obj in list(self.session.identity_map.values()):
            if isinstance(obj, PointsEntry) and obj.contact_id == contact_id:
                self.session.expire(obj)
        self._repay(contact_id)

    def _draw(self, entry: PointsEntry, awards: list[PointsEntry], points: int) -> int:
        """Take up to ``points`` from ``awards`` in order; how many were taken."""
        taken = 0
        for award in awards:
            if taken >= points:
                break
            n = min(award.remaining, points - taken)
            if n <= 0:
                continue
            award.remaining -= n
            taken += n
            self.session.add(
                PointsDraw(contact_id=entry.contact_id, entry_id=entry.id, award_id=award.id, points=n)
            )
        return taken

    def _repay(self, contact_id: int) -> None:
        """A negative balance is paid off by the member's active points, oldest debt first."""
        debts = list(
            self.session.scalars(
                select(E)
                .where(E.contact_id == contact_id, E.kind == "clawback", E.status == "negative")
                .order_by(E.id)
            )
        )
        if not debts:
            return
        awards = self._spendable(contact_id)
        for debt in debts:
            drawn = self.session.scalar(
                select(func.coalesce(func.sum(PointsDraw.points), 0)).where(PointsDraw.entry_id == debt.id)
            )
            owed = -debt.points - int(drawn or 0)
            owed -= self._draw(debt, awards, owed)
            if owed <= 0:
                debt.status = "done"
            else:
                break
        self.session.flush()

    def award(
        self,
        contact_id: int,
        points: int,
        *,
        source: str,
        reason: str,
        external_id: str | None = None,
        order_id: int | None = None,
        pending_until: datetime | None = None,
        expires_at: datetime | None = None,
        actor: str = "system",
    ) -> PointsEntry:
        """Award points. A repeat of an ``external_id`` returns the first award and changes
        nothing. ``expires_at`` None: the programme's validity for ``source``, counted from when
        the points become usable."""
        points = check_points(points)
        source = _text(source, "source", 32)
        reason = _reason(reason)
        external_id = _external(external_id)
        lock_members(self.session, [contact_id])
        found = self._existing("award", external_id)
        if found is not None:
            return found
        pending = pending_until is not None and pending_until > self.now
        usable = pending_until if pending and pending_until is not None else self.now
        if expires_at is None:
            expires_at = expiry_for(validity_for_source(get_programme(self.session), source), usable, self.tz)
        elif expires_at <= usable:
            raise LoyaltyError(
                "invalid_expiry", "expires_at: must be after the points become usable", field="expires_at"
            )
        entry = E(
            contact_id=contact_id,
            kind="award",
            points=points,
            remaining=points,
            status="pending" if pending else "active",
            source=source,
            reason=reason,
            external_id=external_id,
            available_at=usable,
            expires_at=expires_at,
            order_id=order_id,
            actor=actor,
            created_at=self.now,
            shortfall=0,
        )
        self.session.add(entry)
        self.session.flush()
        if not pending:
            self.settle(contact_id)  # new active points pay off a negative balance first
        self._emit("Points Earned", [(entry, {"points": points, "source": source, "reason": reason})])
        note_changed(self.session, [contact_id])
        # tiers on points earned upgrade at once (a cycle only in import, not in layering)
        from siyu.loyalty.service import LoyaltyService

        if not pending:  # pending points lift a tier when the release job frees them
            LoyaltyService(self.session, now=self.now, tz=self.tz).evaluate_tiers([contact_id])
        return entry

    def spend(
        self,
        contact_id: int,
        points: int,
        *,
        reason: str,
        external_id: str | None = None,
        actor: str = "system",
    ) -> PointsEntry:
        """Spend active points, earliest expiry first; InsufficientPoints when there are too few.
        A repeat of an ``external_id`` returns the first spend and changes nothing."""
        points = check_points(points)
        reason = _reason(reason)
        external_id = _external(external_id)
        lock_members(self.session, [contact_id])
        found = self._existing("spend", external_id)
        if found is not None:
            return found
        self.settle(contact_id)
        awards = self._spendable(contact_id)
        available = sum(a.remaining for a in awards)
        if available < points:
            raise InsufficientPoints(points, available)
        entry = E(
            contact_id=contact_id,
            kind="spend",
            points=-points,
            remaining=0,
            status="done",
            source="spend",
            reason=reason,
            external_id=external_id,
            actor=actor,
            created_at=self.now,
            shortfall=0,
        )
        self.session.add(entry)
        self.session.flush()
        self._draw(entry, awards, points)
        self.session.flush()
        self._emit("Points Spent", [(entry, {"points": points, "reason": reason})])
        note_changed(self.session, [contact_id])
        return entry

    def clawback(
        self, contact_id: int, points: int, *, reason: str, external_id: str, order_id: int | None = None
    ) -> PointsEntry | None:
        """Take points back (a refund): first from ``order_id``'s own award (a pending one is
        reduced, or voided when nothing is left), then from other active awards, then into a
        negative balance where the programme allows it; what cannot be taken is the entry's
        ``shortfall``. None when there is nothing to take (``points`` 0)."""
        if points == 0:
            return None
        points = check_points(points)
        reason = _reason(reason)
        ext = _external(external_id)
        lock_members(self.session, [contact_id])
        found = self._existing("clawback", ext)
        if found is not None:
            return found
        self.settle(contact_id)
        own: list[PointsEntry] = []
        if order_id is not None:
            own = list(
                self.session.scalars(
                    select(E)
                    .where(
                        E.contact_id == contact_id,
                        E.kind == "award",
                        E.order_id == order_id,
                        E.status.in_(LIVE),
                        E.remaining > 0,
                    )
                    .order_by(E.id)
                )
            )
        entry = E(
            contact_id=contact_id,
            kind="clawback",
            points=-points,
            remaining=0,
            status="done",
            source="refund",
            reason=reason,
            external_id=ext,
            order_id=order_id,
            related_id=own[0].id if own else None,
            actor="system",
            created_at=self.now,
            shortfall=0,
        )
        self.session.add(entry)
        self.session.flush()
        taken = self._draw(entry, own, points)
        for award in own:
            if award.status == "pending" and award.remaining == 0:
                award.status = "voided"
        others = [a for a in self._spendable(contact_id) if a not in own]
        taken += self._draw(entry, others, points - taken)
        rest = points - taken
        if rest and get_programme(self.session).allow_negative:
            entry.status = "negative"
        elif rest:
            entry.points = -taken
            entry.shortfall = rest
        self.session.flush()
        note_changed(self.session, [contact_id])
        return entry

    def _emit(self, name: str, rows: list[tuple[PointsEntry, dict[str, Any]]]) -> None:
        emit_events(
            self.session,
            name,
            ((f"{name}:{e.contact_id:012d}:{e.id}", e.contact_id, props) for e, props in rows),
            self.now,
        )
