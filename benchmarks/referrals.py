"""Referral fraud scoring speed: one whole-campaign pass over many referral edges.

    python benchmarks/referrals.py [--edges 1000000] [--seeds 100000] [--adds 3000] [--database-url URL]

On a fresh database (SQLite in a temporary directory unless ``--database-url``), rows written
with bulk inserts: ``--seeds`` seed contacts and ``--edges`` invitees, each invited by an
earlier contact (a random tree: every invitee may invite), with its own device and IP, invites
hours apart, most qualified; planted among them, 20 rings of 5 accounts, 20 bursts of 50
invites in 2 minutes from accounts made minutes before, and 20 devices each reused by 3
invitees. The campaign is strict, so the pass flags them.

* ``insert_s``: writing the contacts, participants and edges;
* ``rescore_s``: :func:`siyu.referrals.fraud.rescore_campaign` (load, the five signals, write
  the changed rows), ``edges_per_s``, and ``flagged`` / ``suspicious`` / ``changed``;
* ``planted_flagged``: planted edges flagged (must equal ``planted``), ``honest_flagged``:
  honest edges flagged (the false positives);
* ``attribution_attributions_per_s`` (and ``attribution_plain_adds_per_s``, ``attribution_ratio``):
  ``--adds`` add callbacks through a participant's contact way, through the WeCom callback path
  (see benchmarks/referral_attribution.py), against plain adds in the same run;
* ``incremental_ms``: :func:`siyu.referrals.fraud.score_referrals` on 100 new edges at the
  attribution path's scope (their neighbourhood only), in the same campaign.

Last line: one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select

import siyu
from siyu.referrals.fraud import rescore_campaign, score_referrals
from siyu.store.models import Contact, Referral, ReferralCampaign, ReferralParticipant

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 50_000


def _bulk(session: object, model: type, rows: list[dict[str, object]]) -> None:
    for i in range(0, len(rows), BATCH):
        session.execute(insert(model), rows[i : i + BATCH])  # type: ignore[attr-defined]


def build(ctx: object, seeds: int, edges: int, rng: random.Random) -> tuple[int, set[int], int]:
    """(campaign id, planted edge ids, next free contact id)."""
    db = ctx.db  # type: ignore[attr-defined]
    total_contacts = seeds + edges + 20 * 5 + 20 * 51 + 20 * 4 + 200
    with db.session() as s:
        old = T0 - timedelta(days=300)
        _bulk(
            s,
            Contact,
            [{"id": i, "created_at": old, "updated_at": old} for i in range(1, total_contacts + 1)],
        )
        camp = ReferralCampaign(
            key="bench", name="压测", kind="task", status="active", fraud_mode="strict", fraud_threshold=60,
            target={}, rewards=[], caps={}, settings={},
        )  # fmt: skip
        s.add(camp)
        s.flush()
        cid = camp.id
    # the honest tree: invitee seeds+1+i invited by a uniformly earlier contact
    arrival: dict[int, datetime] = {c: T0 for c in range(1, seeds + 1)}
    gen: dict[int, int] = dict.fromkeys(range(1, seeds + 1), 0)
    edge_rows: list[dict[str, object]] = []
    inviters: dict[int, datetime] = {}
    for i in range(edges):
        invitee = seeds + 1 + i
        inviter = rng.randint(1, seeds + i)
        at = arrival[inviter] + timedelta(hours=rng.randint(2, 96), minutes=rng.randint(0, 59))
        arrival[invitee] = at
        gen[invitee] = gen[inviter] + 1
        inviters.setdefault(inviter, arrival[inviter])
        edge_rows.append(
            _edge(cid, inviter, invitee, at, gen[invitee], f"d{invitee}", _ip(invitee), "qualified")
        )
    nxt = seeds + edges + 1
    planted_keys: set[tuple[int, int]] = set()
    for _ in range(20):  # rings of 5
        ring = list(range(nxt, nxt + 5))
        nxt += 5
        for k in range(5):
            a, b = ring[k], ring[(k + 1) % 5]
            edge_rows.append(_edge(cid, a, b, T0 + timedelta(days=3, hours=k), 1, f"d{b}", _ip(b), "pending"))
            inviters.setdefault(a, T0)
            planted_keys.add((a, b))
    young: list[int] = []
    for _ in range(20):  # bursts of 50 in 2 minutes from new accounts
        farmer = nxt
        nxt += 1
        inviters.setdefault(farmer, T0)
        start = T0 + timedelta(days=5, hours=rng.randint(0, 100))
        for k in range(50):
            b = nxt
            nxt += 1
            young.append(b)
            at = start + timedelta(seconds=2 * k)
            edge_rows.append(_edge(cid, farmer, b, at, 1, f"d{b}", _ip(b), "pending"))
            planted_keys.add((farmer, b))
    for r in range(20):  # a device reused by 3 invitees
        hub = nxt
        nxt += 1
        inviters.setdefault(hub, T0)
        for k in range(3):
            b = nxt
            nxt += 1
            at = T0 + timedelta(days=7, hours=5 * k + r)
            edge_rows.append(_edge(cid, hub, b, at, 1, f"farm-phone-{r}", _ip(b), "pending"))
            planted_keys.add((hub, b))
    with db.session() as s:
        _bulk(
            s,
            ReferralParticipant,
            [
                {"campaign_id": cid, "contact_id": c, "code": f"b{c}", "joined_at": at}
                for c, at in inviters.items()
            ],
        )
        part = dict(
            s.execute(
                select(ReferralParticipant.contact_id, ReferralParticipant.id).where(
                    ReferralParticipant.campaign_id == cid
                )
            ).all()
        )
        for row in edge_rows:
            row["participant_id"] = part[row["inviter_id"]]
        _bulk(s, Referral, edge_rows)
        # burst invitees were created minutes before their invite
        for k in range(0, len(young), 900):
            chunk = young[k : k + 900]
            s.execute(
                Contact.__table__.update()
                .where(Contact.id.in_(chunk))
                .values(created_at=T0 + timedelta(days=4, hours=23))
            )
        planted = {
            rid
            for rid, a, b in s.execute(
                select(Referral.id, Referral.inviter_id, Referral.invitee_id).where(
                    Referral.campaign_id == cid
                )
            )
            if (a, b) in planted_keys
        }
    # the bursts start on day 5 (+0–100 h); accounts made at day 4 23:00 are new for those that
    # start within new_account_hours (24 h): move their creation to just before each burst
    with db.session() as s:
        rows = s.execute(
            select(Referral.invitee_id, Referral.invited_at).where(Referral.invitee_id.in_(young))
        ).all()
        for invitee, at in rows:
            s.execute(
                Contact.__table__.update()
                .where(Contact.id == invitee)
                .values(created_at=at - timedelta(minutes=10))
            )
    assert nxt <= total_contacts
    return cid, planted, total_contacts + 1


def _ip(n: int) -> str:
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def _edge(
    cid: int, a: int, b: int, at: datetime, generation: int, device: str, ip: str, status: str
) -> dict[str, object]:
    done = at + timedelta(hours=1) if status == "qualified" else None
    return {
        "campaign_id": cid, "inviter_id": a, "invitee_id": b, "generation": generation, "via": "wecom_add",
        "status": status, "invited_at": at, "qualified_at": done, "device": device, "ip": ip,
        "fraud_score": 0, "fraud_reasons": [],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--seeds", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--adds", type=int, default=3000, help="callbacks for the attribution figure (0: skip)"
    )
    args = parser.parse_args()
    rng = random.Random(18)
    figures: dict[str, object] = {"edges": args.edges, "seeds": args.seeds}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("SIYU_SECRET_KEY", base64.b64encode(b"b" * 32).decode())
        kw = {"database_url": args.database_url} if args.database_url else {}
        client = siyu.open(data_dir=tmp, **kw)
        ctx = client.ctx
        figures["database"] = ctx.db.engine.dialect.name
        start = time.perf_counter()
        cid, planted, nxt = build(ctx, args.seeds, args.edges, rng)
        figures["insert_s"] = round(time.perf_counter() - start, 2)
        figures["planted"] = len(planted)
        # "now" is after every invite, and before no_activity applies to most (7 days after)
        now = T0 + timedelta(days=400)
        with ctx.db.session() as s:
            camp = s.get(ReferralCampaign, cid)
            start = time.perf_counter()
            result = rescore_campaign(s, camp, now)
            s.flush()
            figures["rescore_s"] = round(time.perf_counter() - start, 2)
        total = s_total = int(result["referrals"])
        figures["edges_per_s"] = round(s_total / figures["rescore_s"])  # type: ignore[operator]
        figures.update({k: v for k, v in result.items() if k != "referrals"})
        figures["referrals"] = total
        with ctx.db.session() as s:
            flagged = set(
                s.scalars(
                    select(Referral.id).where(Referral.campaign_id == cid, Referral.status == "flagged")
                )
            )
            figures["planted_flagged"] = len(flagged & planted)
            figures["honest_flagged"] = len(flagged - planted)
            figures["honest_marked"] = s.scalar(
                select(func.count()).where(
                    Referral.campaign_id == cid, Referral.fraud_score > 0, Referral.status != "flagged"
                )
            )
        # the attribution path: 100 new edges scored in their neighbourhood
        with ctx.db.session() as s:
            camp = s.get(ReferralCampaign, cid)
            part = s.scalar(
                select(ReferralParticipant).where(ReferralParticipant.campaign_id == cid).limit(1)
            )
            new = []
            for k in range(100):
                s.add(Contact(id=nxt + k, created_at=now, updated_at=now))
            s.flush()
            for k in range(100):
                ref = Referral(
                    campaign_id=cid, participant_id=part.id, inviter_id=part.contact_id, invitee_id=nxt + k,
                    via="wecom_add", status="pending", invited_at=now + timedelta(hours=k), device=f"n{k}",
                    ip=_ip(nxt + k), fraud_reasons=[],
                )  # fmt: skip
                s.add(ref)
                new.append(ref)
            s.flush()
            start = time.perf_counter()
            score_referrals(s, camp, new, now)
            figures["incremental_ms"] = round((time.perf_counter() - start) * 1000, 1)
        client.close()
    if args.adds:  # attributions per second through the WeCom callback path, on a fresh database
        from benchmarks.referral_attribution import run as attribution

        with tempfile.TemporaryDirectory() as tmp:
            kw = {"database_url": args.database_url} if args.database_url else {}
            client = siyu.open(data_dir=tmp, **kw)
            got = attribution(client.ctx, 200, args.adds)
            client.close()
        figures.update({f"attribution_{k}": v for k, v in got.items() if k not in ("database", "seeds")})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
