"""What the signals read, loaded once per scoring pass: the referral edges around the ones being
scored and the facts about their contacts (created, merged, devices, payers, follows, activity).

Two scopes share one shape. A full pass (``load_campaign``) reads the whole campaign in a few
set-based queries (contacts selected by sub-query, never by a million-id IN list), so re-scoring
a million edges is a handful of scans. An incremental pass (``load_around``) reads only what can
change the new referrals' scores: their inviters' other invites, the edges sharing their devices
or IPs, and the chain of who invited their inviters (a cycle through a new edge must go up
that chain), so scoring at attribution time does not grow with the campaign."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from siyu.store.models import Contact, ContactFollow, Event, Identity, Order, Referral

CHUNK = 900  # ids per IN list (SQLite's bound-parameter limit is far above; PG plans stay small)
DEVICE_TYPES = ("app_device_id", "device_id", "idfa", "oaid", "imei", "android_id")
SHARED_ID_TYPES = ("phone", "email", "wechat_unionid")
PAYER_KEYS = ("payer", "payer_id", "payer_openid", "payer_account")


@dataclass(slots=True)
class Edge:
    id: int
    campaign_id: int
    inviter_id: int
    invitee_id: int
    invited_at: datetime
    qualified_at: datetime | None
    status: str
    device: str | None
    ip: str | None
    score: int
    reasons: list[dict[str, Any]]
    reviewed: bool


@dataclass
class Snapshot:
    """Edges of the campaign in scope (``edges``), the ids to score (``targets``), edges of other
    campaigns as (inviter, invitee) pairs (``cross``, for rings), and contact facts keyed by id."""

    campaign_id: int
    edges: dict[int, Edge] = field(default_factory=dict)
    targets: set[int] = field(default_factory=set)
    cross: list[tuple[int, int]] = field(default_factory=list)
    created: dict[int, datetime] = field(default_factory=dict)
    merged_into: dict[int, int] = field(default_factory=dict)
    devices: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    ips: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    identifiers: dict[int, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    payers: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    follows: dict[int, list[tuple[datetime | None, datetime | None, str | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    last_activity: dict[int, datetime] = field(default_factory=dict)

    def scored(self) -> Iterator[Edge]:
        return (self.edges[i] for i in self.targets)


_EDGE_COLUMNS = (
    Referral.id,
    Referral.campaign_id,
    Referral.inviter_id,
    Referral.invitee_id,
    Referral.invited_at,
    Referral.qualified_at,
    Referral.status,
    Referral.device,
    Referral.ip,
    Referral.fraud_score,
    Referral.fraud_reasons,
    Referral.reviewed_by,
)


def _edge(row: Any) -> Edge:
    return Edge(*row[:9], row[9] or 0, list(row[10] or []), row[11] is not None)


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    items = sorted(set(ids))
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _rows(session: Session, stmt: Select[Any], col: Any, scope: Any) -> Iterator[Any]:
    """Rows of ``stmt`` whose ``col`` is in ``scope``: a sub-query (one query) or ids (chunked)."""
    if isinstance(scope, (set, list, tuple, frozenset)):
        for chunk in _chunks(scope):
            yield from session.execute(stmt.where(col.in_(chunk)))
    else:
        yield from session.execute(stmt.where(col.in_(scope)))


def load_campaign(session: Session, campaign_id: int) -> Snapshot:
    """Every edge of the campaign, all of them targets."""
    snap = Snapshot(campaign_id)
    for row in session.execute(select(*_EDGE_COLUMNS).where(Referral.campaign_id == campaign_id)):
        snap.edges[row[0]] = _edge(row)
    snap.targets = set(snap.edges)
    snap.cross = [
        (a, b)
        for a, b in session.execute(
            select(Referral.inviter_id, Referral.invitee_id).where(Referral.campaign_id != campaign_id)
        )
    ]
    invitees = select(Referral.invitee_id).where(Referral.campaign_id == campaign_id).scalar_subquery()
    inviters = select(Referral.inviter_id).where(Referral.campaign_id == campaign_id).scalar_subquery()
    _facts(session, snap, invitees, inviters)
    return snap


def load_around(session: Session, campaign_id: int, ids: list[int], ring_depth: int) -> Snapshot:
    """The edges ``ids`` (targets) and their neighbourhood (see the module docstring)."""
    snap = Snapshot(campaign_id)
    base = select(*_EDGE_COLUMNS).where(Referral.campaign_id == campaign_id)
    for row in _rows(session, base, Referral.id, ids):
        snap.edges[row[0]] = _edge(row)
    snap.targets = set(snap.edges)
    new = list(snap.edges.values())
    for col, values in (
        (Referral.inviter_id, {e.inviter_id for e in new}),
        (Referral.device, {e.device for e in new if e.device}),
        (Referral.ip, {e.ip for e in new if e.ip}),
    ):
        for chunk in _chunks_any(values):
            for row in session.execute(base.where(col.in_(chunk))):
                snap.edges.setdefault(row[0], _edge(row))
    # Up the chain: who invited the inviters, in any campaign, ring_depth levels.
    frontier = {e.inviter_id for e in new}
    seen: set[int] = set(frontier)
    for _ in range(ring_depth):
        found: set[int] = set()
        stmt = select(Referral.id, Referral.campaign_id, Referral.inviter_id, Referral.invitee_id)
        for rid, cid, a, b in _rows(session, stmt, Referral.invitee_id, frontier):
            if cid == campaign_id and rid in snap.edges:
                pass
            else:
                snap.cross.append((a, b))
            if a not in seen:
                found.add(a)
        seen |= found
        frontier = found
        if not frontier:
            break
    invitees = {e.invitee_id for e in new}
    inviters = {e.inviter_id for e in new}
    _facts(session, snap, invitees, inviters)
    return snap


def _chunks_any(values: set[Any]) -> Iterator[list[Any]]:
    items = sorted(values)
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _facts(session: Session, snap: Snapshot, invitees: Any, inviters: Any) -> None:
    """Contact facts: creation and merges of both sides; devices, IPs, identifiers and payers of
    both (to compare invitee with inviter); follows and last activity of the invitees."""
    for scope in (invitees, inviters):
        for cid, created, merged in _rows(
            session, select(Contact.id, Contact.created_at, Contact.merged_into_id), Contact.id, scope
        ):
            snap.created[cid] = created
            if merged is not None:
                snap.merged_into[cid] = merged
        stmt = select(Identity.contact_id, Identity.type, Identity.lookup).where(
            Identity.type.in_(DEVICE_TYPES + SHARED_ID_TYPES)
        )
        for cid, kind, lookup in _rows(session, stmt, Identity.contact_id, scope):
            if kind in DEVICE_TYPES:
                snap.devices[cid].add(lookup)
            else:
                snap.identifiers[cid].add((kind, lookup))
        stmt = select(Order.contact_id, Order.properties)
        for cid, props in _rows(session, stmt, Order.contact_id, scope):
            for key in PAYER_KEYS:
                if isinstance(props, dict) and props.get(key):
                    snap.payers[cid].add(str(props[key]))
    # An inviter's own devices and IPs also come from the edges that brought them in.
    stmt = select(Referral.invitee_id, Referral.device, Referral.ip)
    for cid, device, ip in _rows(session, stmt, Referral.invitee_id, inviters):
        if device:
            snap.devices[cid].add(device)
        if ip:
            snap.ips[cid].add(ip)
    stmt = select(
        ContactFollow.contact_id, ContactFollow.added_at, ContactFollow.deleted_at, ContactFollow.deleted_by
    ).where(ContactFollow.deleted_at.is_not(None))
    for cid, added, deleted, by in _rows(session, stmt, ContactFollow.contact_id, invitees):
        snap.follows[cid].append((added, deleted, by))
    stmt = select(Event.contact_id, func.max(Event.timestamp)).group_by(Event.contact_id)
    for cid, last in _rows(session, stmt, Event.contact_id, invitees):
        snap.last_activity[cid] = last
