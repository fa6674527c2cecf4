"""``siyu import``: contacts and events from CSV (any encoding Excel writes), XLSX or JSONL files,
a dry run that shows how the columns map, and the rejected lines of an import.

The exit code says whether anything was imported: 1 when every row was rejected (the summary
is still printed), so a script cannot take an import that kept nothing for a success.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from siyu.cli.common import JsonOpt, err, fail, open_client, out, print_json
from siyu.i18n import t

import_app = typer.Typer(
    help="Import contacts or events from CSV, Excel (.xlsx) or JSONL files. 导入文件。", no_args_is_help=True
)
#: Lines of errors and notes printed (the JSON and `siyu import rejected` have all of them).
SHOWN = 20


def _parse_mapping(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        if "=" not in item:
            raise fail(f"--map takes COLUMN=FIELD, got {item!r}", 2)
        col, field = item.split("=", 1)
        mapping[col.strip()] = field.strip()
    return mapping


def _print_columns(columns: list[dict[str, str]]) -> None:
    if not columns:
        return
    table = Table(title=t("import_columns"))
    table.add_column(t("import_column"))
    table.add_column(t("import_field"))
    table.add_column(t("import_how"))
    for c in columns:
        table.add_row(c["column"], "-" if c["field"] == "-" else c["field"], t(f"import_how_{c['how']}"))
    out.print(table)


def _print_details(data: dict[str, Any]) -> None:
    for e in data["errors"][:SHOWN]:
        err.print(t("rejected_line", **e))
    if data["rejected"] > SHOWN:
        err.print(t("more_errors", n=data["rejected"] - SHOWN))
    for w in data["warnings"][:SHOWN]:
        err.print(t("import_note", line=w["line"], field=w["field"], reason=w["reason"]))
    if data["warnings_count"] > SHOWN:
        err.print(t("more_errors", n=data["warnings_count"] - SHOWN))


def _import(
    kind: str,
    file: Path,
    fmt: str | None,
    mapping: list[str],
    write_key: str | None,
    batch_size: int,
    dry_run: bool,
    as_json: bool,
) -> None:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from siyu.ingest.files import ImportFileError
    from siyu.warehouse.store import WarehouseBusy

    columns = _parse_mapping(mapping or [])
    with open_client() as client:
        if dry_run:
            try:
                data = client.import_preview(file, kind, fmt, columns)
            except ImportFileError as exc:
                raise fail(str(exc), 2) from exc
            if as_json:
                print_json(data)
            else:
                _print_columns(data["columns"])
                counts = {"valid": data["accepted"], "rejected": data["rejected"], "lines": data["lines"]}
                out.print(t("import_dry_run", **counts))
                _print_details(data)
            if data["outcome"] == "failed":
                raise typer.Exit(1)
            return
        size = file.stat().st_size if file.exists() else 0
        show = (not as_json and sys.stderr.isatty()) or size > 50_000_000
        progress = Progress(
            TextColumn(t("importing")),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=not show,
        )
        with progress:
            task = progress.add_task("import", total=size)
            try:
                report = client.import_file(
                    file,
                    kind,
                    fmt,
                    columns,
                    write_key,
                    progress=lambda done, _lines: progress.update(task, completed=done),
                    batch_size=batch_size,
                )
            except ImportFileError as exc:
                raise fail(str(exc), 2) from exc
        with contextlib.suppress(WarehouseBusy):  # a running server feeds it instead
            client.feed_warehouse()
    data = report.as_dict()
    if as_json:
        print_json(data)
    else:
        if any(c["how"] == "alias" for c in data["columns"]):
            _print_columns(data["columns"])
        out.print(t("imported", **{k: data[k] for k in ("accepted", "duplicates", "rejected", "lines")}))
        _print_details(data)
        if data["dead_letter"]:
            err.print(t("dead_letter", path=data["dead_letter"], job=data["job_id"]))
        if data["outcome"] == "failed":
            err.print(t("import_all_rejected", lines=data["lines"]), style="red")
    if data["outcome"] == "failed":
        raise typer.Exit(1)


FileArg = Annotated[Path, typer.Argument(help="CSV, Excel .xlsx or JSONL file. 文件（CSV、Excel、JSONL）。")]
FormatOpt = Annotated[
    str | None, typer.Option("--format", help="csv, xlsx or jsonl (default: from the suffix). 文件格式。")
]
MapOpt = Annotated[
    list[str],
    typer.Option(
        "--map",
        help="COLUMN=FIELD, repeatable; FIELD - skips. Headers like 手机, 姓名 map without it. 列映射。",
    ),
]
KeyOpt = Annotated[str | None, typer.Option("--write-key", help="Attribute to this source. 数据源写入密钥。")]
BatchOpt = Annotated[int, typer.Option(help="Lines per committed batch. 每批行数。", min=1)]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Check the file and show how its columns map; import nothing. 预览列映射与问题，不导入。",
    ),
]


def _import_command(kind: str, doc: str) -> None:
    """Register ``siyu import KIND``: events and contacts take the same options."""

    def command(
        file: FileArg,
        fmt: FormatOpt = None,
        mapping: MapOpt = None,
        write_key: KeyOpt = None,
        batch_size: BatchOpt = 5000,
        dry_run: DryRunOpt = False,
        as_json: JsonOpt = False,
    ) -> None:
        _import(kind, file, fmt, mapping, write_key, batch_size, dry_run, as_json)

    command.__doc__ = doc
    import_app.command(kind)(command)


_import_command("events", "Import events (track/page/identify/group calls). 导入事件。")
_import_command(
    "contacts",
    "Import contacts: identifier columns + traits; Chinese headers map by themselves. 导入联系人。",
)


@import_app.command("rejected")
def import_rejected(
    job: Annotated[int, typer.Argument(help="Import job id (printed by the import). 导入任务编号。")],
    limit: Annotated[int | None, typer.Option(help="Show at most this many lines. 最多显示行数。", min=0)] = (
        None
    ),
    offset: Annotated[int, typer.Option(help="Skip this many rejected lines. 跳过行数。", min=0)] = 0,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Show phones and emails unmasked (audited). 显示明文（记审计）。")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV. 输出 CSV。")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Rejected lines of an import, decrypted from its dead-letter file. 查看导入被拒绝的行。"""
    from siyu.ingest.jobs import ImportJobNotFound
    from siyu.store.csv_safe import write_rows

    with open_client() as client:
        try:
            data = client.import_rejected(job, limit, offset, reveal=reveal, actor="cli")
        except ImportJobNotFound as exc:
            raise fail(t("not_found", what=str(exc))) from exc
    if as_json:
        print_json(data)
        return
    rows = [{**r, "record": _record_text(r)} for r in data["rows"]]
    if as_csv:
        sys.stdout.write(write_rows(rows, ["line", "field", "reason", "record"]))
        return
    if data["purged"]:
        err.print(t("dead_letter_purged", job=job))
    for r in rows:
        out.print(t("rejected_line", **r) + "  " + r["record"])


def _record_text(row: dict[str, Any]) -> str:
    """The rejected record as one line of JSON (or the raw text of a line that was not JSON)."""
    if row.get("record") is not None:
        return orjson.dumps(row["record"], default=str).decode()
    return str(row.get("raw") or "")
