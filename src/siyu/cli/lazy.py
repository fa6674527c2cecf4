"""Subcommands whose modules are imported only when one of their commands runs.

The command modules import capabilities that load NumPy, SciPy, pandas, DuckDB, scikit-learn,
Plotly, jieba … (seconds), which ``siyu --help`` or ``siyu --version`` never need: listing a
subcommand needs only its name and one line of help, kept in the table given here. The help
shown for a group (``siyu tags --help``, docs/cli.md) is that same line, so it is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Lazy:
    """A subcommand: ``target`` is ``"module:attribute"``, a Typer app or a command function."""

    target: str
    help: str


def load(name: str, lazy: Lazy) -> Any:
    """Import the subcommand's module and build its click command."""
    module, attribute = lazy.target.split(":")
    obj = getattr(import_module(module), attribute)
    if isinstance(obj, typer.Typer):
        command = typer.main.get_group(obj)  # a group even with one command, as add_typer does
        command.help = lazy.help  # written once, in the table (a callback's docstring may differ)
    else:  # a command function: its docstring is its full help
        single = typer.Typer(add_completion=False)
        single.command(name)(obj)
        command = typer.main.get_command(single)
    command.name = name
    return command


class _Listed(TyperCommand):
    """Stands for a subcommand not imported yet; only its name and help are read from it."""


def lazy_group(subcommands: dict[str, Lazy]) -> type[TyperGroup]:
    """A Typer group class (``typer.Typer(cls=...)``) that adds ``subcommands`` lazily."""

    class LazyGroup(TyperGroup):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._listing = False
            for name, lazy in subcommands.items():
                self.commands.setdefault(name, _Listed(name=name, help=lazy.help))

        def get_command(self, ctx: Any, cmd_name: str) -> Any:
            command = self.commands.get(cmd_name)
            if isinstance(command, _Listed) and not self._listing:
                command = self.commands[cmd_name] = load(cmd_name, subcommands[cmd_name])
            return command

        def format_help(self, ctx: Any, formatter: Any) -> None:
            # The list of commands shows each one's help line: no need to import any of them.
            self._listing = True
            try:
                super().format_help(ctx, formatter)
            finally:
                self._listing = False

        def load_all(self) -> None:
            """Import every subcommand (the CLI reference walks the whole tree)."""
            for name in list(self.commands):
                self.get_command(None, name)

    return LazyGroup
