"""`siyu journeys …`, `siyu providers …` and `siyu worker`: automation from the shell."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from siyu.channels.providers import ProviderError
from siyu.cli.common import JsonOpt, fail, open_client, out, print_table
from siyu.cli.layers import FileArg, show
from siyu.client import Siyu
from siyu.i18n import t
from siyu.journeys.schemas import JourneyDefinitionError
from siyu.journeys.service import JourneyError
from siyu.profiles.views import LookupError_
from siyu.segments.documents import read_document, to_yaml

journeys_app = typer.Typer(no_args_is_help=True)  # its help: LAZY in cli/main.py
providers_app = typer.Typer(no_args_is_help=True)
KeyArg = Annotated[str, typer.Argument(help="Journey key. 旅程标识。")]
#: read_document raises SegmentDefinitionError (a ValueError) for unreadable files; OSError: missing ones.
USER_ERRORS = (
    JourneyDefinitionError,
    JourneyError,
    ProviderError,
    LookupError_,
    ValueError,
    OSError,
)


@contextmanager
def client() -> Iterator[Siyu]:
    with open_client() as c:
        try:
            yield c
        except USER_ERRORS as exc:
            raise fail(str(exc)) from exc


def _summary(data: dict[str, Any]) -> None:
    out.print(t("journey_state", key=data["key"], status=data["status"], version=data["version"]))


@journeys_app.command("create")
def journeys_create(
    file: FileArg,
    start: Annotated[bool, typer.Option("--start", help="Start it right away. 创建后立即启动。")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a journey from a JSON or YAML file (a draft unless --start). 创建旅程。"""
    with client() as c:
        data = c.journeys.create(read_document(file), actor="cli")
        if start:
            data = {**data, **c.journeys.start(data["key"])}
    show(data, as_json, lambda: _summary(data))


@journeys_app.command("update")
def journeys_update(key: KeyArg, file: FileArg, as_json: JsonOpt = False) -> None:
    """Replace a paused or draft journey's definition (a new version). 修改旅程。"""
    with client() as c:
        data = c.journeys.update(key, read_document(file), actor="cli")
    show(data, as_json, lambda: _summary(data))


@journeys_app.command("list")
def journeys_list(as_json: JsonOpt = False) -> None:
    """Every journey with its state. 旅程列表。"""
    with client() as c:
        rows = c.journeys.list()

    cols = ("key", "name", "status", "trigger", "steps", "started_at")
    show(rows, as_json, lambda: print_table(cols, ([r[c] for c in cols] for r in rows)))


@journeys_app.command("show")
def journeys_show(key: KeyArg, as_json: JsonOpt = False) -> None:
    """A journey and its definition (YAML unless --json). 查看旅程定义。"""
    with client() as c:
        data = c.journeys.get(key)
    show(data, as_json, lambda: out.print(to_yaml(data), end=""))


@journeys_app.command("versions")
def journeys_versions(
    key: KeyArg,
    show_version: Annotated[
        int | None, typer.Option("--show", help="Print this version's document. 查看某一版的定义。")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Saved versions, newest first: who saved each, when, and the steps it added, removed or
    changed. 版本历史。"""
    with client() as c:
        data: Any = c.journeys.version(key, show_version) if show_version else c.journeys.versions(key)
    if show_version:
        show(data, as_json, lambda: out.print(to_yaml(data["definition"]), end=""))
        return

    def text() -> None:
        cols = ("version", "actor", "created_at", "steps", "added", "removed", "changed", "settings")
        rows = (
            [v["version"], v["actor"], v["created_at"], v["steps"]]
            + [", ".join(v["changes"][k]) for k in ("added", "removed", "changed", "settings")]
            for v in data
        )
        print_table(cols, rows)

    show(data, as_json, text)


@journeys_app.command("start")
def journeys_start(key: KeyArg, as_json: JsonOpt = False) -> None:
    """Start (or resume) a journey. 启动旅程。"""
    with client() as c:
        data = c.journeys.start(key)
    show(data, as_json, lambda: _summary(data))


@journeys_app.command("pause")
def journeys_pause(key: KeyArg, as_json: JsonOpt = False) -> None:
    """Pause: no step runs and nobody enters until it starts again. 暂停旅程。"""
    with client() as c:
        data = c.journeys.pause(key)
    show(data, as_json, lambda: _summary(data))


@journeys_app.command("archive")
def journeys_archive(key: KeyArg, as_json: JsonOpt = False) -> None:
    """Archive a journey for good. 归档旅程。"""
    with client() as c:
        data = c.journeys.archive(key)
    show(data, as_json, lambda: _summary(data))


@journeys_app.command("stats")
def journeys_stats(key: KeyArg, as_json: JsonOpt = False) -> None:
    """Per-step report: entered, waiting (standing there now), queued (messages written),
    pending (not yet sent), sent, delivered, clicked, converted, skipped. 旅程报表。"""
    with client() as c:
        data = c.journeys.stats(key)

    def text() -> None:
        out.print(
            t(
                "journey_totals",
                key=data["journey"],
                enrolled=data["enrolled"],
                active=data["active"],
                converted=data["converted"],
                rate=f"{data['conversion_rate']:.1%}",
            )
        )
        cols = ("id", "action", "entered", "waiting", "queued", "pending", "sent", "delivered", "clicked")
        skips = ("converted", "skipped_cap", "held_quiet", "skipped_consent", "skipped_at_send", "failed")
        print_table(cols + skips, ([st.get(c, "") for c in cols + skips] for st in data["steps"]))
        for v in data["variants"]:
            out.print(t("journey_variant", **v))

    show(data, as_json, text)


@journeys_app.command("waiting")
def journeys_waiting(
    key: KeyArg,
    step: Annotated[str, typer.Argument(help="Step id. 步骤标识。")],
    output: Annotated[
        Path | None, typer.Option("--output", help="Write every row as CSV (UTF-8 BOM). 导出 CSV。")
    ] = None,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="CSV with names and phones in clear (audited). 明文导出。")
    ] = False,
    limit: Annotated[int, typer.Option(help="Rows shown. 显示行数。")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Who is waiting at a step now, names and phones masked; --output writes the CSV (the
    export is audited). 查看/导出停留在某一步的客户。"""
    with client() as c:
        if output is not None:
            output.write_bytes(c.journeys.export_waiting(key, step, reveal=reveal, actor="cli"))
        data = c.journeys.waiting(key, step, limit=limit)

    def text() -> None:
        out.print(t("journey_waiting", key=key, step=step, total=data["total"]))
        cols = ("contact_id", "name", "phone", "state", "entered_at", "due_at")
        print_table(cols, ([row[c] if row[c] is not None else "" for c in cols] for row in data["contacts"]))

    show(data, as_json, text)


@journeys_app.command("enrol")
def journeys_enrol(
    key: KeyArg,
    file: Annotated[str, typer.Argument(help="CSV: one id/phone/email per row. 名单 CSV。")],
    as_json: JsonOpt = False,
) -> None:
    """Enrol the contacts of a CSV list (entry rules apply; the same file twice enrols no one
    twice). 按名单加入旅程。"""
    with client() as c:
        data = c.journeys.enrol_csv(key, file)
    show(
        data,
        as_json,
        lambda: out.print(
            t(
                "journey_enrolled",
                **{k: v for k, v in data.items() if k != "not_found"},
                missing=len(data["not_found"]),
            )
        ),
    )


# --- providers ----------------------------------------------------------------------------------
def _json_opt(raw: str | None, name: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise fail(f"--{name}: not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise fail(f"--{name}: expected a JSON object")
    return value


@providers_app.command("add")
def providers_add(
    key: Annotated[str, typer.Argument(help="Provider key. 标识。")],
    kind: Annotated[str, typer.Option(help="wecom, aliyun_sms, tencent_sms, smart_sms, smtp, webhook.")],
    config: Annotated[str | None, typer.Option(help="JSON object of settings. 配置 JSON。")] = None,
    secrets_file: Annotated[
        str | None, typer.Option(help="JSON file of credentials (kept encrypted). 凭据文件。")
    ] = None,
    default: Annotated[bool, typer.Option("--default", help="Default for its kind. 设为默认。")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a provider account; credentials come from a file so they stay out of shell history.
    添加服务商账号。"""
    with client() as c:
        secrets = read_document(Path(secrets_file)) if secrets_file else {}
        data = c.providers.add(key, kind, _json_opt(config, "config"), secrets, default)
    show(data, as_json, lambda: out.print(t("provider_added", key=data["key"], kind=data["kind"])))


@providers_app.command("list")
def providers_list(as_json: JsonOpt = False) -> None:
    """Provider accounts (secrets are never shown). 服务商列表。"""
    with client() as c:
        rows = c.providers.list()

    cols = ("key", "kind", "default", "secrets", "config")
    cells = (
        [r["key"], r["kind"], r["default"], ",".join(r["secrets"]), orjson.dumps(r["config"]).decode()]
        for r in rows
    )
    show(rows, as_json, lambda: print_table(cols, cells))


@providers_app.command("delete")
def providers_delete(key: Annotated[str, typer.Argument(help="Provider key. 标识。")]) -> None:
    """Delete a provider account. 删除服务商账号。"""
    with client() as c:
        c.providers.delete(key)
    out.print(t("provider_deleted", key=key))


def worker(
    once: Annotated[bool, typer.Option("--once", help="One round, then exit. 只运行一轮。")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the journey worker: enrol, run due steps, send the outbox (until Ctrl-C). 运行旅程执行器。

    Run several on PostgreSQL; they share the work without running a step twice."""
    with client() as c:
        if once:
            stats = c.journeys.run_worker(1)
            data = {k: v for k, v in vars(stats).items() if k != "lags"}
            show(data, as_json, lambda: out.print(t("worker_round", **data)))
            return
        from siyu.journeys.worker import Worker

        out.print(t("worker_running"))
        w = Worker(c.ctx.db, c.ctx.keyring, c.ctx.settings)
        stop = threading.Event()
        try:
            w.run(stop)
        except KeyboardInterrupt:
            stop.set()
        finally:
            w.close()
