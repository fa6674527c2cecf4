"""The deterministic demo brand (a tea-drink chain with WeCom, groups, a mini-program, an app
and stores), generated in bulk so it reaches 1M contacts / 50M events.

What it produces, from one seed:

* channels, entry codes and sources of a typical private-domain set-up;
* persons acquired over ``days`` days (growing traffic), each with the identifiers its
  acquisition channel yields (phone, unionid, external_userid, openid, email, device id,
  customer_no for members);
* about 1% of persons arrive as two contacts (a WeCom-side one and a store-side one) that a
  later identify call links — those merges run through the real identity-resolution engine;
* behaviour per contact: page views, content clicks (by category), messages, coupon claims,
  group joins, referrals, and orders that follow a buy-till-you-die pattern (Poisson purchases
  with a geometric dropout after each, Gamma-Gamma spend per order);
* the orders as order rows (some refunded), a three-tier membership programme with its members,
  points ledger, tier history and coupons (``demo/loyalty.py``, ``demo/ledger.py``).

Bulk rows go straight to the system of record (executemany / COPY) and to the warehouse
(Arrow), chunk by chunk, so memory stays bounded; merges are then applied by the engine and
replayed to the warehouse by the normal feeder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import polars as pl

from siyu.context import AppContext
from siyu.demo import behaviour, people
from siyu.demo import content as demo_content
from siyu.demo import loyalty as demo_loyalty
from siyu.demo import referrals as demo_referrals
from siyu.profiles.identifiers import Identifier
from siyu.profiles.repository import ProfileRepository
from siyu.sources.schemas import ChannelCreate, EntryCodeCreate, SourceCreate
from siyu.sources.service import SourcesService
from siyu.store.bulk import analyze, bulk_insert, max_id, sync_sequence
from siyu.store.models import EVENT_COLUMNS
from siyu.warehouse.store import WAREHOUSE_EVENT_SCHEMA, Warehouse

#: (key, kind, display name, share of acquisitions). The names are the brand's own, in Chinese
#: only: a Chinese brand names its channels in Chinese, and they show as such in charts.
CHANNELS: tuple[tuple[str, str, str, float], ...] = (
    ("wecom-main", "wecom", "企业微信导购", 0.26),
    ("wechat-group", "wechat_group", "福利社群", 0.10),
    ("official-account", "official_account", "公众号", 0.10),
    ("mini-program", "mini_program", "点单小程序", 0.16),
    ("app", "app", "品牌 App", 0.06),
    ("store", "store", "门店", 0.12),
    ("douyin", "douyin", "抖音", 0.08),
    ("xiaohongshu", "xiaohongshu", "小红书", 0.05),
    ("taobao", "taobao", "淘宝旗舰店", 0.04),
    ("sms", "sms", "短信", 0.01),
    ("email", "email", "邮件", 0.01),
    ("ads", "ads", "信息流广告", 0.01),
)
CHUNK = 50_000


@dataclass(frozen=True)
class DemoConfig:
    contacts: int = 10_000
    days: int = 90
    seed: int = 42
    # Mean events per active contact-day; with the recent-skewed acquisition and dropout this
    # gives about 50 events per contact over 90 days (1M contacts → ~50M events; measured
    # 47.4M at 1.7).
    events_per_day: float = 1.8
    #: Default: now, so the brand's "today" has data; pass a fixed end for the same data from
    #: the same seed (the tests and benchmarks do).
    end: datetime | None = None


def _setup_channels(ctx: AppContext) -> tuple[dict[str, int], dict[str, int], int]:
    with ctx.db.session() as s:
        svc = SourcesService(s)
        ids: dict[str, int] = {}
        codes: dict[str, int] = {}
        for key, kind, name, _ in CHANNELS:
            ch = svc.channel_by_key(key) or svc.create_channel(
                ChannelCreate(key=key, kind=kind, name=name), "demo"
            )
            ids[key] = ch.id
            state = f"demo-{key}"[:30]
            code = svc.entry_code_by_state(state) or svc.create_entry_code(
                EntryCodeCreate(channel=key, state=state, name=f"{name} 活码"), "demo"
            )
            codes[key] = code.id
        src = next((x for x in svc.sources() if x.name == "demo"), None) or svc.create_source(
            SourceCreate(name="demo"), "demo"
        )
        return ids, codes, src.id


def load(
    ctx: AppContext, config: DemoConfig, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """The demo brand as ``siyu demo`` and ``siyu serve --demo`` load it: people and their
    behaviour into an empty data directory, then the operating set-up (``demo.content``).
    Loading it again keeps the people and events (``existing``: true) and adds only what is
    missing of the set-up; a directory holding another brand's contacts is refused."""
    ctx.db.upgrade()
    with ctx.db.session() as s:
        existing = ProfileRepository(s).count_live()
        is_demo = any(x.name == "demo" for x in SourcesService(s).sources())
    if existing and not is_demo:
        raise ValueError(
            f"the database already holds {existing} contacts that are not the demo brand's; the demo "
            "loads into an empty data directory (set SIYU_DATA_DIR to a new one)"
        )
    summary: dict[str, Any] = {"contacts": existing, "existing": bool(existing), "seed": config.seed}
    if not existing:
        summary.update(generate(ctx, config, progress), existing=False)
    summary["created"] = demo_content.load(ctx)
    return summary


def generate(
    ctx: AppContext, config: DemoConfig, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Generate the demo brand into the system of record and the warehouse."""
    if config.contacts < 1 or config.days < 1:
        raise ValueError("--contacts and --days must be at least 1")
    ctx.db.upgrade()
    with ctx.db.session() as s:
        existing = ProfileRepository(s).count_live()
    if existing:
        raise ValueError(
            f"the database already holds {existing} contacts; the demo brand loads into an empty "
            "data directory (set SIYU_DATA_DIR to a new one)"
        )
    end = config.end or datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=config.days)
    channel_ids, code_ids, source_id = _setup_channels(ctx)
    engine = ctx.db.engine
    contact_base = max_id(engine, "contacts")
    identity_base = max_id(engine, "identities")
    event_base = max_id(engine, "events")
    touch_base = max_id(engine, "touches")
    rng = np.random.default_rng(config.seed)
    wh = Warehouse(ctx.settings.resolved_warehouse_path)
    totals = {"contacts": 0, "events": 0, "identities": 0, "orders": 0, "links": []}
    channel_kinds = {channel_ids[key]: kind for key, kind, _, _ in CHANNELS}
    order_frames: list[pl.DataFrame] = []
    try:
        for lo in range(0, config.contacts, CHUNK):
            n = min(CHUNK, config.contacts - lo)
            chunk_seed = int(rng.integers(0, 2**63 - 1))
            person_rows = behaviour.persons(
                np.random.default_rng(chunk_seed), lo, n, config, start, CHANNELS, channel_ids, code_ids
            )
            contacts, identities, links = behaviour.contact_rows(
                person_rows, contact_base + totals["contacts"], ctx, config.seed
            )
            events = behaviour.events(
                np.random.default_rng(chunk_seed + 1),
                person_rows,
                contacts,
                config,
                start,
                end,
                event_base + totals["events"],
                source_id,
            )
            _write_chunk(
                ctx,
                wh,
                contacts,
                identities,
                events,
                identity_base + totals["identities"],
                touch_base + totals["contacts"],
            )
            _write_traits(
                ctx, people.people(config.seed, lo, n), person_rows["contact_a"], person_rows["created"]
            )
            order_frames.append(demo_loyalty.order_rows(events, contacts, channel_kinds))
            totals["contacts"] += contacts.height
            totals["identities"] += identities.height
            totals["events"] += events.height
            totals["orders"] += int((events["event"] == "Order Completed").sum())
            totals["links"].extend(links)
            if progress:
                progress(lo + n, config.contacts)
        for table in ("contacts", "identities", "events", "touches"):
            sync_sequence(engine, table)
        analyze(engine, ("contacts", "identities", "events", "touches"))
        merges = _link(ctx, totals.pop("links"), end)
        # orders, members, the points ledger and coupons: after the merges, on the survivors
        loyalty = demo_loyalty.load(ctx, pl.concat(order_frames), channel_ids, end, config.seed)
        referrals = demo_referrals.load(ctx, end, config.seed)
        wh.feed(ctx.db, ctx.settings.warehouse_batch_size)
    finally:
        wh.close()
    return {
        "contacts": totals["contacts"] - merges,
        "contact_rows": totals["contacts"],
        "events": totals["events"],
        "orders": totals["orders"],
        "identities": totals["identities"],
        "merges": merges,
        "loyalty": loyalty,
        "referrals": referrals,
        "seed": config.seed,
        "start": start.isoformat(),
        "end": end.isoformat(),
    }


def _write_chunk(
    ctx: AppContext,
    wh: Warehouse,
    contacts: pl.DataFrame,
    identities: pl.DataFrame,
    events: pl.DataFrame,
    identity_base: int,
    touch_base: int,
) -> None:
    engine = ctx.db.engine
    # UTC text both databases parse; PostgreSQL is told the zone so its session zone is moot.
    zone = "+00" if engine.dialect.name == "postgresql" else ""
    ts = "%Y-%m-%d %H:%M:%S%.6f" + zone
    c = contacts.with_columns(pl.col("created_at").dt.strftime(ts).alias("created_s"))
    now_s = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + zone
    bulk_insert(
        engine,
        "contacts",
        ("id", "first_channel_id", "first_entry_code_id", "created_at", "updated_at"),
        c.select(
            "id",
            "first_channel_id",
            "first_entry_code_id",
            "created_s",
            pl.lit(now_s).alias("updated_s"),  # wall clock of the change: the warehouse feed tracks it
        ).iter_rows(),
    )
    i = identities.with_columns(
        (pl.int_range(0, pl.len()) + identity_base + 1).alias("id"),
        pl.col("created_at").dt.strftime(ts).alias("created_s"),
    )
    bulk_insert(
        engine,
        "identities",
        ("id", "contact_id", "type", "scope", "lookup", "value", "value_enc", "source", "created_at"),
        i.select(
            "id", "contact_id", "type", "scope", "lookup", "value", "value_enc", "source", "created_s"
        ).iter_rows(),
    )
    t = c.with_columns((pl.int_range(0, pl.len()) + touch_base + 1).alias("tid"))
    bulk_insert(
        engine,
        "touches",
        ("id", "contact_id", "channel_id", "entry_code_id", "is_first", "occurred_at"),
        t.select(
            "tid", "id", "first_channel_id", "first_entry_code_id", pl.lit(True), "created_s"
        ).iter_rows(),
    )
    bulk_insert(engine, "contact_changes", ("contact_id", "at"), ((cid, now_s) for cid in c["id"]))
    full = events.with_columns(
        pl.lit(None, dtype=pl.String).alias("context"), pl.col("timestamp").alias("received_at")
    ).select(EVENT_COLUMNS)
    as_text = full.with_columns(pl.col("timestamp", "received_at").dt.strftime(ts))
    bulk_insert(engine, "events", EVENT_COLUMNS, as_text.iter_rows())
    wh.load_arrow(full.to_arrow().cast(WAREHOUSE_EVENT_SCHEMA))


def _write_traits(ctx: AppContext, traits: dict[str, list[str]], contact_ids: Any, created: Any) -> None:
    """Name, gender, city and birthday of each person, on its (first) contact row."""
    zone = "+00" if ctx.db.engine.dialect.name == "postgresql" else ""
    stamps = [str(t).replace("T", " ")[:26] + zone for t in created.astype("datetime64[us]")]
    rows = (
        (int(cid), name, orjson.dumps(values[i]).decode(), stamps[i])
        for name, values in traits.items()
        for i, cid in enumerate(contact_ids)
    )
    bulk_insert(ctx.db.engine, "contact_attributes", ("contact_id", "name", "value", "updated_at"), rows)


def _link(ctx: AppContext, links: list[tuple[str, str, datetime]], end: datetime) -> int:
    """The identify calls that connect split persons, through the real engine."""
    merges = 0
    parser = ctx.parser
    for i in range(0, len(links), 1000):
        with ctx.db.session() as s:
            profiles = ctx.profiles(s)
            for phone, unionid, at in links[i : i + 1000]:
                ids: list[Identifier] = [
                    parser.parse("phone", phone),
                    parser.parse("wechat_unionid", unionid),
                ]
                result = profiles.identify(ids, at=min(at, end), source="demo", actor="demo")
                merges += len(result.merged)
    return merges
