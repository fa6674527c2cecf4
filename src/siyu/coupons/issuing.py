"""Handing coupons out: the holdout, idempotency by external id, the issue limit, codes from the
template's pool or freshly generated, the ``Coupon Issued`` events. Concurrent issues of one
template queue on its row (the ``issued`` counter), so the external ids read after it include
every committed issue."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from siyu.coupons.codes import insert_codes, random_code
from siyu.coupons.errors import CouponError
from siyu.coupons.rules import held_out
from siyu.coupons.templates import TemplateService
from siyu.store.changes import emit_events, note_changed
from siyu.store.dialect import chunked, insert_ignore
from siyu.store.models.contacts import Contact
from siyu.store.models.coupons import Coupon, CouponHoldout, CouponTemplate

ISSUED = "Coupon Issued"


class Issuer:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session, self.now = session, now
        self.templates = TemplateService(session, now=now)

    def issue(
        self, template_key: str, wanted: list[tuple[int, str | None]], issued_by: str
    ) -> dict[int, Coupon | None]:
        t = self.templates.get(template_key)
        if t.status != "active":
            raise CouponError(
                f"template_{t.status}", f"coupon template {t.key!r} is {t.status}", field="template"
            )
        self._check_wanted(wanted)
        result: dict[int, Coupon | None] = {}
        out = [(c, x) for c, x in wanted if held_out(t.key, c, t.holdout_percent)]
        if out:
            rows = [
                {"template_id": t.id, "contact_id": c, "issued_by": issued_by, "at": self.now} for c, _ in out
            ]
            insert_ignore(self.session, CouponHoldout.__table__, rows, ["template_id", "contact_id"])
            result.update((c, None) for c, _ in out)
        todo = [(c, x) for c, x in wanted if c not in result]
        if not todo:
            return result
        # Lock the template row first: concurrent issues of one template queue here, so the
        # external ids read below include every committed issue.
        table = CouponTemplate.__table__
        self.session.execute(update(table).where(table.c.id == t.id).values(issued=table.c.issued))
        ext = [x for _, x in todo if x is not None]
        done: dict[str, Coupon] = {}
        for chunk in chunked(ext, 1_000):
            done.update(
                (c.external_id, c)
                for c in self.session.scalars(select(Coupon).where(Coupon.external_id.in_(chunk)))
            )
        for c, x in todo:
            if x is not None and x in done:
                result[c] = done[x]
        todo = [(c, x) for c, x in todo if c not in result]
        todo = todo[: self._reserve(t, len(todo))]
        if todo:
            fresh = self._hand_out(t, todo, issued_by)
            result.update(fresh)
            self._announce(t, list(fresh.values()))
        return result

    def _check_wanted(self, wanted: list[tuple[int, str | None]]) -> None:
        """Unknown contacts and over-long external ids are refused before anything is issued (a
        cut idempotency key could make two different issues one)."""
        for _, x in wanted:
            if x is not None and not 0 < len(x) <= 200:
                raise CouponError(
                    "invalid_external_id", "external_id: 1 to 200 characters", field="external_id"
                )
        ids = sorted({c for c, _ in wanted})
        known: set[int] = set()
        for chunk in chunked(ids, 1_000):
            known.update(self.session.scalars(select(Contact.id).where(Contact.id.in_(chunk))))
        missing = [c for c in ids if c not in known]
        if missing:
            raise CouponError("contact_not_found", f"contact: no contact {missing[0]}", field="contact")

    def _reserve(self, t: CouponTemplate, n: int) -> int:
        """Counts ``n`` issues against the issue limit (fewer when it runs out); returns how many."""
        table = CouponTemplate.__table__
        if t.issue_limit is not None:
            self.session.refresh(t, ["issued"])
            n = max(0, min(n, t.issue_limit - t.issued))
        if n:
            self.session.execute(update(table).where(table.c.id == t.id).values(issued=table.c.issued + n))
            self.session.expire(t, ["issued"])
        return n

    def _hand_out(
        self, t: CouponTemplate, todo: list[tuple[int, str | None]], issued_by: str
    ) -> dict[int, Coupon]:
        expires = t.valid_until
        if t.valid_days is not None:
            after = self.now + timedelta(days=t.valid_days)
            expires = after if expires is None else min(expires, after)
        values = {
            "status": "issued",
            "issued_by": issued_by[:120],
            "issued_at": self.now,
            "valid_from": t.valid_from,
            "expires_at": expires,
        }
        pool = self.session.scalars(
            select(Coupon.id)
            .where(Coupon.template_id == t.id, Coupon.status == "unassigned")
            .order_by(Coupon.id)
            .limit(len(todo))
            .with_for_update(skip_locked=True)
        ).all()
        ids: list[int] = []
        for (contact, ext), coupon_id in zip(todo, pool, strict=False):
            self.session.execute(
                update(Coupon)
                .where(Coupon.id == coupon_id, Coupon.status == "unassigned")
                .values(contact_id=contact, external_id=ext, **values)
            )
            ids.append(coupon_id)
        rest = todo[len(pool) :]
        while rest:  # a fresh code per contact; a code collision (≈never) is retried
            rows = {random_code(t.code_prefix): (c, x) for c, x in rest}
            fresh = [
                {
                    "template_id": t.id,
                    "code": code,
                    "contact_id": c,
                    "external_id": x,
                    "created_at": self.now,
                    **values,
                }
                for code, (c, x) in rows.items()
            ]
            made = insert_codes(self.session, fresh)
            ids.extend(self.session.scalars(select(Coupon.id).where(Coupon.code.in_(list(made)))))
            rest = [cx for code, cx in rows.items() if code not in made]
        coupons: list[Coupon] = []
        for chunk in chunked(ids, 1_000):
            coupons.extend(
                self.session.scalars(
                    select(Coupon).where(Coupon.id.in_(chunk)).execution_options(populate_existing=True)
                )
            )
        return {c.contact_id: c for c in coupons if c.contact_id is not None}

    def _announce(self, t: CouponTemplate, coupons: list[Coupon]) -> None:
        rows = [
            (
                f"coupon.issued:{c.contact_id:012d}:{c.id}",
                c.contact_id,
                {
                    "code": c.code,
                    "template": t.key,
                    "expires_at": c.expires_at.isoformat() if c.expires_at else None,
                },
            )
            for c in coupons
            if c.contact_id is not None
        ]
        emit_events(self.session, ISSUED, rows, self.now)
        note_changed(self.session, [c.contact_id for c in coupons if c.contact_id is not None])
