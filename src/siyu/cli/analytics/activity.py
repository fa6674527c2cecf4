"""`siyu analytics activity|stickiness|lifecycle|retention`: who is active, how often, and who
comes back. Each command only gathers parameters; the runner validates them (errors name the
field) and the shared helpers print the table, ``--json`` (the payload) or ``--csv``."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer

from siyu.cli.analytics.app import CsvOpt, FromOpt, JsonOpt, ToOpt, analytics_app, run_and_emit
from siyu.cli.common import fail

EventOpt = Annotated[
    str | None,
    typer.Option(
        "--event",
        help='Event that counts as activity (default: any customer activity; "*" too). '
        "计入活跃的事件（默认：任意用户行为）。",
    ),
]
WhereOpt = Annotated[
    str | None,
    typer.Option(
        "--where",
        help='Property filters as JSON, e.g. \'[{"property": "amount", "op": "gt", "value": 100}]\'. '
        "事件属性过滤（JSON）。",
    ),
]
PeriodOpt = Annotated[
    str,
    typer.Option("--period", help="Period: day, week (from Monday) or month. 周期：日、周（周一起）、月。"),
]


def filters(option: str, text: str | None) -> list[Any] | None:
    """A JSON filter list (one object is a list of one)."""
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise fail(f"{option}: not valid JSON ({exc})") from exc
    return value if isinstance(value, list) else [value]


@analytics_app.command("activity")
def activity(
    from_: FromOpt = None,
    to: ToOpt = None,
    event: EventOpt = None,
    where: WhereOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """DAU/WAU/MAU per day (trailing 1/7/30 days) and DAU/MAU stickiness. 日活/周活/月活与粘性。"""
    params = {"from": from_, "to": to, "event": event, "where": filters("--where", where)}
    run_and_emit("activity", params, as_json, as_csv)


@analytics_app.command("stickiness")
def stickiness(
    from_: FromOpt = None,
    to: ToOpt = None,
    interval: Annotated[
        str, typer.Option("--interval", help="Interval counted: day, week or month. 统计粒度：日、周、月。")
    ] = "day",
    event: EventOpt = None,
    where: WhereOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Contacts by number of active days (weeks, months) in the range. 按活跃天数分布的用户数。"""
    params = {
        "from": from_,
        "to": to,
        "interval": interval,
        "event": event,
        "where": filters("--where", where),
    }
    run_and_emit("stickiness", params, as_json, as_csv)


@analytics_app.command("lifecycle")
def lifecycle(
    from_: FromOpt = None,
    to: ToOpt = None,
    period: PeriodOpt = "week",
    event: EventOpt = None,
    where: WhereOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """New, returning, resurrecting and dormant contacts per period. 每周期新增、留存、回流、流失用户。"""
    params = {"from": from_, "to": to, "period": period, "event": event, "where": filters("--where", where)}
    run_and_emit("lifecycle", params, as_json, as_csv)


@analytics_app.command("retention")
def retention(
    start_event: Annotated[
        str,
        typer.Option(
            "--start-event", help='Event that starts a cohort ("*": any activity). 进入同期群的事件。'
        ),
    ],
    return_event: Annotated[
        str | None,
        typer.Option(
            "--return-event", help="Event that counts as coming back (default: the start event). 回访事件。"
        ),
    ] = None,
    type_: Annotated[
        str,
        typer.Option(
            "--type",
            help="first-time (cohort of the first start event) or recurring (every start). "
            "首次（首次发生的周期）或重复（每次发生）。",
        ),
    ] = "first-time",
    period: Annotated[
        str, typer.Option("--period", help="hour, day, week (from Monday) or month. 周期：时、日、周、月。")
    ] = "week",
    from_: FromOpt = None,
    to: ToOpt = None,
    periods: Annotated[
        int | None,
        typer.Option("--periods", help="Periods to follow (default: all from --from to --to). 跟踪周期数。"),
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            "--mode", help="on (in period k) or on-or-after (in k or later). 当期回访或当期及以后回访。"
        ),
    ] = "on",
    start_where: Annotated[
        str | None, typer.Option("--start-where", help="Start event filters (JSON). 起始事件过滤。")
    ] = None,
    return_where: Annotated[
        str | None, typer.Option("--return-where", help="Return event filters (JSON). 回访事件过滤。")
    ] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Cohort retention table and its weighted average curve (D1/D7/D30). 同期群留存表与平均留存曲线。"""
    params = {
        "start_event": start_event,
        "return_event": return_event,
        "type": type_,
        "period": period,
        "from": from_,
        "to": to,
        "periods": periods,
        "mode": mode,
        "start_where": filters("--start-where", start_where),
        "return_where": filters("--return-where", return_where),
    }
    run_and_emit("retention", params, as_json, as_csv)
