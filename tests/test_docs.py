"""Documentation that must not drift: CLI reference, settings, the README's commands."""

from __future__ import annotations

import os
import re
from pathlib import Path

from siyu.cli.reference import render
from siyu.config import Settings
from siyu.i18n import MESSAGES

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_generated_from_the_cli() -> None:
    committed = (ROOT / "docs" / "cli.md").read_text()
    assert committed == render(), "run: python -m siyu.cli.reference > docs/cli.md"


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    missing = [f"SIYU_{name.upper()}" for name in Settings.model_fields if f"SIYU_{name.upper()}" not in doc]
    assert not missing, f"undocumented settings: {missing}"


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    run_cmd, test_cmd = blocks[0].strip(), blocks[1].strip()
    assert "siyu serve --demo" in run_cmd and "pip install -e ." in run_cmd
    assert test_cmd.endswith("python -m pytest -q")
    # a fresh machine lacks Chromium and a CJK font for the browser tests: the script brings them
    assert test_cmd.startswith("./scripts/install-system-deps && ")
    assert os.access(ROOT / "scripts" / "install-system-deps", os.X_OK)
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.splitlines()[-1] == test_cmd


def test_every_message_has_both_languages() -> None:
    for key, entry in MESSAGES.items():
        assert set(entry) == {"en", "zh"}, key
        assert re.findall(r"{(\w+)", entry["en"]) == re.findall(r"{(\w+)", entry["zh"]) or set(
            re.findall(r"{(\w+)", entry["en"])
        ) == set(re.findall(r"{(\w+)", entry["zh"])), key


def test_every_segment_node_and_operator_is_documented() -> None:
    from typing import get_args

    from siyu.segments import schemas

    doc = (ROOT / "docs" / "segments.md").read_text()
    ops = set(get_args(schemas.AttributeCondition.model_fields["op"].annotation))
    ops |= set(get_args(schemas.Count.model_fields["op"].annotation))
    ops |= set(get_args(schemas.ConsentCondition.model_fields["state"].annotation))
    names = set(schemas.NODE_TYPES) | ops
    missing = sorted(n for n in names if f"`{n}`" not in doc)
    assert not missing, f"undocumented in docs/segments.md: {missing}"


def test_every_journey_trigger_step_and_field_is_documented() -> None:
    from siyu.journeys import schemas

    doc = (ROOT / "docs" / "journeys.md").read_text()
    names = set(schemas.Trigger.model_fields) | set(schemas.JourneySpec.model_fields)
    names |= {f for f in schemas.Step.model_fields if f not in ("id", "next")}
    names |= {a.alias or f for f, a in schemas.Condition.model_fields.items()}
    missing = sorted(n for n in names if f"`{n}" not in doc)
    assert not missing, f"undocumented in docs/journeys.md: {missing}"


def test_every_analysis_and_parameter_is_documented() -> None:
    from siyu.analytics.base import runners

    index = (ROOT / "docs" / "analytics.md").read_text()
    pages = "\n".join(p.read_text() for p in (ROOT / "docs" / "analytics").glob("*.md"))
    missing = []
    for kind, runner in runners().items():
        if kind.startswith("test_"):
            continue
        if f"`{kind}`" not in index:
            missing.append(kind)
        missing += [f"{kind}.{name}" for name in runner.params_model.model_fields if f"`{name}" not in pages]
    assert not missing, f"undocumented in docs/analytics*.md: {missing}"
