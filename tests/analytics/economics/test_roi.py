"""Channel economics: the spend import (valid rows kept, bad rows named, re-import idempotent)
and the ``roi`` runner (spend, CAC, ROI, LTV/CAC and the acquisition funnel) on a hand-made
fixture whose every number is worked out below, on DuckDB and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from tests.analytics.conftest import Warehouse, day

from siyu.analytics.base import AnalyticsError, run_analysis
from siyu.analytics.economics.spend import SpendImportError
from siyu.client import Siyu
from siyu.context import AppContext
from siyu.store.models import Base, Channel, ChannelSpend, EntryCode

# --- spend import ------------------------------------------------------------------------------------
HEADER = "channel,campaign,period_start,period_end,amount,currency,impressions,clicks\n"
SPEND_CSV = HEADER + (
    "ads,,2026-01-01,2026-01-31,310,CNY,31000,3100\n"  # line 2: valid
    "企业微信,,2026-01-05,2026-01-14,0,,500,50\n"  # 3: valid, channel by name
    "nope,,2026-01-01,2026-01-31,10,,,\n"  # 4: unknown channel
    "ads,spring,2026-01-31,2026-01-01,10,,,\n"  # 5: ends before it starts
    "ads,spring,2026-02-01,2026-02-28,-5,,,\n"  # 6: negative amount
    "ads,spring,2026-02-01,2026-02-30,5,,,\n"  # 7: no 30 February
    "ads,spring,2026/02/01,2026-02-28,5,,,\n"  # 8: not YYYY-MM-DD
    "ads,spring,2026-02-01,2026-02-28,abc,,,\n"  # 9: not a number
    "ads,spring,2026-02-01,2026-02-28,12.5,usd,100,200\n"  # 10: more clicks than impressions
    "ads,spring,2026-02-01,2026-02-28,12.5,usd,200,20\n"  # 11: valid, currency upper-cased
    "wecom,,2026-01-05,2026-01-14,7,,,\n"  # 12: same row as line 3 (name and key agree)
)
REJECTED = [
    (4, "channel"),
    (5, "period_end"),
    (6, "amount"),
    (7, "period_end"),
    (8, "period_start"),
    (9, "amount"),
    (10, "clicks"),
    (12, "period_start"),
]


def _channels(client: Siyu) -> None:
    client.create_channel("ads", "ads", "广告投放")
    client.create_channel("wecom", "wecom", "企业微信")


def test_spend_import_keeps_valid_rows_names_bad_ones_and_reimport_is_idempotent(
    ctx: AppContext, tmp_path: Path
) -> None:
    client = Siyu(ctx)
    _channels(client)
    path = tmp_path / "spend.csv"
    path.write_text(SPEND_CSV, encoding="utf-8")
    report = client.spend.import_csv(path)
    assert (report["source"], report["rows"], report["inserted"], report["updated"]) == (
        "spend.csv",
        11,
        3,
        0,
    )
    assert [(r["line"], r["field"]) for r in report["rejected"]] == REJECTED
    reasons = {r["line"]: r["reason"] for r in report["rejected"]}
    assert "unknown channel 'nope'" in reasons[4]
    assert "line 3" in reasons[12]

    listed = client.spend.list()
    assert [(r["channel"], r["campaign"], r["period_start"], r["amount"], r["currency"]) for r in listed] == [
        ("ads", None, "2026-01-01", 310.0, "CNY"),
        ("ads", "spring", "2026-02-01", 12.5, "USD"),
        ("wecom", None, "2026-01-05", 0.0, "CNY"),
    ]
    assert [(r["impressions"], r["clicks"]) for r in listed] == [(31000, 3100), (200, 20), (500, 50)]

    again = client.spend.import_csv(path)
    assert (again["inserted"], again["updated"], again["unchanged"], len(again["rejected"])) == (0, 0, 3, 8)
    # the same rows with a new amount update in place (by channel key, campaign and period)
    path.write_text(HEADER + "广告投放,,2026-01-01,2026-01-31,320.25,CNY,31000,3100\n", encoding="utf-8")
    changed = client.spend.import_csv(path)
    assert (changed["inserted"], changed["updated"], changed["unchanged"]) == (0, 1, 0)
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ChannelSpend)) == 3
        amount = s.scalar(
            select(ChannelSpend.amount).where(ChannelSpend.channel == "ads", ChannelSpend.campaign.is_(None))
        )
        assert Decimal(amount) == Decimal("320.25")


def test_spend_file_problems_are_named(ctx: AppContext, tmp_path: Path) -> None:
    client = Siyu(ctx)
    _channels(client)
    bad = tmp_path / "bad.csv"
    bad.write_text("channel,period_start,period_end,amount,ammount\nads,2026-01-01,2026-01-02,1,1\n")
    with pytest.raises(SpendImportError, match=r"missing column\(s\) campaign; unknown column\(s\) ammount"):
        client.spend.import_csv(bad)
    with pytest.raises(SpendImportError, match=r"missing\.csv"):
        client.spend.import_csv(tmp_path / "missing.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(HEADER.encode() + "ads,caf\xe9,2026-01-01,2026-01-02,1,,,\n".encode("latin-1"))
    with pytest.raises(SpendImportError, match="not UTF-8"):
        client.spend.import_csv(latin)
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ChannelSpend)) == 0


# --- roi ---------------------------------------------------------------------------------------------
ADS, WECOM, STORE = 1, 2, 3
SPRING, ADS_X = 1, 2  # entry codes
FROM, TO = day(0).date(), day(9).date()  # 2026-01-05 .. 2026-01-14, ten days


def _contact(
    cid: int, created: float, channel: int | None = None, code: int | None = None, **kw: Any
) -> dict:
    return {
        "id": cid,
        "created_at": day(created),
        "first_channel_id": channel,
        "first_entry_code_id": code,
        **kw,
    }


CONTACTS = [
    _contact(1, 1, ADS, SPRING),
    _contact(2, 3, ADS, ADS_X),
    _contact(3, 8, ADS, SPRING),
    _contact(4, -2, ADS),  # acquired before the range
    _contact(5, 0, WECOM),
    _contact(6, 9, WECOM),
    _contact(7, 4),  # no touch: unattributed, acquired when created
    _contact(8, 10, STORE),  # acquired after the range
    _contact(9, 0, ADS),  # created day 0, first touch day 2
    _contact(10, 5, WECOM),
    _contact(11, 1, ADS, merged_into_id=1),  # merged away
]
TOUCHES = [
    (1, ADS, day(1)),
    (2, ADS, day(3)),
    (3, ADS, day(8)),
    (4, ADS, day(-2)),
    (5, WECOM, day(0)),
    (6, WECOM, day(9, 23)),
    (8, STORE, day(10)),
    (9, ADS, day(2)),
    (9, WECOM, day(6)),  # a later touch changes nothing
    (10, WECOM, day(5)),
    (11, ADS, day(1)),
]


def order(cid: int, when: Any, amount: Any) -> tuple[Any, ...]:
    return (cid, "Order Completed", when, {"amount": amount})


EVENTS = [
    order(1, day(2), 100),
    order(1, day(5), 50),
    (1, "Page Viewed", day(3)),
    order(2, day(4), 80),
    order(4, day(1), 999),
    order(5, day(12), 40),  # after `to`: only within a 14-day horizon
    order(6, day(9, 23.5), 30),
    order(7, day(6), 20),
    order(9, day(0), 10),  # before its first touch: not the channel's revenue
    order(9, day(3), 5),
    order(10, day(6), "abc"),  # an order without a usable amount
    order(11, day(2), 1000),
]
# Spend: ads for January (31 days, 10 of them in the range: 100 of 310, 10,000 of 31,000
# impressions, 1,000 of 3,100 clicks), wecom free in the range, ads in December (outside).
SPEND = [
    ("ads", None, date(2026, 1, 1), date(2026, 1, 31), "310", 31000, 3100),
    ("wecom", None, date(2026, 1, 5), date(2026, 1, 14), "0", 500, 50),
    ("ads", None, date(2025, 12, 1), date(2025, 12, 31), "999", 99000, 9900),
]


@pytest.fixture
def record() -> Iterator[Session]:
    """A system of record holding the channels, entry codes and spend of the fixture."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all(
            [
                Channel(id=ADS, key="ads", name="广告投放", kind="ads", config={}),
                Channel(id=WECOM, key="wecom", name="企业微信", kind="wecom", config={}),
                Channel(id=STORE, key="store", name="门店", kind="store", config={}),
            ]
        )
        s.add_all(
            [
                EntryCode(id=SPRING, channel_id=ADS, state="ads-spring", name="s", campaign="spring"),
                EntryCode(id=ADS_X, channel_id=ADS, state="ads-x", name="x"),
            ]
        )
        add_spend(s, SPEND)
        yield s
    engine.dispose()


def add_spend(s: Session, rows: list[tuple[Any, ...]]) -> None:
    ids = {"ads": ADS, "wecom": WECOM, "store": STORE}
    for channel, campaign, start, end, amount, impressions, clicks in rows:
        s.add(
            ChannelSpend(
                channel_id=ids[channel],
                channel=channel,
                campaign=campaign,
                period_start=start,
                period_end=end,
                amount=Decimal(amount),
                currency="CNY",
                impressions=impressions,
                clicks=clicks,
                source="test",
            )
        )
    s.flush()


def roi(warehouse: Warehouse, session: Session, **params: Any) -> dict[str, Any]:
    src = warehouse.load(EVENTS, contacts=CONTACTS, touches=TOUCHES)
    return run_analysis("roi", {"from": FROM, "to": TO, **params}, src, session).to_dict()


def by_channel(result: dict[str, Any]) -> dict[Any, dict[str, Any]]:
    return {r["channel"]: r for r in result["rows"]}


def test_roi_per_channel_on_hand_numbers(warehouse: Warehouse, record: Session, snapshot: Any) -> None:
    src = warehouse.load(EVENTS, contacts=CONTACTS, touches=TOUCHES)
    ran = run_analysis("roi", {"from": FROM, "to": TO}, src, record)
    assert len(ran.sql) == 1  # one warehouse query; spend and names come from the system of record
    if warehouse.engine == "duckdb":
        snapshot("roi", ran.sql)
    result = ran.to_dict()
    rows = by_channel(result)
    assert list(rows) == ["ads", "wecom", None]  # store acquired nobody and spent nothing
    ads = rows["ads"]
    # acquired: 1, 2, 3, 9 (4 before the range, 11 merged); ordered: 1 twice, 2, 9 once (after touch)
    assert (ads["channel_name"], ads["spend"], ads["acquired"], ads["customers"]) == ("广告投放", 100.0, 4, 3)
    assert (ads["repurchasers"], ads["orders"], ads["revenue"]) == (1, 4, 235.0)
    assert ads["cac"] == 25.0 and ads["cost_per_customer"] == pytest.approx(100 / 3, abs=1e-6)
    assert ads["roi"] == 1.35 and ads["ltv"] == 58.75 and ads["ltv_cac"] == 2.35
    assert (ads["impressions"], ads["clicks"]) == (10000.0, 1000.0)
    assert (ads["click_rate"], ads["consult_rate"], ads["purchase_rate"]) == (0.1, 0.004, 0.75)
    assert ads["repurchase_rate"] == pytest.approx(1 / 3, abs=1e-6)
    wecom = rows["wecom"]
    # acquired 5, 6 (touch on the last day at 23:00), 10; 5 ordered after `to`, 10 without an amount
    assert (wecom["acquired"], wecom["customers"], wecom["orders"], wecom["revenue"]) == (3, 2, 2, 30.0)
    # no money spent: CAC, ROI and LTV/CAC are unknown, not 0 or infinite
    assert (wecom["spend"], wecom["cac"], wecom["roi"], wecom["ltv_cac"], wecom["ltv"]) == (
        0.0,
        None,
        None,
        None,
        10.0,
    )
    assert (wecom["click_rate"], wecom["consult_rate"], wecom["repurchase_rate"]) == (0.1, 0.06, 0.0)
    none = rows[None]
    assert (none["channel_name"], none["acquired"], none["revenue"], none["spend"]) == (
        "(unattributed)",
        1,
        20.0,
        0.0,
    )
    assert (none["impressions"], none["click_rate"], none["cac"]) == (None, None, None)
    total = result["total"]
    assert (total["spend"], total["acquired"], total["customers"], total["revenue"]) == (100.0, 8, 6, 285.0)
    assert (total["cac"], total["roi"], total["ltv_cac"]) == (12.5, 1.85, 2.85)
    assert (total["impressions"], total["clicks"]) == (10500.0, 1050.0)
    assert (result["currency"], result["from"], result["to"]) == ("CNY", "2026-01-05", "2026-01-14")


def test_roi_revenue_horizon_counts_orders_within_n_days_of_acquisition(
    warehouse: Warehouse, record: Session
) -> None:
    wecom = by_channel(roi(warehouse, record, horizon_days=14))["wecom"]
    # contact 5 (acquired day 0) ordered on day 12: inside 14 days, though after `to`
    assert (wecom["customers"], wecom["orders"], wecom["revenue"], wecom["purchase_rate"]) == (
        3,
        3,
        70.0,
        1.0,
    )
    ads = by_channel(roi(warehouse, record, horizon_days=2))["ads"]
    # within 2 days: 1's day-2 order (acquired day 1), 2's day-4 order (day 3), 9's day-3 order (day 2)
    assert (ads["customers"], ads["repurchasers"], ads["revenue"]) == (3, 0, 185.0)


def test_roi_by_campaign_matches_spend_to_entry_code_campaigns(warehouse: Warehouse, record: Session) -> None:
    add_spend(
        record,
        [
            ("ads", "spring", date(2026, 1, 5), date(2026, 1, 14), "60", None, None),
            ("ads", "autumn", date(2026, 1, 10), date(2026, 1, 19), "40", 1000, 10),
        ],
    )
    result = roi(warehouse, record, by="campaign")
    rows = {(r["channel"], r["campaign"]): r for r in result["rows"]}
    assert list(rows) == [
        ("ads", "ads-x"),  # code without a campaign: its state
        ("ads", "autumn"),
        ("ads", "spring"),
        ("ads", None),
        ("wecom", None),
        (None, None),
    ]
    spring = rows[("ads", "spring")]  # contacts 1 and 3
    assert (spring["spend"], spring["acquired"], spring["revenue"], spring["cac"], spring["roi"]) == (
        60.0,
        2,
        150.0,
        30.0,
        1.5,
    )
    assert spring["impressions"] is None  # the spend row does not say
    autumn = rows[("ads", "autumn")]  # 5 of its 10 days in range, nobody acquired
    assert (autumn["spend"], autumn["acquired"], autumn["roi"], autumn["cac"], autumn["impressions"]) == (
        20.0,
        0,
        -1.0,
        None,
        500.0,
    )
    assert rows[("ads", None)]["spend"] == 100.0 and rows[("ads", None)]["acquired"] == 1  # contact 9
    assert rows[("ads", "ads-x")]["revenue"] == 80.0 and rows[("ads", "ads-x")]["cac"] is None
    assert result["unmatched_campaigns"] == [{"channel": "ads", "campaign": "autumn"}]
    assert result["total"]["spend"] == 180.0 and result["total"]["impressions"] is None


def test_roi_with_no_spend_and_no_contacts_is_null_not_a_crash(warehouse: Warehouse) -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        src = warehouse.load(
            [order(1, day(1), 10)], contacts=[_contact(1, 1, ADS)], touches=[(1, ADS, day(1))]
        )
        result = run_analysis("roi", {"from": "2027-01-01", "to": "2027-01-31"}, src, s).to_dict()
        assert result["rows"] == [] and result["currency"] is None
        assert (result["total"]["spend"], result["total"]["cac"], result["total"]["roi"]) == (0.0, None, None)
        # default range: the 30 days up to the last event day
        default = run_analysis("roi", {}, src, s).to_dict()
        assert (default["from"], default["to"]) == ("2025-12-08", "2026-01-06")
        [row] = default["rows"]
        assert (row["channel"], row["channel_name"], row["acquired"], row["revenue"]) == ("#1", "#1", 1, 10.0)
    engine.dispose()


def test_roi_refuses_mixed_currencies_and_bad_ranges(warehouse: Warehouse, record: Session) -> None:
    record.add(
        ChannelSpend(
            channel_id=ADS,
            channel="ads",
            campaign="usd",
            period_start=FROM,
            period_end=TO,
            amount=Decimal(10),
            currency="USD",
            source="t",
        )
    )
    record.flush()
    src = warehouse.load(EVENTS, contacts=CONTACTS, touches=TOUCHES)
    with pytest.raises(AnalyticsError, match=r"several currencies \(CNY, USD\)") as err:
        run_analysis("roi", {"from": FROM, "to": TO}, src, record)
    assert err.value.field == "currency"
    usd = by_channel(run_analysis("roi", {"from": FROM, "to": TO, "currency": "USD"}, src, record).to_dict())
    assert usd["ads"]["spend"] == 10.0 and usd["wecom"]["spend"] == 0.0 and usd["ads"]["impressions"] is None
    with pytest.raises(AnalyticsError) as bad:
        run_analysis("roi", {"from": "2026-02-01", "to": "2026-01-01"}, src, record)
    assert "to must be on or after from" in str(bad.value)
    with pytest.raises(AnalyticsError, match="system of record"):
        run_analysis("roi", {"from": FROM, "to": TO}, src, None)
