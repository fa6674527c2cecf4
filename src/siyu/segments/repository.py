"""Every system-of-record query of the segments capability."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from siyu.store.dialect import chunked
from siyu.store.models import Channel, EntryCode, Segment, SegmentMember, SegmentVersion, Tag


class SegmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, key: str) -> Segment | None:
        return self.session.scalar(select(Segment).where(Segment.key == key))

    def by_id(self, segment_id: int) -> Segment | None:
        return self.session.get(Segment, segment_id)

    def all(self) -> list[Segment]:
        return list(self.session.scalars(select(Segment).order_by(Segment.id)))

    def add(self, segment: Segment) -> Segment:
        self.session.add(segment)
        self.session.flush()
        return segment

    def delete(self, segment: Segment) -> None:
        self.session.execute(delete(SegmentMember).where(SegmentMember.segment_id == segment.id))
        self.session.execute(delete(SegmentVersion).where(SegmentVersion.segment_id == segment.id))
        self.session.delete(segment)

    # --- names -----------------------------------------------------------------------------
    def tags(self, keys: Iterable[str]) -> dict[str, tuple[int, float | None]]:
        keys = sorted(set(keys))
        out: dict[str, tuple[int, float | None]] = {}
        for chunk in chunked(keys):
            for key, tid, hl in self.session.execute(
                select(Tag.key, Tag.id, Tag.half_life_days).where(Tag.key.in_(chunk))
            ):
                out[key] = (tid, hl)
        return out

    def channels(self, keys: Iterable[str]) -> dict[str, int]:
        return dict(
            self.session.execute(
                select(Channel.key, Channel.id).where(Channel.key.in_(sorted(set(keys))))
            ).all()
        )  # type: ignore[arg-type]

    def entry_codes(self, states: Iterable[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for chunk in chunked(sorted(set(states))):
            out.update(
                self.session.execute(
                    select(EntryCode.state, EntryCode.id).where(EntryCode.state.in_(chunk))
                ).all()
            )  # type: ignore[arg-type]
        return out

    def groups(self, chat_ids: Iterable[str]) -> dict[str, int]:
        from siyu.store.models import CustomerGroup

        rows = self.session.execute(
            select(CustomerGroup.chat_id, CustomerGroup.id)
            .where(CustomerGroup.chat_id.in_(sorted(set(chat_ids))))
            .order_by(CustomerGroup.id.desc())
        ).all()
        return {chat: gid for chat, gid in rows}  # the oldest group wins a (rare) clash of providers

    def segment_ids(self, keys: Iterable[str]) -> dict[str, int]:
        return dict(
            self.session.execute(
                select(Segment.key, Segment.id).where(Segment.key.in_(sorted(set(keys))))
            ).all()
        )  # type: ignore[arg-type]

    # --- members ---------------------------------------------------------------------------
    def add_members(self, segment_id: int, contact_ids: list[int], at: datetime) -> None:
        for chunk in chunked(contact_ids, 5_000):
            self.session.execute(
                insert(SegmentMember.__table__),
                [{"segment_id": segment_id, "contact_id": c, "entered_at": at} for c in chunk],
            )

    def remove_members(self, segment_id: int, contact_ids: list[int]) -> None:
        for chunk in chunked(contact_ids):
            self.session.execute(
                delete(SegmentMember).where(
                    SegmentMember.segment_id == segment_id, SegmentMember.contact_id.in_(chunk)
                )
            )

    def member_ids(self, segment_id: int, limit: int | None = None, offset: int = 0) -> list[int]:
        stmt = (
            select(SegmentMember.contact_id)
            .where(SegmentMember.segment_id == segment_id)
            .order_by(SegmentMember.contact_id)
            .offset(offset)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(self.session.scalars(stmt))

    def count_members(self, segment_id: int) -> int:
        return int(
            self.session.scalar(select(func.count()).where(SegmentMember.segment_id == segment_id)) or 0
        )

    def definitions(self) -> dict[str, Any]:
        return dict(self.session.execute(select(Segment.key, Segment.definition)).all())  # type: ignore[arg-type]

    def versions(self, segment_id: int) -> list[SegmentVersion]:
        return list(
            self.session.scalars(
                select(SegmentVersion)
                .where(SegmentVersion.segment_id == segment_id)
                .order_by(SegmentVersion.version.desc())
            )
        )

    # --- loyalty names -------------------------------------------------------------------------
    def tiers(self) -> dict[str, int]:
        """Every tier key → rank (``at_least`` needs the ranks of all of them)."""
        from siyu.store.models import LoyaltyTier

        return dict(self.session.execute(select(LoyaltyTier.key, LoyaltyTier.rank)).all())  # type: ignore[arg-type]

    def coupon_templates(self, keys: Iterable[str]) -> set[str]:
        from siyu.store.models import CouponTemplate

        out: set[str] = set()
        for chunk in chunked(sorted(set(keys))):
            out.update(self.session.scalars(select(CouponTemplate.key).where(CouponTemplate.key.in_(chunk))))
        return out
