"""Anti-fraud for referrals: a score (0–100) and its reasons for every referral.

The lifecycle calls :func:`score_referrals` on new or changed referrals (an incremental pass
over their neighbourhood); the fraud job and the benchmark call :func:`rescore_campaign` (one
pass over the whole campaign, which also sees what arrived after a referral was first scored:
the burst that followed, the ring closed later, the staff deleted the next day). Each signal is
a module yielding ``(referral id, reason code, detail)``; the score is the sum of the reasons'
weights (``rules.REASONS``), capped at 100.

Modes: ``loose`` only marks; ``strict`` moves a pending or qualified referral scoring at or
above ``campaign.fraud_threshold`` to ``flagged`` (the review queue). A referral an operator has
reviewed (``reviewed_by``) is re-scored but never flagged again: the review decided."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import Session

from siyu.referrals.fraud import activity, identity, reuse, rings, velocity
from siyu.referrals.fraud.context import Snapshot, load_around, load_campaign
from siyu.referrals.fraud.rules import REASONS, Thresholds, label, weight
from siyu.store.models import Referral, ReferralCampaign

__all__ = ["REASONS", "Thresholds", "label", "rescore_campaign", "score_referrals"]

Signal = Callable[[Snapshot, Thresholds, datetime], Iterator[tuple[int, str, str]]]
SIGNALS: tuple[Signal, ...] = (identity.signal, velocity.signal, rings.signal, activity.signal, reuse.signal)
FLAGGABLE = ("pending", "qualified")
WRITE_BATCH = 5000


def score_snapshot(
    snap: Snapshot, campaign: ReferralCampaign, now: datetime
) -> dict[int, tuple[int, list[dict[str, Any]]]]:
    """Score and reasons of every target of ``snap``."""
    th = Thresholds.of(campaign.settings)
    found: dict[int, dict[str, str]] = defaultdict(dict)
    for signal in SIGNALS:
        for rid, code, detail in signal(snap, th, now):
            found[rid].setdefault(code, detail)
    result: dict[int, tuple[int, list[dict[str, Any]]]] = {}
    for rid in snap.targets:
        reasons = sorted(found.get(rid, {}).items(), key=lambda item: (-weight(item[0]), item[0]))
        score = min(100, sum(weight(code) for code, _ in reasons))
        result[rid] = (score, [{"code": code, "detail": detail} for code, detail in reasons])
    return result


def _flag(campaign: ReferralCampaign, status: str, score: int, reviewed: bool) -> bool:
    return (
        campaign.fraud_mode == "strict"
        and status in FLAGGABLE
        and not reviewed
        and score >= campaign.fraud_threshold
    )


def score_referrals(
    session: Session, campaign: ReferralCampaign, referrals: list[Referral], now: datetime
) -> None:
    """Set ``fraud_score`` and ``fraud_reasons`` on ``referrals`` (new or re-scored), and in
    strict mode move a pending or qualified referral over ``campaign.fraud_threshold`` to
    ``flagged``. Must not commit (it flushes, so new referrals are seen with their neighbours)."""
    if not referrals:
        return
    session.flush()
    th = Thresholds.of(campaign.settings)
    snap = load_around(session, campaign.id, [r.id for r in referrals], th.ring_depth)
    scores = score_snapshot(snap, campaign, now)
    for referral in referrals:
        score, reasons = scores.get(referral.id, (0, []))
        referral.fraud_score = score
        referral.fraud_reasons = reasons
        if _flag(campaign, referral.status, score, referral.reviewed_by is not None):
            referral.status = "flagged"


def rescore_campaign(session: Session, campaign: ReferralCampaign, now: datetime) -> dict[str, int]:
    """Re-score every referral of the campaign in one pass; only changed rows are written (in
    batches by primary key). Returns ``{"referrals", "changed", "flagged", "suspicious"}``
    (``suspicious``: score > 0; ``flagged``: moved to flagged by this pass). Must not commit."""
    session.flush()
    snap = load_campaign(session, campaign.id)
    scores = score_snapshot(snap, campaign, now)
    changes: list[dict[str, Any]] = []
    flagged = suspicious = 0
    for rid, (score, reasons) in scores.items():
        edge = snap.edges[rid]
        row: dict[str, Any] = {}
        if score != edge.score or reasons != edge.reasons:
            row.update(fraud_score=score, fraud_reasons=reasons)
        if _flag(campaign, edge.status, score, edge.reviewed):
            row["status"] = "flagged"
            flagged += 1
        suspicious += score > 0
        if row:
            changes.append({"id": rid, "fraud_score": score, "fraud_reasons": reasons, **row})
    _write(session, changes)
    return {"referrals": len(scores), "changed": len(changes), "flagged": flagged, "suspicious": suspicious}


def _write(session: Session, changes: list[dict[str, Any]]) -> None:
    """Executemany UPDATEs by primary key through Core (a third of the ORM bulk path's time),
    one statement shape for the re-scored rows and one for those also flagged. Loaded Referral
    objects are expired so the session does not serve stale scores."""
    table = Referral.__table__
    values = {"fraud_score": bindparam("_score"), "fraud_reasons": bindparam("_reasons")}
    plain = table.update().where(table.c.id == bindparam("_id")).values(**values)
    flag = table.update().where(table.c.id == bindparam("_id")).values(**values, status=bindparam("_status"))
    for stmt, rows in (
        (plain, [r for r in changes if "status" not in r]),
        (flag, [r for r in changes if "status" in r]),
    ):
        params = []
        for r in rows:
            p = {"_id": r["id"], "_score": r["fraud_score"], "_reasons": r["fraud_reasons"]}
            if stmt is flag:
                p["_status"] = r["status"]
            params.append(p)
        for i in range(0, len(params), WRITE_BATCH):
            session.execute(stmt, params[i : i + WRITE_BATCH])
    if changes:
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Referral):
                session.expire(obj)
