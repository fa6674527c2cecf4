"""``siyu loyalty verify``: proves the ledger's rows agree with each other.

Every check is one aggregate query, so it runs on a full production ledger; each problem names
the check and the entry or member it concerns (at most ``limit`` problems are listed, all are
counted).

1. ``award_remaining``: an award's ``remaining`` is its points minus its draws, within 0…points;
   a voided or expired award has nothing left.
2. ``draw``: a draw is positive, from an award, of the same member as its entry.
3. ``entry_draws``: a spend or an expiry is exactly its draws; a clawback is at least its draws,
   and more only while it is a negative balance (``status`` negative).
4. ``draw_time``: a spend drew only from an award that was released and unexpired when it was
   made; an expiry only from one past its expiry. (A clawback may draw from its own order's
   pending award, and repays of a negative balance happen after the clawback; neither is timed.)
5. ``balance``: per member, the sum of all entries equals what the awards hold minus what is owed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from siyu.store.models import LoyaltyMember, PointsDraw, PointsEntry

E = PointsEntry
D = PointsDraw


def verify(session: Session, *, limit: int = 100) -> dict[str, Any]:
    problems: list[dict[str, Any]] = []
    counts: dict[str, int] = {}

    def add(check: str, rows: Any, describe: Any) -> None:
        for row in rows:
            counts[check] = counts.get(check, 0) + 1
            if len(problems) < limit:
                problems.append({"check": check, **describe(row)})

    drawn = select(D.award_id, func.sum(D.points).label("n")).group_by(D.award_id).subquery()
    taken = func.coalesce(drawn.c.n, 0)
    add(
        "award_remaining",
        session.execute(
            select(E.id, E.contact_id, E.points, E.remaining, taken, E.status)
            .outerjoin(drawn, drawn.c.award_id == E.id)
            .where(
                E.kind == "award",
                or_(
                    E.remaining != E.points - taken,
                    E.remaining < 0,
                    E.remaining > E.points,
                    and_(E.status.in_(("voided", "expired")), E.remaining != 0),
                ),
            )
        ),
        lambda r: {
            "entry_id": r[0],
            "contact_id": r[1],
            "detail": f"points {r[2]}, remaining {r[3]}, drawn {r[4]}, {r[5]}",
        },
    )

    A = aliased(E)
    add(
        "draw",
        session.execute(
            select(D.id, D.entry_id, D.award_id, D.points)
            .join(E, E.id == D.entry_id)
            .join(A, A.id == D.award_id)
            .where(
                or_(
                    D.points <= 0,
                    A.kind != "award",
                    E.kind == "award",
                    A.contact_id != E.contact_id,
                    D.contact_id != E.contact_id,
                )
            )
        ),
        lambda r: {"entry_id": r[1], "award_id": r[2], "detail": f"draw {r[0]} of {r[3]}"},
    )

    by_entry = select(D.entry_id, func.sum(D.points).label("n")).group_by(D.entry_id).subquery()
    got = func.coalesce(by_entry.c.n, 0)
    add(
        "entry_draws",
        session.execute(
            select(E.id, E.contact_id, E.kind, E.points, got, E.status)
            .outerjoin(by_entry, by_entry.c.entry_id == E.id)
            .where(
                E.kind != "award",
                or_(
                    and_(E.kind.in_(("spend", "expire")), -E.points != got),
                    and_(E.kind == "clawback", -E.points < got),
                    and_(E.kind == "clawback", E.status != "negative", -E.points != got),
                    E.points > 0,
                ),
            )
        ),
        lambda r: {"entry_id": r[0], "contact_id": r[1], "detail": f"{r[2]} {r[3]}, drawn {r[4]}, {r[5]}"},
    )

    add(
        "draw_time",
        session.execute(
            select(E.id, E.contact_id, E.kind, A.id)
            .select_from(D)
            .join(E, E.id == D.entry_id)
            .join(A, A.id == D.award_id)
            .where(
                or_(
                    and_(
                        E.kind == "spend",
                        or_(
                            func.coalesce(A.available_at, A.created_at) > E.created_at,
                            and_(A.expires_at.is_not(None), A.expires_at <= E.created_at),
                        ),
                    ),
                    and_(E.kind == "expire", or_(A.expires_at.is_(None), A.expires_at > E.created_at)),
                )
            )
        ),
        lambda r: {
            "entry_id": r[0],
            "contact_id": r[1],
            "award_id": r[3],
            "detail": f"{r[2]} drew outside the award's life",
        },
    )

    owed = (
        select(E.contact_id, func.sum(-E.points - func.coalesce(by_entry.c.n, 0)).label("owed"))
        .outerjoin(by_entry, by_entry.c.entry_id == E.id)
        .where(E.kind == "clawback")
        .group_by(E.contact_id)
        .subquery()
    )
    sums = (
        select(
            E.contact_id.label("cid"),
            func.sum(E.points).label("total"),
            func.sum(case((E.kind == "award", E.remaining), else_=0)).label("held"),
        )
        .group_by(E.contact_id)
        .subquery()
    )
    add(
        "balance",
        session.execute(
            select(sums.c.cid, sums.c.total, sums.c.held, func.coalesce(owed.c.owed, 0))
            .outerjoin(owed, owed.c.contact_id == sums.c.cid)
            .where(sums.c.total != sums.c.held - func.coalesce(owed.c.owed, 0))
        ),
        lambda r: {"contact_id": r[0], "detail": f"entries sum {r[1]}, awards hold {r[2]}, owed {r[3]}"},
    )
    return {
        "ok": not counts,
        "members": int(session.scalar(select(func.count()).select_from(LoyaltyMember)) or 0),
        "entries": int(session.scalar(select(func.count()).select_from(E)) or 0),
        "problem_counts": counts,
        "problems": problems,
    }
