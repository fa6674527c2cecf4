"""Every query of the profiles capability."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from siyu.profiles.referral_edges import merge_referrals
from siyu.store.dialect import chunked
from siyu.store.models import Base, Contact, ContactAttribute, ContactMerge, Identity, Touch, utcnow

#: (type, scope, lookup): how an identifier is found in the identities table.
IdentityKey = tuple[str, str, str]


class ProfileRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- identities -------------------------------------------------------------------------
    def owners(self, keys: Iterable[IdentityKey]) -> dict[IdentityKey, int]:
        """Contact id owning each known key (identities always sit on survivors).

        Grouped by (type, scope) so every query is a range on the unique index.
        """
        groups: dict[tuple[str, str], list[str]] = {}
        for kind, scope, lookup in set(keys):
            groups.setdefault((kind, scope), []).append(lookup)
        found: dict[IdentityKey, int] = {}
        for (kind, scope), lookups in groups.items():
            for chunk in chunked(sorted(lookups)):
                rows = self.session.execute(
                    select(Identity.lookup, Identity.contact_id).where(
                        Identity.type == kind, Identity.scope == scope, Identity.lookup.in_(chunk)
                    )
                )
                for lookup, contact_id in rows:
                    found[(kind, scope, lookup)] = contact_id
        return found

    def identities_of(self, contact_ids: Iterable[int]) -> list[Identity]:
        ids = sorted(set(contact_ids))
        out: list[Identity] = []
        for chunk in chunked(ids):
            out.extend(
                self.session.scalars(
                    select(Identity).where(Identity.contact_id.in_(chunk)).order_by(Identity.id)
                )
            )
        return out

    def add_identities(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(Identity.__table__.insert(), rows)

    def move_identities(self, absorbed_id: int, survivor_id: int) -> None:
        self.session.execute(
            update(Identity).where(Identity.contact_id == absorbed_id).values(contact_id=survivor_id)
        )

    # --- contacts ---------------------------------------------------------------------------
    def get(self, contact_id: int) -> Contact | None:
        return self.session.get(Contact, contact_id)

    def survivor_of(self, contact_id: int) -> int | None:
        """Follow ``merged_into_id`` to the live contact (chains are flattened on merge). An id
        no 64-bit column can hold names nobody (and must not reach the driver, which refuses it)."""
        if not 0 < contact_id < 2**63:
            return None
        contact = self.session.get(Contact, contact_id)
        if contact is None:
            return None
        return contact.merged_into_id or contact.id

    def contacts(self, ids: Iterable[int]) -> dict[int, Contact]:
        out: dict[int, Contact] = {}
        for chunk in chunked(sorted(set(ids))):
            for c in self.session.scalars(select(Contact).where(Contact.id.in_(chunk))):
                out[c.id] = c
        return out

    def create(self, at: datetime, first_channel_id: int | None, first_entry_code_id: int | None) -> Contact:
        contact = Contact(
            created_at=at,
            updated_at=utcnow(),  # wall clock: the warehouse feed tracks changes by it
            first_channel_id=first_channel_id,
            first_entry_code_id=first_entry_code_id,
        )
        self.session.add(contact)
        self.session.flush()
        return contact

    def create_many(self, rows: list[tuple[datetime, int | None, int | None]]) -> list[int]:
        """Insert contacts in one statement; ids come back in the order given."""
        stmt = insert(Contact).returning(Contact.id, sort_by_parameter_order=True)
        now = utcnow()  # updated_at is the wall clock of the change, created_at the first message's time
        params = [
            {"created_at": at, "updated_at": now, "first_channel_id": ch, "first_entry_code_id": code}
            for at, ch, code in rows
        ]
        return list(self.session.scalars(stmt, params))

    def redirect_merged(self, absorbed_id: int, survivor_id: int) -> None:
        """Point the absorbed contact, and anything it had absorbed, at the survivor."""
        self.session.execute(
            update(Contact)
            .where((Contact.id == absorbed_id) | (Contact.merged_into_id == absorbed_id))
            .values(merged_into_id=survivor_id, updated_at=utcnow())
        )

    def set_first_channel(self, contact_ids: list[int], channel_id: int, entry_code_id: int | None) -> None:
        """Give the contacts among these that have no first-touch channel yet this one."""
        for chunk in chunked(contact_ids):
            self.session.execute(
                update(Contact)
                .where(Contact.id.in_(chunk), Contact.first_channel_id.is_(None))
                .values(first_channel_id=channel_id, first_entry_code_id=entry_code_id, updated_at=utcnow())
            )

    def keep_earliest_first_touch(self, contact_id: int) -> None:
        """After a merge both contacts' first touches sit on the survivor: keep the earliest."""
        firsts = (
            self.session.execute(
                select(Touch.id)
                .where(Touch.contact_id == contact_id, Touch.is_first.is_(True))
                .order_by(Touch.occurred_at, Touch.id)
            )
            .scalars()
            .all()
        )
        if len(firsts) > 1:
            self.session.execute(update(Touch).where(Touch.id.in_(firsts[1:])).values(is_first=False))

    def count_live(self) -> int:
        return (
            self.session.scalar(
                select(func.count()).select_from(Contact).where(Contact.merged_into_id.is_(None))
            )
            or 0
        )

    # --- attributes -------------------------------------------------------------------------
    def attributes(self, contact_id: int) -> dict[str, ContactAttribute]:
        rows = self.session.scalars(select(ContactAttribute).where(ContactAttribute.contact_id == contact_id))
        return {a.name: a for a in rows}

    # --- merges -----------------------------------------------------------------------------
    def add_merge(
        self, survivor_id: int, absorbed_id: int, reason: str, kind: str | None, at: datetime
    ) -> None:
        self.session.add(
            ContactMerge(
                survivor_id=survivor_id,
                absorbed_id=absorbed_id,
                reason=reason,
                identifier_type=kind,
                occurred_at=at,
            )
        )

    def merges_of(self, contact_id: int) -> list[ContactMerge]:
        return list(
            self.session.scalars(
                select(ContactMerge)
                .where((ContactMerge.survivor_id == contact_id) | (ContactMerge.absorbed_id == contact_id))
                .order_by(ContactMerge.id)
            )
        )

    def move_owned_rows(self, absorbed_id: int, survivor_id: int) -> list[str]:
        """Move every row of every table that belongs to a contact through a ``contact_id``
        foreign key, except tables that handle merges themselves (``info={"merge": "custom"}``).

        Discovered from the metadata, so tables added by later capabilities (tags, journeys,
        points) follow the survivor without touching this code.
        """
        merge_referrals(self.session, absorbed_id, survivor_id)  # two contacts per edge: its own rules
        moved = []
        for table in owned_tables():
            if table.info.get("merge") == "keep_survivor":
                self._move_keep_survivor(table, absorbed_id, survivor_id)
            else:
                if table.info.get("merge") == "close_clashing":
                    self._close_clashing(table, absorbed_id, survivor_id)
                self.session.execute(
                    update(table).where(table.c.contact_id == absorbed_id).values(contact_id=survivor_id)
                )
            moved.append(table.name)
        return moved

    def _move_keep_survivor(self, table: Table, absorbed_id: int, survivor_id: int) -> None:
        """Tables keyed by (contact, x): move the absorbed rows whose key the survivor lacks,
        drop the rest (the survivor's row wins)."""
        others = [c for c in table.primary_key.columns if c.name != "contact_id"]
        mine = table.alias("mine")
        clash = select(mine.c.contact_id).where(mine.c.contact_id == survivor_id)
        for col in others:
            clash = clash.where(mine.c[col.name] == table.c[col.name])
        self.session.execute(
            update(table)
            .where(table.c.contact_id == absorbed_id, ~clash.exists())
            .values(contact_id=survivor_id)
        )
        self.session.execute(delete(table).where(table.c.contact_id == absorbed_id))

    def _close_clashing(self, table: Table, absorbed_id: int, survivor_id: int) -> None:
        """Tables with one *active* row per (contact, ``clash`` columns), e.g. journey
        enrolments: the absorbed contact's active rows that clash with the survivor's are
        closed with the ``close`` values first (the survivor's run goes on), then all move."""
        mine = table.alias("mine")
        clash = select(mine.c.contact_id).where(mine.c.contact_id == survivor_id, mine.c.status == "active")
        for name in table.info["clash"]:
            clash = clash.where(mine.c[name] == table.c[name])
        self.session.execute(
            update(table)
            .where(table.c.contact_id == absorbed_id, table.c.status == "active", clash.exists())
            .values(**table.info["close"])
        )


def owned_tables() -> list[Table]:
    tables = []
    for table in Base.metadata.sorted_tables:
        if table.info.get("merge") == "custom" or "contact_id" not in table.c:
            continue
        fks = table.c.contact_id.foreign_keys
        if any(fk.column.table.name == "contacts" for fk in fks):
            tables.append(table)
    return tables
