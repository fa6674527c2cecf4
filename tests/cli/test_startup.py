"""`siyu --help` and `siyu --version` import no capability: the heavy libraries load only when a
command that uses them runs (issue 13: `siyu --help` took 2.7 s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from siyu.cli.lazy import load
from siyu.cli.main import LAZY, app

SRC = Path(__file__).resolve().parents[2] / "src"
HEAVY = ("scipy", "pandas", "pyarrow", "duckdb", "polars", "sklearn", "plotly", "jieba")


def _loaded_after(code: str) -> dict[str, list[str]]:
    """Run ``code`` in a fresh interpreter; which heavy libraries and siyu modules it imported."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps({{'heavy': [m for m in {HEAVY!r} if m in sys.modules],"
        " 'siyu': sorted(m for m in sys.modules if m.startswith('siyu.'))}))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_heavy_library() -> None:
    loaded = _loaded_after("import siyu.cli.main")
    assert loaded["heavy"] == []
    assert not [m for m in loaded["siyu"] if m.split(".")[1] not in ("cli", "i18n")], loaded["siyu"]


@pytest.mark.parametrize("args", [["--help"], ["--version"], []])
def test_help_and_version_import_no_command_module(args: list[str]) -> None:
    loaded = _loaded_after(
        "from typer.testing import CliRunner\nfrom siyu.cli.main import app\n"
        f"result = CliRunner().invoke(app, {args!r})\n"
        "assert result.exit_code in (0, 2), result.output\n"
        "assert 'analytics' in result.output or 'siyu ' in result.output, result.output"
    )
    assert loaded["heavy"] == []
    modules = {target.target.split(":")[0] for target in LAZY.values()}
    assert not modules & set(loaded["siyu"])


def test_version_prints_the_package_version() -> None:
    import siyu

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"siyu {siyu.__version__}"


def test_the_listing_shows_what_running_the_command_loads() -> None:
    """The one-line help of the list is the help of the command that loads: they cannot drift."""
    for name, lazy in LAZY.items():
        command = load(name, lazy)
        assert command.name == name
        if hasattr(command, "commands"):
            assert command.help == lazy.help, name
            assert command.commands, name
        else:
            assert (command.help or "").splitlines()[0] == lazy.help, name  # a docstring's first line


def test_a_lazy_group_runs_its_commands() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["tags", "--help"])
    assert result.exit_code == 0, result.output
    assert "rules" in result.output  # a subcommand of `siyu tags`, known only once loaded
    assert "labels" not in LAZY  # an unknown command is still an error, not a crash
    unknown = runner.invoke(app, ["labels"])
    assert unknown.exit_code == 2
    analytics = typer.main.get_command(app).get_command(None, "analytics")
    assert "funnel" in analytics.commands  # the real group, with the commands of cli/analytics/
