"""The CLI test harness shared by the tests in this folder: :class:`Cli` runs the real Typer app
(``siyu.cli.main.app``) with Typer's runner, and :func:`cli_env` builds the SIYU_* environment
pointing it at the test database. Each test file keeps its own ``cli`` fixture with its data."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from click.testing import Result
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.config import Settings


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment variables for running the CLI against ``settings`` (English, a wide terminal)."""
    return {
        "SIYU_DATA_DIR": str(settings.data_dir),
        "SIYU_DATABASE_URL": settings.resolved_database_url,
        "SIYU_SECRET_KEY": str(settings.secret_key),
        "SIYU_LANG": "en",
        "LANG": "C.UTF-8",
        "LC_ALL": "",
        "COLUMNS": "200",
        **extra,
    }


def squash(text: str, sep: str = "") -> str:
    """``text`` with every run of whitespace replaced by ``sep``, so that line wrapping of
    messages does not matter."""
    return sep.join(text.split())


class Cli:
    """Runs ``siyu [*prefix] *args`` with ``env`` (plus per-call overrides) and checks the exit code."""

    def __init__(self, env: dict[str, str], prefix: Sequence[str] = ()) -> None:
        self.env = env
        self.prefix = tuple(prefix)
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0, **env: str) -> Result:
        result = self.runner.invoke(app, [*self.prefix, *args], env={**self.env, **env})
        assert result.exit_code == code, (
            args,
            result.exit_code,
            result.stdout,
            result.stderr,
            result.exception,
        )
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code).stdout)

    def fails(self, *args: str, code: int = 1, **env: str) -> str:
        """Runs a command that must fail cleanly: exit ``code``, no exception other than
        ``SystemExit``, no traceback, nothing on stdout and a message on stderr (returned)."""
        result = self(*args, code=code, **env)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output, result.output
        assert result.stdout == "" and result.stderr.strip(), (result.stdout, result.stderr)
        return result.stderr
