"""What every command module shares: consoles, the --json option, opening the client, failing."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

import siyu
from siyu.i18n import t

if TYPE_CHECKING:
    from siyu.client import Siyu

# No markup: messages carry user data (file names, rejected values) that may contain "[...]".
out = Console(markup=False, highlight=False)
err = Console(stderr=True, markup=False, highlight=False)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON. 输出 JSON。")]


def open_client() -> Siyu:
    """The Python client on the configured installation; a bad SIYU_* setting ends the command
    naming the variable and what is wrong, not with a traceback."""
    from pydantic import ValidationError

    try:
        return siyu.open()
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        first = exc.errors()[0]
        name = "SIYU_" + str(first["loc"][0]).upper() if first["loc"] else "SIYU_*"
        raise fail(f"{name}: {first['msg'].removeprefix('Value error, ')}") from exc


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(t("error", what=message), style="red")
    return typer.Exit(code)


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A rich table of plain rows; None shows as ``-``."""
    table = Table()
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("-" if v is None else str(v) for v in row))
    out.print(table)
