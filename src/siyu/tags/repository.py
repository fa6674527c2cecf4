"""Every system-of-record query of the tags capability."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from siyu.store.dialect import chunked
from siyu.store.models import ContactTag, Tag, TagChange, TagGroup, TagRule


class TagRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def group(self, name: str) -> TagGroup | None:
        return self.session.scalar(select(TagGroup).where(TagGroup.name == name))

    def groups(self) -> list[TagGroup]:
        return list(self.session.scalars(select(TagGroup).order_by(TagGroup.name)))

    def tag(self, key: str) -> Tag | None:
        return self.session.scalar(select(Tag).where(Tag.key == key))

    def tags(self) -> list[tuple[Tag, int]]:
        """Every tag with how many contacts hold it."""
        held = select(ContactTag.tag_id, func.count().label("n")).group_by(ContactTag.tag_id).subquery("held")
        rows = self.session.execute(
            select(Tag, func.coalesce(held.c.n, 0)).outerjoin(held, held.c.tag_id == Tag.id).order_by(Tag.key)
        ).all()
        return [(t, int(n)) for t, n in rows]

    def tags_in_group(self, group_id: int) -> list[int]:
        return list(self.session.scalars(select(Tag.id).where(Tag.group_id == group_id)))

    def add(self, obj: Any) -> Any:
        self.session.add(obj)
        self.session.flush()
        return obj

    # --- holdings ------------------------------------------------------------------------------
    def held(self, tag_ids: Sequence[int], contact_ids: Sequence[int]) -> dict[tuple[int, int], ContactTag]:
        out: dict[tuple[int, int], ContactTag] = {}
        for chunk in chunked(contact_ids):
            rows = self.session.scalars(
                select(ContactTag).where(ContactTag.tag_id.in_(tag_ids), ContactTag.contact_id.in_(chunk))
            )
            for row in rows:
                out[(row.contact_id, row.tag_id)] = row
        return out

    def insert_holdings(self, rows: list[dict[str, Any]]) -> None:
        for chunk in chunked(rows, 5_000):
            self.session.execute(insert(ContactTag.__table__), list(chunk))

    def update_weights(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.session.execute(
                update(ContactTag)
                .where(ContactTag.contact_id == row["contact_id"], ContactTag.tag_id == row["tag_id"])
                .values(weight=row["weight"], weighted_at=row["weighted_at"])
            )

    def delete_holdings(self, tag_id: int, contact_ids: Sequence[int]) -> None:
        for chunk in chunked(contact_ids):
            self.session.execute(
                delete(ContactTag).where(ContactTag.tag_id == tag_id, ContactTag.contact_id.in_(chunk))
            )

    def add_changes(self, rows: list[dict[str, Any]]) -> None:
        for chunk in chunked(rows, 5_000):
            self.session.execute(insert(TagChange.__table__), list(chunk))

    def of_contact(self, contact_id: int) -> list[tuple[ContactTag, Tag]]:
        return [
            (ct, t)
            for ct, t in self.session.execute(
                select(ContactTag, Tag)
                .join(Tag, Tag.id == ContactTag.tag_id)
                .where(ContactTag.contact_id == contact_id)
            ).all()
        ]

    def history(self, contact_id: int) -> list[tuple[TagChange, Tag]]:
        return [
            (c, t)
            for c, t in self.session.execute(
                select(TagChange, Tag)
                .join(Tag, Tag.id == TagChange.tag_id)
                .where(TagChange.contact_id == contact_id)
                .order_by(TagChange.at, TagChange.id)
            ).all()
        ]

    def holders(self, tag_id: int) -> list[int]:
        return list(self.session.scalars(select(ContactTag.contact_id).where(ContactTag.tag_id == tag_id)))

    # --- rules -----------------------------------------------------------------------------------
    def rules(self, enabled_only: bool = False) -> list[TagRule]:
        stmt = select(TagRule).order_by(TagRule.id)
        if enabled_only:
            stmt = stmt.where(TagRule.enabled.is_(True))
        return list(self.session.scalars(stmt))

    def rule(self, name: str) -> TagRule | None:
        return self.session.scalar(select(TagRule).where(TagRule.name == name))
