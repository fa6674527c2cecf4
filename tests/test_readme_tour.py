"""The README's tour runs top to bottom on the demo brand: every command of it, in order, on a
fresh data directory where the demo was loaded first (as ``siyu serve --demo`` does).

The ``siyu`` commands run in this process (Typer's runner: a new interpreter per command costs
~10 s of imports on a loaded CI machine); the shell lines between them (``printf``, ``cat
<<YAML``, ``echo``) run in bash, in the same directory. Left out, because they need what a test
must not use: the commands that talk to a running server (``curl``), and ``siyu worker
--once``, whose webhook would go to crm.example.com. The larger demo has 300 people, not
100,000."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siyu.cli.main import app

ROOT = Path(__file__).resolve().parents[1]


def tour_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    tour = readme[readme.index("## A 5-minute tour") : readme.index("## Development")]
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)\n```", tour, re.S):
        block = block.replace("\\\n", " ")
        if "curl" in block:  # the server's block: only its siyu commands run here
            lines += [line for line in block.splitlines() if line.startswith("siyu ")]
            continue
        lines += [line for line in block.splitlines() if not line.startswith(". .venv")]
    script = "\n".join(lines).replace("siyu worker --once && ", "")
    return script.replace("--contacts 100000", "--contacts 300").splitlines()


def run_tour(lines: list[str], cwd: Path, env: dict[str, str]) -> list[tuple[str, str, str]]:
    """Run the tour; (command, stdout, stderr) of every siyu command."""
    runner = CliRunner()
    ran: list[tuple[str, str, str]] = []
    shell: list[str] = []

    def flush() -> None:
        if shell:
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(shell)], cwd=cwd, timeout=60)
            assert done.returncode == 0, shell
            shell.clear()

    heredoc: str | None = None
    for line in lines:
        if heredoc is not None:
            shell.append(line)
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        if match := re.search(r"<<'(\w+)'", line):
            heredoc = match.group(1)
            shell.append(line)
            continue
        words = shlex.split(line, comments=True)
        if line.startswith("export "):
            name, value = words[1].split("=", 1)
            env[name] = value
            continue
        extra = {}
        while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
            name, value = words.pop(0).split("=", 1)
            extra[name] = value
        if not words or words[0] != "siyu":
            shell.append(line)
            continue
        flush()
        parts: list[list[str]] = [[]]
        for word in words:
            parts.append([]) if word == "&&" else parts[-1].append(word)
        for args in (p[1:] for p in parts):
            part = shlex.join(["siyu", *args])
            result = runner.invoke(app, args, env={**env, **extra})
            assert result.exit_code == 0, (
                part,
                result.stdout[-2000:],
                result.stderr[-2000:],
                result.exception,
            )
            ran.append((part, result.stdout, result.stderr))
    flush()
    return ran


def test_the_tour_runs_top_to_bottom_on_the_demo_brand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = tour_lines()
    assert any(line.startswith("siyu channels create") for line in lines)
    assert not [line for line in lines if "curl" in line or "siyu worker" in line]
    monkeypatch.chdir(tmp_path)
    for name in ("SIYU_DATA_DIR", "SIYU_DATABASE_URL", "SIYU_WAREHOUSE_PATH"):
        monkeypatch.delenv(name, raising=False)
    env = {"SIYU_PASSWORD": "tour-password-2024", "COLUMNS": "200"}  # `users create` would ask
    demo = CliRunner().invoke(app, ["demo", "--contacts", "300", "--days", "30"], env=env)
    assert demo.exit_code == 0, demo.stderr
    ran = run_tour(lines, tmp_path, env)
    out = {cmd: stdout for cmd, stdout, _ in ran}
    assert "新客欢迎" in out["siyu journeys list"] and "生日关怀" in out["siyu journeys list"]
    imports = [stdout for cmd, stdout, _ in ran if cmd == "siyu import contacts contacts.csv --json"]
    assert ['"accepted":2' in o for o in imports] == [True, False] and '"duplicates":2' in imports[1]
    dry = next((o, e) for c, o, e in ran if c.endswith("--dry-run"))
    assert "姓名" in dry[0] and "2000-02-30" in dry[1]  # the mapping, and row 3's note
    assert "vip-welcome" in out["siyu journeys stats vip-welcome --json"]
    python = re.search(r"```python\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S)
    assert python is not None
    done = subprocess.run(
        [sys.executable, "-c", python.group(1)],
        cwd=tmp_path,
        env={**env, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "customer_no" in done.stdout
