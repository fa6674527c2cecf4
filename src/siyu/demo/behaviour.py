"""Vectorised generation of demo persons, their contact rows and their behaviour."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from siyu.context import AppContext
    from siyu.demo.generator import DemoConfig

US_PER_DAY = 86_400_000_000
MINI_APP = "wx-demo-mini"
#: P(identifier) by acquisition channel: phone, unionid, external_userid, openid, email, device,
#: membership (customer_no). Channels that ask for a phone (stores, mini-program) have one.
ID_TYPES = ("phone", "wechat_unionid", "wecom_external_userid", "wechat_openid", "email", "app_device_id")
PROFILE: dict[str, tuple[float, ...]] = {
    "wecom": (0.55, 0.95, 1.0, 0.3, 0.05, 0.1, 0.30),
    "wechat_group": (0.35, 0.9, 0.6, 0.3, 0.02, 0.05, 0.20),
    "official_account": (0.3, 0.95, 0.2, 0.5, 0.05, 0.05, 0.15),
    "mini_program": (0.85, 0.9, 0.2, 1.0, 0.02, 0.05, 0.45),
    "app": (0.9, 0.4, 0.1, 0.1, 0.2, 1.0, 0.50),
    "store": (0.98, 0.3, 0.3, 0.2, 0.05, 0.05, 0.70),
    "douyin": (0.5, 0.1, 0.1, 0.0, 0.05, 0.1, 0.10),
    "xiaohongshu": (0.4, 0.1, 0.1, 0.0, 0.1, 0.1, 0.10),
    "taobao": (0.9, 0.0, 0.0, 0.0, 0.1, 0.0, 0.30),
    "sms": (1.0, 0.1, 0.0, 0.0, 0.0, 0.0, 0.20),
    "email": (0.3, 0.1, 0.0, 0.0, 1.0, 0.0, 0.20),
    "ads": (0.6, 0.2, 0.1, 0.1, 0.05, 0.2, 0.05),
}
BEHAVIOUR = (  # (type, event, share of non-order events)
    ("page", "Page Viewed", 0.47),
    ("track", "Content Clicked", 0.20),
    ("track", "Product Viewed", 0.08),
    ("track", "Message Received", 0.12),
    ("track", "Message Replied", 0.04),
    ("track", "Coupon Claimed", 0.06),
    ("track", "Group Joined", 0.015),
    ("track", "Referral Sent", 0.015),
)
CATEGORIES = ("new_arrivals", "deals", "tea_knowledge", "collab", "membership")
PATHS = ("/menu", "/product", "/activity", "/member", "/store-locator", "/coupon")


def persons(
    rng: np.random.Generator,
    lo: int,
    n: int,
    config: DemoConfig,
    start: datetime,
    channels: tuple[tuple[str, str, str, float], ...],
    channel_ids: dict[str, int],
    code_ids: dict[str, int],
) -> dict[str, np.ndarray]:
    shares = np.array([c[3] for c in channels])
    ch = rng.choice(len(channels), size=n, p=shares / shares.sum())
    kinds = np.array([c[1] for c in channels])[ch]
    probs = np.array([PROFILE[k] for k in kinds])  # n × 7
    has = rng.random((n, 7)) < probs
    none = ~has[:, :6].any(axis=1)
    has[none, 0] = True  # everyone is reachable somehow
    # Acquisition skews recent: traffic grows over the period.
    offset_days = config.days * rng.random(n) ** 0.75
    created = np.datetime64(start.replace(tzinfo=None), "us") + (offset_days * US_PER_DAY).astype(
        "timedelta64[us]"
    )
    # ~1% arrive twice: a WeCom-side contact and a store-side one, linked later by identify.
    split = (rng.random(n) < 0.01) & has[:, 0] & has[:, 1] & np.isin(kinds, ["wecom", "wechat_group"])
    has[split, 6] = True
    keys = np.array([c[0] for c in channels])[ch]
    return {
        "idx": np.arange(lo, lo + n),
        "channel_id": np.array([channel_ids[k] for k in keys]),
        "code_id": np.array([code_ids[k] for k in keys]),
        "kind": kinds,
        "has": has,
        "created": created,
        "offset_days": offset_days,
        "split": split,
    }


def _value(kind: str, idx: int, seed: int) -> str:
    if kind == "phone":
        return f"+8613{(idx * 2654435761 + seed * 7919) % 10**9:09d}"
    if kind == "email":
        return f"fan{idx}.{seed}@example.com"
    prefix = {
        "wechat_unionid": "oU",
        "wecom_external_userid": "wm",
        "wechat_openid": "oM",
        "app_device_id": "dev-",
        "customer_no": "M",
    }[kind]
    return f"{prefix}{seed}x{idx:08d}"


def contact_rows(
    people: dict[str, np.ndarray], base: int, ctx: AppContext, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame, list[tuple[str, str, datetime]]]:
    """Contact rows (split persons get two) and their identity rows, PII encrypted."""
    keyring = ctx.keyring
    n = len(people["idx"])
    split = people["split"]
    extra = np.cumsum(split) - split  # split persons before this one
    primary = base + 1 + np.arange(n) + extra
    second = np.where(split, primary + 1, 0)
    rows_c: dict[str, list[Any]] = {
        "id": [],
        "first_channel_id": [],
        "first_entry_code_id": [],
        "created_at": [],
    }
    rows_i: dict[str, list[Any]] = {
        k: [] for k in ("contact_id", "type", "scope", "lookup", "value", "value_enc", "created_at")
    }
    links: list[tuple[str, str, datetime]] = []
    created = people["created"]
    for j in range(n):
        idx = int(people["idx"][j])
        cid, sid = int(primary[j]), int(second[j])
        at = created[j]
        for c in (cid, sid) if sid else (cid,):
            rows_c["id"].append(c)
            rows_c["first_channel_id"].append(int(people["channel_id"][j]))
            rows_c["first_entry_code_id"].append(int(people["code_id"][j]))
            rows_c["created_at"].append(j)
        flags = people["has"][j]
        for t, kind in enumerate((*ID_TYPES, "customer_no")):
            if not flags[t]:
                continue
            value = _value(kind, idx, seed)
            # Split persons: WeCom side keeps WeChat ids, store side keeps phone/email/member no.
            owner = sid if sid and kind in ("phone", "email", "customer_no", "app_device_id") else cid
            pii = kind in ("phone", "email")
            rows_i["contact_id"].append(owner)
            rows_i["type"].append(kind)
            rows_i["scope"].append(MINI_APP if kind == "wechat_openid" else "")
            rows_i["lookup"].append(keyring.blind_index(kind, value) if pii else value)
            rows_i["value"].append(None if pii else value)
            rows_i["value_enc"].append(keyring.encrypt(value, kind.encode()) if pii else None)
            rows_i["created_at"].append(j)
        if sid:
            link_at = (at + np.timedelta64(3, "D")).astype(datetime).replace(tzinfo=UTC)
            links.append((_value("phone", idx, seed), _value("wechat_unionid", idx, seed), link_at))
    rows_c["created_at"] = created[np.array(rows_c["created_at"], dtype=np.int64)]
    rows_i["created_at"] = created[np.array(rows_i["created_at"], dtype=np.int64)]
    contacts = pl.DataFrame(
        rows_c,
        schema={
            "id": pl.Int64,
            "first_channel_id": pl.Int64,
            "first_entry_code_id": pl.Int64,
            "created_at": pl.Datetime("us"),
        },
    )
    identities = pl.DataFrame(
        rows_i,
        schema={
            "contact_id": pl.Int64,
            "type": pl.String,
            "scope": pl.String,
            "lookup": pl.String,
            "value": pl.String,
            "value_enc": pl.Binary,
            "created_at": pl.Datetime("us"),
        },
    )
    identities = identities.with_columns(pl.lit("demo").alias("source"))
    # Store the contacts' primary id per person for event assignment.
    people["contact_a"] = primary
    people["contact_b"] = np.where(split, second, primary)
    return contacts, identities, links


def events(
    rng: np.random.Generator,
    people: dict[str, np.ndarray],
    contacts: pl.DataFrame,
    config: DemoConfig,
    start: datetime,
    end: datetime,
    id_base: int,
    source_id: int,
) -> pl.DataFrame:
    n = len(people["idx"])
    start64 = np.datetime64(start.replace(tzinfo=None), "us")
    end_days = float(config.days)
    created_d = people["offset_days"]
    # Engagement: heavy-tailed rate, and a dropout time after which the contact goes quiet.
    rate = rng.gamma(0.7, config.events_per_day / 0.7, n)
    lifetime = rng.exponential(config.days * 0.8, n)
    alive = np.minimum(end_days - created_d, lifetime)
    counts = rng.poisson(rate * alive)
    owner = np.repeat(np.arange(n), counts)
    t_days = created_d[owner] + rng.random(owner.size) * alive[owner]
    shares = np.array([b[2] for b in BEHAVIOUR])
    kind_ix = rng.choice(len(BEHAVIOUR), size=owner.size, p=shares / shares.sum())

    # Orders: first purchase soon after acquisition, then Poisson repeats until a geometric
    # dropout (BG/NBD's story); spend per order Gamma-Gamma.
    buyer = rng.random(n) < np.where(np.isin(people["kind"], ["store", "taobao", "mini_program"]), 0.6, 0.35)
    first = created_d + rng.exponential(5.0, n)
    buyer &= first < end_days
    b = np.flatnonzero(buyer)
    k_max = 40
    lam = rng.gamma(0.6, 1 / 12, b.size)
    p_drop = rng.beta(1.0, 3.0, b.size)
    gaps = rng.exponential(1.0, (b.size, k_max)) / lam[:, None]
    gaps[:, 0] = 0.0
    times = first[b][:, None] + np.cumsum(gaps, axis=1)
    n_alive = rng.geometric(p_drop)
    mask = (times < end_days) & (np.arange(k_max)[None, :] < n_alive[:, None])
    order_owner = np.repeat(b, mask.sum(axis=1))
    order_t = times[mask]
    nu = rng.gamma(3.8, 1 / 28.0, n)
    amount = np.round(rng.gamma(6.0, 1.0, order_owner.size) / nu[order_owner], 2)

    all_owner = np.concatenate([owner, order_owner])
    all_t = np.concatenate([t_days, order_t])
    all_kind = np.concatenate([kind_ix, np.full(order_owner.size, len(BEHAVIOUR))])
    total = all_owner.size
    # Split persons: behaviour before the link lands on either contact (pre-merge ids).
    pick_b = rng.random(total) < 0.5
    contact = np.where(pick_b, people["contact_b"][all_owner], people["contact_a"][all_owner])
    ts = start64 + (all_t * US_PER_DAY).astype("timedelta64[us]")
    names = [e for _, e, _ in BEHAVIOUR] + ["Order Completed"]
    types = [t for t, _, _ in BEHAVIOUR] + ["track"]
    order_amount = np.zeros(total)
    order_amount[owner.size :] = amount
    df = pl.DataFrame(
        {
            "contact_id": contact.astype(np.int64),
            "timestamp": ts,
            "k": all_kind.astype(np.int32),
            "r1": rng.integers(0, 1000, total).astype(np.int32),
            "amount": order_amount,
        }
    ).sort("timestamp")
    df = df.with_columns((pl.int_range(0, pl.len(), dtype=pl.Int64) + id_base + 1).alias("id"))
    df = df.with_columns(
        pl.col("k").replace_strict(list(range(len(names))), names, return_dtype=pl.String).alias("event"),
        pl.col("k").replace_strict(list(range(len(types))), types, return_dtype=pl.String).alias("type"),
        _concat(f"demo{config.seed}-", pl.col("id").cast(pl.String).str.zfill(12)).alias("message_id"),
        pl.lit(source_id, dtype=pl.Int64).alias("source_id"),
        _properties(config.seed).alias("properties"),
    )
    return df.select(
        "id", "message_id", "contact_id", "source_id", "type", "event", "properties", "timestamp"
    )


def _concat(*parts: str | pl.Expr) -> pl.Expr:
    """Concatenate literal text and expressions (JSON built column-wise, in Rust)."""
    return pl.concat_str([pl.lit(p) if isinstance(p, str) else p.cast(pl.String) for p in parts])


def _properties(seed: int) -> pl.Expr:
    r, k = pl.col("r1"), pl.col("k")
    cat = (r % len(CATEGORIES)).replace_strict(
        list(range(len(CATEGORIES))), list(CATEGORIES), return_dtype=pl.String
    )
    path = (r % len(PATHS)).replace_strict(list(range(len(PATHS))), list(PATHS), return_dtype=pl.String)
    order = len(BEHAVIOUR)
    return (
        pl.when(k == 0)
        .then(_concat('{"path":"', path, '"}'))
        .when(k == 1)
        .then(_concat('{"category":"', cat, '","content_id":', r, "}"))
        .when(k == 2)
        .then(_concat('{"product_id":"P', r % 120, '","category":"', cat, '"}'))
        .when(k.is_in([3, 4]))
        .then(pl.lit('{"channel":"wecom"}'))
        .when(k == 5)
        .then(_concat('{"coupon_id":"CP', r % 8, '","value":', (r % 3 + 1) * 5, "}"))
        .when(k == 6)
        .then(_concat('{"group_id":"G', r % 400, '"}'))
        .when(k == 7)
        .then(_concat('{"code":"R', r, '"}'))
        .when(k == order)
        .then(
            _concat(
                '{"order_id":"O',
                str(seed),
                "-",
                pl.col("id"),
                '","amount":',
                pl.col("amount"),
                ',"items":',
                r % 4 + 1,
                "}",
            )
        )
        .otherwise(pl.lit(None))
    )
