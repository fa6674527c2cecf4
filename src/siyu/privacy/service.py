"""PIPL rights of one person: a full copy of what is held (access, art. 45), correction
(art. 46), erasure with a receipt (art. 47), and the do-not-contact list that keeps an erased
or unsubscribed person out of marketing until they consent again.

The person is the surviving contact *and every contact merged into it*: an absorbed contact
still holds rows (its merge record, old events' change log) that are the same person's data.
Tables are found from the models (every table with a ``contact_id`` column), so a capability
that adds one is covered by the copy and the erasure without a change here.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.consent.service import ANY_CHANNEL
from siyu.ingest import dead_letters
from siyu.privacy import repository as repo
from siyu.privacy.schemas import Correction, DoNotContactEntry, PrivacyError, Receipt
from siyu.profiles.identifiers import IdentifierError, IdentifierParser
from siyu.profiles.pii import Keyring
from siyu.profiles.service import ProfileService
from siyu.profiles.views import LookupError_
from siyu.store.changes import note_changed
from siyu.store.dialect import chunked
from siyu.store.engine import Database
from siyu.store.models import (
    Contact,
    ContactAttribute,
    DoNotContact,
    Identity,
    Journey,
    PrivacyDeletion,
    Referral,
    Segment,
    Tag,
    WarehouseErasure,
    utcnow,
)

#: How each table is named in a copy and a receipt (the person's words, not ours); a table not
#: listed appears under its own name.
KINDS: dict[str, str] = {
    "contacts": "contacts",
    "identities": "identifiers",
    "contact_attributes": "traits",
    "contact_tags": "tags",
    "tag_changes": "tag_history",
    "consent_records": "consents",
    "touches": "touches",
    "events": "events",
    "outbox": "messages",
    "journey_enrolments": "journey_enrolments",
    "journey_step_runs": "journey_steps",
    "contact_merges": "merges",
    "contact_stages": "stage",
    "stage_changes": "stage_history",
    "contact_rfm": "rfm",
    "segment_members": "segments",
    "contact_scores": "scores",
    "short_links": "short_links",
    "contact_changes": "change_log",
    "dead_letters": "dead_letter_lines",
    "contact_follows": "wecom_follows",
    "group_members": "group_memberships",
    "community_roles": "community_roles",
    "wecom_transfers": "wecom_transfers",
    "orders": "orders",
    "order_lines": "order_lines",
    "order_refunds": "order_refunds",
    "subscriptions": "subscriptions",
    "loyalty_members": "membership",
    "points_entries": "points_ledger",
    "points_draws": "points_draws",
    "tier_changes": "tier_history",
    "checkins": "checkins",
    "task_completions": "badges",
    "redemptions": "points_redemptions",
    "coupons": "coupons",
    "coupon_redemptions": "coupon_redemptions",
    "coupon_holdouts": "coupon_holdouts",
    "referral_participants": "referral_codes",
    "referral_rewards": "referral_rewards",
    "referrals": "referrals",
    "promoters": "promoter",
    "promoter_bindings": "promoter_binding",
    "commissions": "commissions",
}
#: Internal bookkeeping left out of a copy (it holds nothing about the person but times).
_NOT_COPIED = {"contact_changes"}


def receipt_digest(deletion_id: str, at: str, counts: dict[str, int]) -> str:
    body = json.dumps({"deletion_id": deletion_id, "at": at, "counts": counts}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return None
    return value


class PrivacyService:
    def __init__(self, session: Session, profiles: ProfileService, parser: IdentifierParser) -> None:
        self.session = session
        self.profiles = profiles
        self.parser = parser

    # --- access / copy ----------------------------------------------------------------------
    def export(self, contact_id: int, actor: str) -> dict[str, Any]:
        """Everything held about the person, identifiers in clear (it is their copy). Audited."""
        ids = repo.family(self.session, contact_id)
        tags = {t.id: t.key for t in self.session.scalars(select(Tag))}
        segments = {s.id: s.key for s in self.session.scalars(select(Segment))}
        journeys = {j.id: j.key for j in self.session.scalars(select(Journey))}
        names = {
            "tag_id": ("tag", tags),
            "segment_id": ("segment", segments),
            "journey_id": ("journey", journeys),
        }
        data: dict[str, Any] = {"contact_id": contact_id, "exported_at": utcnow().isoformat()}
        data["contacts"] = [
            {k: _plain(v) for k, v in c.items()}
            for c in (
                dict(r._mapping)
                for r in self.session.execute(select(Contact.__table__).where(Contact.id.in_(ids)))
            )
        ]
        for table in repo.person_tables():
            if table.name in _NOT_COPIED:
                continue
            rows = []
            for row in repo.rows_of(self.session, table, ids):
                item = {k: _plain(v) for k, v in row.items()}
                for col, (label, lookup) in names.items():
                    if col in row and row[col] is not None:
                        item[label] = lookup.get(row[col])
                rows.append(item)
            # str(): a table's name is SQLAlchemy's quoted_name, which orjson refuses as a key
            data[KINDS.get(table.name, str(table.name))] = rows
        data["referrals"] = [{k: _plain(v) for k, v in r.items()} for r in self._referral_edges(ids)]
        data["identifiers"] = [
            {
                "type": i.type,
                "scope": i.scope or None,
                "value": self.profiles.reveal(i),
                "source": i.source,
                "created_at": i.created_at.isoformat(),
            }
            for i in self.profiles.repo.identities_of(ids)
        ]
        data["merges"] = [
            {
                "survivor": m.survivor_id,
                "absorbed": m.absorbed_id,
                "reason": m.reason,
                "identifier_type": m.identifier_type,
                "at": m.occurred_at.isoformat(),
            }
            for m in repo.merges_of(self.session, ids)
        ]
        audit.record(
            self.session,
            actor,
            "pii.exported",
            "contact",
            contact_id,
            {"kind": "access_copy", "contacts": len(ids)},
        )
        return data

    def holdings(self, contact_id: int) -> dict[str, int]:
        """Rows held about the person per kind (counted, nothing decrypted): what a copy or an
        erasure would cover, for an operator to see before acting."""
        ids = repo.family(self.session, contact_id)
        counts = {"contacts": len(ids)}
        for table in repo.person_tables():
            if table.name not in _NOT_COPIED:
                counts[KINDS.get(table.name, str(table.name))] = repo.count_of(self.session, table, ids)
        counts["merges"] = len(repo.merges_of(self.session, ids))
        counts["referrals"] = len(self._referral_edges(ids))
        return counts

    def _referral_edges(self, ids: list[int]) -> list[dict[str, Any]]:
        """Referral edges the person is on, as inviter or invitee: they name two contacts and
        no ``contact_id``, so the table loop does not find them. The other side appears only
        as its internal contact id (it is someone else's data)."""
        t = Referral.__table__
        found: dict[int, dict[str, Any]] = {}
        for chunk in chunked(sorted(ids)):
            q = select(t).where(or_(t.c.inviter_id.in_(chunk), t.c.invitee_id.in_(chunk))).order_by(t.c.id)
            for row in self.session.execute(q):
                found[row.id] = dict(row._mapping)
        return [found[k] for k in sorted(found)]

    # --- correction -------------------------------------------------------------------------
    def correct(self, contact_id: int, change: Correction, actor: str) -> dict[str, Any]:
        """Set or remove traits and replace identifiers, keeping the identity index consistent
        (a new value owned by another person is refused: that is a merge, not a correction)."""
        if not (change.traits or change.remove or change.identifiers):
            raise PrivacyError("nothing to correct: give traits, remove or identifiers")
        now = utcnow()
        current = self.profiles.repo.attributes(contact_id)
        for name, value in change.traits.items():
            if not name or len(name) > 128:
                raise PrivacyError("a trait name must be 1 to 128 characters", f"traits.{name[:40]}")
            attr = current.get(name)
            if attr is None:
                self.session.add(
                    ContactAttribute(contact_id=contact_id, name=name, value=value, updated_at=now)
                )
            else:
                attr.value, attr.updated_at = value, now
        removed = []
        for name in change.remove:
            if name in current:
                self.session.delete(current[name])
                removed.append(name)
        for index, item in enumerate(change.identifiers):
            self._replace(contact_id, item.type, item.old, item.new, f"identifiers[{index}]")
        self.session.flush()
        note_changed(self.session, [contact_id])
        audit.record(
            self.session,
            actor,
            "contact.corrected",
            "contact",
            contact_id,
            {
                "traits": sorted(change.traits),
                "removed": sorted(removed),
                "identifiers": [i.type for i in change.identifiers],
            },
        )
        return {
            "contact_id": contact_id,
            "traits": sorted(change.traits),
            "removed": removed,
            "identifiers": len(change.identifiers),
        }

    def _replace(self, contact_id: int, kind: str, old: str, new: str, where: str) -> None:
        try:
            old_ident = self.parser.parse(kind, old)
            new_ident = self.parser.parse(kind, new)
        except IdentifierError as exc:
            raise PrivacyError(f"{where}: {exc}", where) from exc
        old_key, new_key = self.profiles.key(old_ident), self.profiles.key(new_ident)
        row = self.session.scalar(
            select(Identity).where(
                Identity.contact_id == contact_id,
                Identity.type == old_key[0],
                Identity.scope == old_key[1],
                Identity.lookup == old_key[2],
            )
        )
        if row is None:
            raise PrivacyError(f"{where}: this contact has no such {kind}", where)
        owner = self.profiles.repo.owners([new_key]).get(new_key)
        if owner is not None and owner != contact_id:
            raise PrivacyError(
                f"{where}: the new {kind} belongs to another contact; merge them instead", where
            )
        if owner == contact_id:  # already held: the wrong one just goes
            self.session.delete(row)
            return
        fresh = self.profiles.identity_row(new_ident, contact_id, "correction", utcnow())
        row.lookup, row.value, row.value_enc, row.source = (
            fresh["lookup"],
            fresh["value"],
            fresh["value_enc"],
            "correction",
        )
        row.last4 = fresh["last4"]

    # --- erasure ----------------------------------------------------------------------------
    def delete(self, contact_id: int, actor: str, dead_letter_dir: Path | None = None) -> Receipt:
        """Erase the person from the system of record and dead letters, put their identifiers on
        the do-not-contact list, queue the warehouse erasure, and return the receipt."""
        # Lock the person first (PostgreSQL): a concurrent merge, event or second erasure of
        # them waits for this one, and a second erasure then finds nobody (404, not an empty
        # receipt). SQLite has one writer at a time anyway.
        self.session.execute(select(Contact.id).where(Contact.id == contact_id).with_for_update())
        if self.session.scalar(select(Contact.id).where(Contact.id == contact_id)) is None:
            raise LookupError_(f"no contact {contact_id}")
        ids = repo.family(self.session, contact_id)
        self.session.execute(select(Contact.id).where(Contact.id.in_(ids)).with_for_update())
        deletion_id = "del_" + secrets.token_hex(10)
        identities = self.profiles.repo.identities_of(ids)
        needles = self._needles(identities)
        entries = [(i.type, self._blind(i)) for i in identities]
        if self.session.get_bind().dialect.name == "sqlite":
            # Freed pages and cells are zeroed, so the file keeps no copy of what was deleted.
            self.session.execute(text("PRAGMA secure_delete = ON"))
        counts = {KINDS.get(k, k): n for k, n in repo.erase(self.session, ids).items()}
        if self.session.get_bind().dialect.name == "sqlite":  # the pooled connection goes back as it was
            self.session.execute(text("PRAGMA secure_delete = OFF"))
        if dead_letter_dir is not None:
            lines = scrub_dead_letters(dead_letter_dir, self.profiles.keyring, needles)
            if lines:
                counts[KINDS["dead_letters"]] = lines
        repo.put_do_not_contact(self.session, entries, ANY_CHANNEL, "deleted", deletion_id)
        self.parser.forget(set(needles))
        self.session.add(WarehouseErasure(deletion_id=deletion_id, erased_ids=ids))
        now = utcnow()
        at = now.isoformat()
        counts = dict(sorted(counts.items()))
        digest = receipt_digest(deletion_id, at, counts)
        self.session.add(
            PrivacyDeletion(deletion_id=deletion_id, at=now, actor=actor, counts=counts, digest=digest)
        )
        # Only the opaque deletion id: the audit log outlives the person and must not name them.
        audit.record(
            self.session,
            actor,
            "contact.deleted",
            "deletion",
            deletion_id,
            {"rows": sum(counts.values()), "digest": digest},
        )
        self.session.flush()
        return Receipt(
            deletion_id=deletion_id, at=at, counts=counts, total=sum(counts.values()), digest=digest
        )

    def _blind(self, identity: Identity) -> str:
        return blind(self.profiles, identity)

    def _needles(self, identities: list[Identity]) -> list[str]:
        """Strings that mark a dead-letter line as this person's: each identifier in clear and,
        for a mainland phone, its 11-digit national form (raw input rarely has the +86)."""
        out = []
        for ident in identities:
            value = self.profiles.reveal(ident)
            if len(value) >= 5:
                out.append(value)
            if ident.type == "phone" and value.startswith("+86"):
                out.append(value[3:])
        return out

    def deletions(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.session.scalars(select(PrivacyDeletion).order_by(PrivacyDeletion.id.desc()).limit(limit))
        return [
            {
                "deletion_id": r.deletion_id,
                "at": r.at.isoformat(),
                "actor": r.actor,
                "counts": r.counts,
                "total": sum(r.counts.values()),
                "digest": r.digest,
            }
            for r in rows
        ]

    # --- do-not-contact ---------------------------------------------------------------------
    def do_not_contact(self, contact_id: int, channel: str, reason: str) -> int:
        return put_on_do_not_contact(self.session, self.profiles, contact_id, channel, reason)

    def list_do_not_contact(self, limit: int = 200, before_id: int | None = None) -> list[DoNotContactEntry]:
        return [dnc_entry(e) for e in repo.do_not_contact_entries(self.session, limit, before_id)]

    def remove_do_not_contact(self, entry_id: int, actor: str) -> None:
        if not repo.remove_do_not_contact(self.session, entry_id):
            raise PrivacyError(f"no do-not-contact entry {entry_id}", "id")
        audit.record(self.session, actor, "dnc.removed", "do_not_contact", entry_id)


def blind(profiles: ProfileService, identity: Identity) -> str:
    """The keyring's blind index of an identity (for phone and email it is the stored lookup)."""
    if identity.value_enc is not None:
        return identity.lookup
    return profiles.keyring.blind_index(identity.type, identity.value or "")


def put_on_do_not_contact(
    session: Session, profiles: ProfileService, contact_id: int, channel: str, reason: str
) -> int:
    """List every identifier of the contact as not to be sent marketing on ``channel`` (an
    unsubscribe: the person may come back under another contact, e.g. after an erasure)."""
    identities = profiles.repo.identities_of([contact_id])
    return repo.put_do_not_contact(
        session, [(i.type, blind(profiles, i)) for i in identities], channel, reason, None
    )


def dnc_entry(e: DoNotContact) -> DoNotContactEntry:
    return DoNotContactEntry(
        id=e.id,
        type=e.type,
        lookup=e.lookup[:12],
        channel=e.channel,
        reason=e.reason,
        deletion_id=e.deletion_id,
        created_at=e.created_at.isoformat(),
    )


def scrub_dead_letters(directory: Path, keyring: Keyring, needles: list[str]) -> int:
    """Drop every dead-letter line that names the person; returns lines removed. A line is
    matched on its text and on its text without separators (``138 0013 8000``)."""
    if not needles:
        return 0
    squeeze = re.compile(rb"[\s\-()]")
    encoded = [n.encode() for n in needles]
    encoded += [json.dumps(n).encode()[1:-1] for n in needles]  # as escaped inside JSON text
    return dead_letters.drop_lines(
        directory, keyring, lambda line: any(n in line or n in squeeze.sub(b"", line) for n in encoded)
    )


def settle_storage(db: Database) -> None:
    """After an erasure commits: fold SQLite's write-ahead log into the database and empty it,
    so the pages that held the person (written before the erasure) leave the -wal file. Run
    outside any transaction (on the driver connection: a session always holds one open); a
    reader still open elsewhere can delay it, hence the retries."""
    if db.engine.dialect.name != "sqlite":
        return
    raw = db.engine.raw_connection()
    try:
        for _ in range(20):
            busy = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy is None or not busy[0]:
                return
            time.sleep(0.05)
    finally:
        raw.close()
