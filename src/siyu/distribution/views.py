"""Read models for the interfaces: the promoter dashboard (sales, commissions by state,
downline), the commission list and the settlement export's rows. Money as decimal strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from siyu.distribution.ledger import EARN, STATES, balances
from siyu.distribution.promoters import get_promoter, promoter_dict
from siyu.distribution.settings import DistributionError
from siyu.exports.tabular import Column, ExportFile, encode
from siyu.store.models import Commission, ContactAttribute, Order, Promoter, PromoterBinding

ZERO = {
    k: Decimal("0.00")
    for k in ("earned", "reversed", "pending", "frozen", "settled", "paid_out", "available")
}


def names_of(session: Session, contact_ids: list[int]) -> dict[int, str]:
    """The ``name`` trait of each contact (a settlement sheet pays people by name)."""
    if not contact_ids:
        return {}
    rows = session.execute(
        select(ContactAttribute.contact_id, ContactAttribute.value).where(
            ContactAttribute.contact_id.in_(sorted(set(contact_ids))), ContactAttribute.name == "name"
        )
    ).all()
    return {cid: str(v) for cid, v in rows if v not in (None, "")}


def money(d: dict[str, Decimal]) -> dict[str, str]:
    return {k: str(v) for k, v in d.items()}


def dashboard(session: Session, code: str) -> dict[str, Any]:
    """One promoter's dashboard: their level-1 sales, commissions by state and downline."""
    p = get_promoter(session, code)
    sales = session.execute(
        select(func.count(Order.id), func.coalesce(func.sum(Order.total - Order.refunded), 0))
        .join(Commission, Commission.order_id == Order.id)
        .where(Commission.promoter_id == p.id, Commission.kind == EARN, Commission.level == 1)
    ).one()
    level1 = session.scalar(select(func.count()).where(PromoterBinding.promoter_id == p.id)) or 0
    inner, outer = aliased(PromoterBinding), aliased(Promoter)
    level2 = (
        session.scalar(
            select(func.count())
            .select_from(inner)
            .join(outer, outer.id == inner.promoter_id)
            .join(PromoterBinding, PromoterBinding.contact_id == outer.contact_id)
            .where(PromoterBinding.promoter_id == p.id)
        )
        or 0
    )
    by_level = dict(
        session.execute(
            select(Commission.level, func.coalesce(func.sum(Commission.amount - Commission.reversed), 0))
            .where(Commission.promoter_id == p.id, Commission.kind == EARN)
            .group_by(Commission.level)
        ).all()
    )
    return {
        "promoter": promoter_dict(p),
        "sales": {"orders": int(sales[0]), "amount": str(Decimal(str(sales[1])).quantize(Decimal("0.01")))},
        "commissions": money(balances(session, [p.id]).get(p.id, ZERO)),
        "by_level": {
            str(k): str(Decimal(str(v)).quantize(Decimal("0.01"))) for k, v in sorted(by_level.items())
        },
        "downline": {"level1": int(level1), "level2": int(level2)},
    }


def commission_dict(c: Commission, code: str, order: tuple[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": c.id,
        "promoter": code,
        "order_id": c.order_id,
        "order_source": order[0] if order else None,
        "order_no": order[1] if order else None,
        "contact_id": c.contact_id,
        "level": c.level,
        "kind": "earn" if c.kind == EARN else "reversal",
        "base": str(c.base),
        "rate": str(c.rate),
        "amount": str(c.amount),
        "reversed": str(c.reversed),
        "state": c.state,
        "frozen_until": c.frozen_until.isoformat() if c.frozen_until else None,
        "settled_at": c.settled_at.isoformat() if c.settled_at else None,
        "created_at": c.created_at.isoformat() if c.created_at else None,
    }


def commissions(
    session: Session, code: str | None = None, state: str | None = None, limit: int = 200, offset: int = 0
) -> list[dict[str, Any]]:
    if state is not None and state not in STATES:
        raise DistributionError(
            "invalid_choice", f"state: expected one of {', '.join(STATES)}", field="state"
        )
    limit, offset = max(1, min(limit, 100_000)), max(0, min(offset, 100_000_000))
    q = (
        select(Commission, Promoter.code, Order.source, Order.order_no)
        .join(Promoter, Promoter.id == Commission.promoter_id)
        .join(Order, Order.id == Commission.order_id)
        .order_by(Commission.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if code:
        q = q.where(Commission.promoter_id == get_promoter(session, code).id)
    if state:
        q = q.where(Commission.state == state)
    return [commission_dict(c, pcode, (src, no)) for c, pcode, src, no in session.execute(q).all()]


EXPORT_KEYS = (
    "code",
    "name",
    "status",
    "earned",
    "reversed",
    "pending",
    "frozen",
    "settled",
    "paid_out",
    "available",
    "payable",
)
HEADERS = {
    "code": {"zh": "推广码", "en": "Code"},
    "name": {"zh": "推广员", "en": "Promoter"},
    "status": {"zh": "状态", "en": "Status"},
    "earned": {"zh": "累计佣金", "en": "Earned"},
    "reversed": {"zh": "退款扣回", "en": "Reversed"},
    "pending": {"zh": "待生效", "en": "Pending"},
    "frozen": {"zh": "冻结中", "en": "Frozen"},
    "settled": {"zh": "已结算", "en": "Settled"},
    "paid_out": {"zh": "已打款", "en": "Paid out"},
    "available": {"zh": "可提现", "en": "Available"},
    "payable": {"zh": "本期应付", "en": "Payable now"},
}
STATUS_WORDS = {
    "pending": {"zh": "待审核", "en": "Pending"},
    "approved": {"zh": "已通过", "en": "Approved"},
    "rejected": {"zh": "已拒绝", "en": "Rejected"},
}


def settlement_rows(session: Session, min_withdrawal: Decimal, lang: str = "zh") -> list[dict[str, Any]]:
    """One row per promoter with any commission; ``payable`` is what may be withdrawn now (the
    available balance when it reaches the minimum withdrawal, else 0)."""
    all_balances = balances(session)
    promoters = list(
        session.scalars(select(Promoter).where(Promoter.id.in_(sorted(all_balances))).order_by(Promoter.id))
    )
    names = names_of(session, [p.contact_id for p in promoters])
    rows = []
    for p in promoters:
        b = all_balances[p.id]
        payable = (
            b["available"] if b["available"] >= min_withdrawal and b["available"] > 0 else Decimal("0.00")
        )
        rows.append(
            {
                "code": p.code,
                "name": names.get(p.contact_id) or f"#{p.contact_id}",
                "status": STATUS_WORDS[p.status].get(lang, p.status),
                **{k: str(v) for k, v in b.items()},
                "payable": str(payable),
            }
        )
    return rows


def settlement_export(session: Session, fmt: str, min_withdrawal: Decimal, lang: str = "zh") -> ExportFile:
    """The settlement sheet as CSV (UTF-8 with BOM) or XLSX, through siyu.exports."""
    columns = [Column(k, HEADERS[k].get(lang) or HEADERS[k]["en"]) for k in EXPORT_KEYS]
    sheet = "佣金结算" if lang == "zh" else "Settlement"
    return encode(settlement_rows(session, min_withdrawal, lang), columns, fmt, sheet)
