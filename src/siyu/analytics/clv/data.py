"""From purchases to the per-customer summary the CLV models read (x, t_x, T, z̄).

Definitions (as in the literature the published CDNOW estimates come from):

- Time is counted in whole days; purchases on the same day are ONE transaction whose value is
  the sum of that day's amounts ("purchase days").
- A customer's calibration period starts on her first purchase day and ends at the START of the
  calibration end day ``E``: T = E − first day, t_x = last purchase day ≤ E − first day (so a
  purchase on E itself has t_x = T). This reproduces the published CDNOW summary, e.g. the
  customer with purchases on 1997-01-01, 01-18 and 08-02 and E = 1997-09-30 has x = 2,
  t_x = 213 days = 30.43 weeks, T = 272 days = 38.86 weeks.
- x = purchase days in the calibration period after the first; z̄ = mean value of those x
  repeat days (the first purchase is left out, as in Fader & Hardie's Gamma-Gamma note).
- Holdout purchases: purchase days in (E, H] for the holdout end day H.
- Customers whose first purchase is after E are not in the calibration cohort.

The same function serves transactions given as parameters and orders read from the warehouse
(one row per contact and UTC day, aggregated in SQL by ``order_days_query``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Date, cast, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Select

from siyu.analytics.base import in_sane_range
from siyu.rfm.schemas import CONFIG_SETTING, DEFAULT_CONFIG, RfmConfig, parse_config
from siyu.store.settings import get_setting
from siyu.warehouse.query import CONTACTS, EVENTS, JsonText, TryDouble

EPOCH = date(1970, 1, 1).toordinal()


def day_number(d: date) -> int:
    """Days since 1970-01-01 (how purchase days are compared and subtracted)."""
    return d.toordinal() - EPOCH


def day_date(n: int) -> date:
    return date.fromordinal(int(n) + EPOCH)


@dataclass(frozen=True)
class Summary:
    """Per customer of the calibration cohort (sorted by customer code). Times in days."""

    codes: np.ndarray
    first_day: np.ndarray
    last_day: np.ndarray
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    monetary: np.ndarray
    #: order rows (events) and their summed value in the calibration period
    orders: np.ndarray
    revenue: np.ndarray
    #: purchase days after the calibration end, up to the holdout end
    holdout: np.ndarray


def summarize(
    codes: np.ndarray,
    days: np.ndarray,
    amounts: np.ndarray,
    calibration_end: int,
    holdout_end: int,
    orders: np.ndarray | None = None,
) -> Summary:
    """The summary of purchase rows (customer code, day number, amount[, orders]); rows may
    repeat a (customer, day) pair. Fully vectorised: one sort and a few segment reductions."""
    codes, days = np.asarray(codes), np.asarray(days, dtype=np.int64)
    amounts = np.asarray(amounts, dtype=float)
    orders = np.ones(len(codes), dtype=np.int64) if orders is None else np.asarray(orders, dtype=np.int64)
    keep = days <= holdout_end
    codes, days, amounts, orders = codes[keep], days[keep], amounts[keep], orders[keep]
    order = np.lexsort((days, codes))
    codes, days, amounts, orders = codes[order], days[order], amounts[order], orders[order]
    # one row per (customer, day)
    n = len(codes)
    new = np.ones(n, dtype=bool)
    if n:
        new[1:] = (codes[1:] != codes[:-1]) | (days[1:] != days[:-1])
    at = np.flatnonzero(new)
    codes, days = codes[at], days[at]
    amounts = np.add.reduceat(amounts, at) if n else amounts
    orders = np.add.reduceat(orders, at) if n else orders
    # per customer
    first = np.ones(len(codes), dtype=bool)
    if len(codes):
        first[1:] = codes[1:] != codes[:-1]
    starts = np.flatnonzero(first)
    index = np.cumsum(first) - 1
    k = len(starts)
    cal = days <= calibration_end
    n_cal = np.bincount(index, weights=cal, minlength=k).astype(np.int64)
    cohort = n_cal > 0  # rows are sorted by day: a first purchase after E has no calibration row
    first_day = days[starts]
    last_day = days[starts + np.maximum(n_cal, 1) - 1]
    x = np.maximum(n_cal - 1, 0)
    repeat_value = np.bincount(index, weights=np.where(cal, amounts, 0.0), minlength=k) - amounts[starts]
    with np.errstate(divide="ignore", invalid="ignore"):
        monetary = np.where(x > 0, repeat_value / np.maximum(x, 1), 0.0)
    pick = np.flatnonzero(cohort)
    return Summary(
        codes=codes[starts][pick],
        first_day=first_day[pick],
        last_day=last_day[pick],
        x=x[pick],
        t_x=(last_day - first_day)[pick],
        T=(calibration_end - first_day)[pick],
        monetary=monetary[pick],
        orders=np.bincount(index, weights=np.where(cal, orders, 0), minlength=k).astype(np.int64)[pick],
        revenue=np.bincount(index, weights=np.where(cal, amounts, 0.0), minlength=k)[pick],
        holdout=np.bincount(index, weights=~cal, minlength=k).astype(np.int64)[pick],
    )


# --- the warehouse's orders -----------------------------------------------------------------------
def order_config(session: Session | None) -> RfmConfig:
    """What an order is: the brand's RFM configuration (setting ``rfm.config``), the default
    ("Order Completed" with property "amount") without a system of record."""
    raw = get_setting(session, CONFIG_SETTING) if session is not None else None
    return parse_config(raw or DEFAULT_CONFIG)


def order_days_query(config: RfmConfig, until: date | None = None) -> Select[Any]:
    """One row per live contact and UTC day with orders up to ``until`` (inclusive): contact_id,
    day, orders (events), amount (sum of the numeric amounts; 0 when none is numeric).

    The configured ``window_days`` is not applied: the CLV models need each customer's whole
    history from the first purchase.
    """
    day = cast(EVENTS.c.timestamp, Date)
    amount = TryDouble(JsonText(EVENTS.c.properties, config.amount_property))
    conds = [
        EVENTS.c.type == "track",
        EVENTS.c.event == config.event,
        CONTACTS.c.merged_into_id.is_(None),
        in_sane_range(EVENTS.c.timestamp),
    ]
    if until is not None:
        conds.append(EVENTS.c.timestamp < datetime.combine(until + timedelta(days=1), time()))
    return (
        select(
            EVENTS.c.contact_id.label("contact_id"),
            day.label("day"),
            func.count().label("orders"),
            func.coalesce(func.sum(amount), literal(0.0)).label("amount"),
        )
        .select_from(EVENTS.join(CONTACTS, CONTACTS.c.id == EVENTS.c.contact_id))
        .where(*conds)
        .group_by(EVENTS.c.contact_id, day)
    )
