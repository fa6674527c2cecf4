"""`siyu analytics funnel|paths`: conversion through ordered steps, and what contacts do around
an event. Each command only gathers parameters (the runners validate them and name the bad
field); the shared helpers print a table, ``--json`` (the payload) or ``--csv`` (the main table)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
import yaml

from siyu.cli.analytics.app import CsvOpt, FromOpt, JsonOpt, ToOpt, analytics_app, run_and_emit
from siyu.cli.common import fail
from siyu.store.documents import load_yaml

StepOpt = Annotated[
    list[str] | None,
    typer.Option("--step", help="A step's event, in order; repeat for each step. 步骤事件，按顺序重复给出。"),
]
StepsFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--steps-file",
        help="JSON or YAML file: a list of steps ({event, where}), or an object with steps and other "
        "funnel parameters (exclusions, mode…); options given on the command line win. "
        "步骤文件（JSON/YAML）：步骤列表，或含 steps 等参数的对象。",
        exists=True,
        dir_okay=False,
    ),
]
BreakdownOpt = Annotated[
    str | None,
    typer.Option(
        "--breakdown",
        help="first_channel, or attribute:NAME (e.g. attribute:city). 拆分：首触渠道或 attribute:属性名。",
    ),
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        help="Exclusion EVENT[:FROM:TO] (0-based steps; default the whole funnel), e.g. Refund:0:1; "
        "repeatable. 排除事件 事件[:起步:止步]（从 0 计），可重复。",
    ),
]


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        return orjson.loads(text) if path.suffix.lower() == ".json" else load_yaml(text)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise fail(f"--steps-file: cannot read {path.name} ({exc})") from exc


def _exclusion(text: str) -> dict[str, Any]:
    """``Refund`` (the whole funnel) or ``Refund:0:1`` (between steps 0 and 1); the event name
    itself may contain colons."""
    parts = text.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return {"event": parts[0], "from_step": int(parts[1]), "to_step": int(parts[2])}
    return {"event": text}


def _breakdown(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    if text.startswith("attribute:"):
        return {"by": "attribute", "name": text.removeprefix("attribute:")}
    return {"by": text.replace("-", "_")}


@analytics_app.command("funnel")
def funnel(
    step: StepOpt = None,
    steps_file: StepsFileOpt = None,
    window_days: Annotated[
        int | None,
        typer.Option("--window-days", help="Conversion window from step 1, in days (14). 转化窗口（天）。"),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode", help="sequential, strict or any-order (sequential). 模式：顺序、严格顺序、任意顺序。"
        ),
    ] = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    breakdown: BreakdownOpt = None,
    exclude: ExcludeOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Contacts through ordered steps within a window, step by step. 漏斗：各步骤人数与转化率。"""
    params: dict[str, Any] = {}
    if steps_file is not None:
        document = _read(steps_file)
        if isinstance(document, list):
            params["steps"] = document
        elif isinstance(document, dict):
            params.update(document)
        else:
            raise fail("--steps-file: expected a list of steps or an object with steps")
    if step:
        if "steps" in params:
            raise fail("give the steps with --step or in --steps-file, not both")
        params["steps"] = [{"event": e} for e in step]
    if "steps" not in params:
        raise fail("give the steps: --step EVENT (repeat) or --steps-file FILE")
    if exclude:
        params["exclusions"] = [_exclusion(x) for x in exclude]
    given = {
        "window_days": window_days,
        "mode": mode,
        "from": from_,
        "to": to,
        "breakdown": _breakdown(breakdown),
    }
    params.update({k: v for k, v in given.items() if v is not None})
    run_and_emit("funnel", params, as_json, as_csv)


@analytics_app.command("paths")
def paths(
    event: Annotated[
        str | None,
        typer.Option(
            "--event", help="Anchor event (default: session start/end). 锚点事件（默认：会话首尾）。"
        ),
    ] = None,
    where: Annotated[
        str | None,
        typer.Option("--where", help="Anchor property filters as JSON. 锚点事件的属性过滤（JSON）。"),
    ] = None,
    direction: Annotated[
        str | None,
        typer.Option("--direction", help="after or before the anchor (after). 锚点之后或之前。"),
    ] = None,
    steps: Annotated[
        int | None, typer.Option("--steps", help="Transitions per path (5). 每条路径的步数。")
    ] = None,
    session_minutes: Annotated[
        int | None,
        typer.Option(
            "--session-minutes", help="Inactivity that ends a session, minutes (30). 会话间隔（分钟）。"
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="Most frequent transitions shown (50). 显示的转移数。")
    ] = None,
    exclude_event: Annotated[
        list[str] | None,
        typer.Option("--exclude-event", help="Leave an event out of the paths; repeatable. 排除的事件。"),
    ] = None,
    include_system: Annotated[
        bool,
        typer.Option("--include-system", help="Keep siyu's system events (tag.added…). 保留系统事件。"),
    ] = False,
    from_: FromOpt = None,
    to: ToOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Top transitions between events after or before an event, within sessions. 路径分析。"""
    filters = None
    if where is not None:
        try:
            filters = orjson.loads(where)
        except orjson.JSONDecodeError as exc:
            raise fail(f"--where: not valid JSON ({exc})") from exc
        filters = filters if isinstance(filters, list) else [filters]
    params = {
        "event": event,
        "where": filters,
        "direction": direction,
        "steps": steps,
        "session_minutes": session_minutes,
        "limit": limit,
        "exclude_events": exclude_event or None,
        "exclude_system": False if include_system else None,
        "from": from_,
        "to": to,
    }
    run_and_emit("paths", params, as_json, as_csv)
