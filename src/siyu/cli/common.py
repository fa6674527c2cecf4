"""What every command module shares: consoles, the --json option, opening the client, failing."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
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


@contextmanager
def client_refusing(*refused: type[BaseException], code: int = 2) -> Iterator[Siyu]:
    """The client, for a command whose capability refuses requests with ``refused``: such a
    refusal ends the command with its message (exit ``code``), not a traceback."""
    with open_client() as client:
        try:
            yield client
        except refused as exc:
            raise fail(str(exc), code) from exc


def emit(data: Any, as_json: bool, text: Callable[[], None]) -> None:
    """``data`` as JSON with ``--json``, else what ``text`` prints."""
    if as_json:
        print_json(data)
    else:
        text()


def key_values(items: Iterable[str], parse_float: Callable[[str], Any] = float) -> dict[str, Any]:
    """``KEY=VALUE`` arguments (a settings command's): a value that parses as JSON keeps its
    type (``true``, ``7``, ``{"order": "1Y"}``), anything else is text; an item without ``=``
    ends the command naming it."""
    changes: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise fail(f"{item!r}: expected KEY=VALUE", 2)
        try:
            changes[key.strip()] = json.loads(value, parse_float=parse_float)
        except ValueError:
            changes[key.strip()] = value
    return changes
