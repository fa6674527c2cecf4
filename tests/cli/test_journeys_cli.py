"""`siyu journeys …`, `siyu providers …` and `siyu worker --once` as operators run them (Typer's
runner, configured by SIYU_* variables pointing at the test database): ``--json`` output, YAML
``show``, CSV enrolment, secrets kept out of every output, clean failures with the field path on
stderr and exit code 1, and Chinese messages under ``SIYU_LANG=zh``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result
from tests.emulators.webhook import WebhookReceiver
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.client import Siyu
from siyu.context import AppContext

PHONES = ["+8613900000001", "+8613900000002", "+8613900000003"]
SECRET = "whsec-DISTINCTIVE-cli"
JOURNEY: dict[str, Any] = {
    "key": "welcome",
    "name": "新客欢迎",
    "trigger": {"list": True},
    "quiet_hours": {"enabled": False},
    "steps": [
        {"id": "tag", "add_tag": "welcomed"},
        {"id": "push", "webhook": {"event": "joined", "data": {"name": "{{ name }}"}}},
        {"id": "later", "wait": "2d"},
    ],
}


def flat(text: str) -> str:
    """Rich wraps long lines at the console width; compare without any whitespace."""
    return "".join(text.split())


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0, **env: str) -> Result:
        result = self.runner.invoke(app, list(args), env={**self.env, **env})
        assert result.exit_code == code, (
            args,
            result.exit_code,
            result.stdout,
            result.stderr,
            result.exception,
        )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)  # stdout alone is one JSON document

    def fails(self, *args: str, **env: str) -> str:
        """A clean failure: exit code 1, nothing on stdout, the message on stderr, no exception."""
        result = self(*args, code=1, **env)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert result.stdout == "" and result.stderr.strip()
        return flat(result.stderr)


@pytest.fixture
def people(ctx: AppContext) -> list[int]:
    client = Siyu(ctx)
    out = []
    for n, phone in enumerate(PHONES, 1):
        assert client.identify({"customer_no": f"c{n}", "phone": phone}, {"name": f"N{n}"}).rejected == []
        out.append(client.contact(f"customer_no:c{n}")["id"])
    return out


@pytest.fixture
def cli(ctx: AppContext, people: list[int]) -> Cli:
    settings = ctx.settings
    return Cli(
        {
            "SIYU_DATA_DIR": str(settings.data_dir),
            "SIYU_DATABASE_URL": settings.resolved_database_url,
            "SIYU_SECRET_KEY": str(settings.secret_key),
            "SIYU_LANG": "en",
            "LANG": "C.UTF-8",
            "LC_ALL": "",
            "COLUMNS": "200",
        }
    )


def write(path: Path, document: Any) -> Path:
    text = yaml.safe_dump(document, allow_unicode=True) if path.suffix == ".yaml" else json.dumps(document)
    path.write_text(text, encoding="utf-8")
    return path


def add_webhook(cli: Cli, tmp_path: Path, url: str) -> dict[str, Any]:
    secrets = write(tmp_path / "hook-secrets.json", {"secret": SECRET})
    config = json.dumps({"url": url})
    return cli.json(
        "providers", "add", "hook", "--kind", "webhook", "--config", config, "--secrets-file", str(secrets)
    )


# --- journeys -----------------------------------------------------------------------------------------
def test_create_start_list_show(cli: Cli, tmp_path: Path) -> None:
    created = cli.json("journeys", "create", str(write(tmp_path / "j.yaml", JOURNEY)), "--start")
    assert (created["key"], created["status"], created["version"], created["steps"]) == (
        "welcome",
        "active",
        1,
        3,
    )
    assert created["definition"] == JOURNEY and created["started_at"]
    listed = cli.json("journeys", "list")
    assert [(j["key"], j["name"], j["status"], j["trigger"]) for j in listed] == [
        ("welcome", "新客欢迎", "active", "list")
    ]
    shown = yaml.safe_load(cli("journeys", "show", "welcome").stdout)
    assert (shown["key"], shown["status"], shown["definition"]) == ("welcome", "active", JOURNEY)
    assert cli.json("journeys", "show", "welcome")["definition"] == JOURNEY
    assert "welcome" in cli("journeys", "list").stdout


def test_versions_lists_who_saved_what(cli: Cli, tmp_path: Path) -> None:
    cli("journeys", "create", str(write(tmp_path / "j.yaml", JOURNEY)))
    second = {**JOURNEY, "steps": JOURNEY["steps"][:2]}
    cli("journeys", "update", "welcome", str(write(tmp_path / "j2.yaml", second)))
    history = cli.json("journeys", "versions", "welcome")
    assert [(v["version"], v["actor"], v["changes"]["removed"]) for v in history] == [
        (2, "cli", ["later"]),
        (1, "cli", []),
    ]
    assert "later" in cli("journeys", "versions", "welcome").stdout
    assert yaml.safe_load(cli("journeys", "versions", "welcome", "--show", "1").stdout) == JOURNEY
    assert flat("no saved version 5") in cli.fails("journeys", "versions", "welcome", "--show", "5")


def test_a_draft_unless_start_then_pause_and_start(cli: Cli, tmp_path: Path) -> None:
    draft = cli("journeys", "create", str(write(tmp_path / "j.json", JOURNEY)))
    assert flat(draft.stdout) == flat("Journey welcome: draft (version 1).")
    assert cli.json("journeys", "start", "welcome")["status"] == "active"
    assert flat(cli("journeys", "pause", "welcome").stdout) == flat("Journey welcome: paused (version 1).")
    assert cli.json("journeys", "list")[0]["status"] == "paused"
    assert flat(cli("journeys", "start", "welcome").stdout) == flat("Journey welcome: active (version 1).")


def test_updating_a_running_journey_makes_a_new_version(cli: Cli, tmp_path: Path) -> None:
    """Contacts inside stay at their step ids (docs/journeys.md, "Editing a running journey")."""
    cli("journeys", "create", str(write(tmp_path / "j.yaml", JOURNEY)), "--start")
    v2 = write(tmp_path / "v2.yaml", {**JOURNEY, "name": "v2"})
    updated = cli.json("journeys", "update", "welcome", str(v2))
    assert (updated["version"], updated["name"], updated["status"]) == (2, "v2", "active")
    versions = cli.json("journeys", "versions", "welcome")
    assert [v["version"] for v in versions] == [2, 1]  # newest first


def test_invalid_journey_file_fails_with_the_field_path(cli: Cli, tmp_path: Path) -> None:
    bad = {**JOURNEY, "steps": [{"id": "hi", "send": {"channel": "smsx", "template": "t"}}]}
    message = cli.fails("journeys", "create", str(write(tmp_path / "bad.yaml", bad)))
    assert message.startswith("Error:steps[0].send:unknownchannel'smsx'"), message
    broken = tmp_path / "broken.yaml"
    broken.write_text("key: [\n", encoding="utf-8")
    assert "broken.yaml" in cli.fails("journeys", "create", str(broken))
    assert cli.json("journeys", "list") == []


def test_a_send_loop_without_a_wait_is_refused_naming_its_steps(cli: Cli, tmp_path: Path) -> None:
    looping = {
        **JOURNEY,
        "steps": [
            {"id": "hi", "send": {"channel": "webhook", "content": {"event": "x"}}},
            {"id": "again", "wait": 0, "next": "hi"},
        ],
    }
    message = cli.fails("journeys", "create", str(write(tmp_path / "loop.yaml", looping)), "--start")
    assert message.startswith("Error:steps[0],steps[1]:theloophi→again→hisends"), message
    assert cli.json("journeys", "list") == []


def test_a_yaml_file_holding_only_a_string_is_refused(cli: Cli, tmp_path: Path) -> None:
    """It used to be read as the path of another file (the Python API takes a str as a path)."""
    real = write(tmp_path / "real.yaml", JOURNEY)
    pointer = tmp_path / "pointer.yaml"
    pointer.write_text(f'"{real}"\n', encoding="utf-8")
    message = cli.fails("journeys", "create", str(pointer))
    assert "pointer.yaml:expectedanobjectoralist,notstr" in message, message
    assert cli.json("journeys", "list") == []


def test_a_yaml_alias_bomb_is_refused(cli: Cli, tmp_path: Path) -> None:
    """492 bytes that expanded to a 69 MB definition."""
    lines = [
        "key: welcome",
        "name: bomb",
        "trigger: {list: true}",
        "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
    ]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    lines += ["steps: [{id: hi, webhook: {event: x, data: {x: *a8}}}]"]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert bomb.stat().st_size < 600
    message = cli.fails("journeys", "create", str(bomb))
    assert "bomb.yaml:notvalidYAML:aliasesexpandthisdocumentby" in message, message
    assert cli.json("journeys", "list") == []


def test_an_unknown_provider_is_refused_at_start_naming_the_field(cli: Cli, tmp_path: Path) -> None:
    named = {**JOURNEY, "steps": [{"id": "push", "webhook": {"event": "joined", "provider": "nope"}}]}
    message = cli.fails("journeys", "create", str(write(tmp_path / "j.yaml", named)), "--start")
    assert "steps[0].webhook.provider:noprovider'nope'" in message, message
    assert cli.json("journeys", "list")[0]["status"] == "draft"  # created, not started
    add_webhook(cli, tmp_path, "http://127.0.0.1:9/hook")
    wrong = {
        **JOURNEY,
        "key": "sms",
        "steps": [{"id": "hi", "send": {"channel": "sms", "content": {"text": "hi"}, "provider": "hook"}}],
    }
    message = cli.fails("journeys", "create", str(write(tmp_path / "sms.yaml", wrong)), "--start")
    assert "steps[0].send.provider:'hook'isawebhookprovider,itcannotsendsms" in message, message
    named_ok = {
        **named,
        "key": "ok",
        "steps": [{"id": "push", "webhook": {"event": "joined", "provider": "hook"}}],
    }
    assert (
        cli.json("journeys", "create", str(write(tmp_path / "ok.yaml", named_ok)), "--start")["status"]
        == "active"
    )


@pytest.mark.parametrize("command", ["show", "start", "pause", "archive", "stats"])
def test_unknown_journey_fails_cleanly(cli: Cli, command: str) -> None:
    assert "nojourney'nope'" in cli.fails("journeys", command, "nope")


def test_worker_once_then_stats(cli: Cli, tmp_path: Path, people: list[int]) -> None:
    emu = WebhookReceiver(SECRET)
    with emu.running() as base_url:
        add_webhook(cli, tmp_path, base_url + "/hooks")
        cli("journeys", "create", str(write(tmp_path / "j.yaml", JOURNEY)), "--start")
        csv = tmp_path / "list.csv"
        csv.write_text("phone\n" + "\n".join(PHONES[:2]) + "\n", encoding="utf-8")
        assert cli.json("journeys", "enrol", "welcome", str(csv))["enrolled"] == 2
        round1 = cli.json("worker", "--once")
        assert (round1["queued"], round1["sent"], round1["failed"]) == (2, 2, 0)
        round2 = cli.json("worker", "--once")
        assert (round2["queued"], round2["sent"], round2["steps"]) == (0, 0, 0)
    assert sorted(emu.deliveries.values()) == [1, 1] and emu.rejected == []
    stats = cli.json("journeys", "stats", "welcome")
    assert (stats["enrolled"], stats["active"], stats["converted"]) == (2, 2, 0)
    steps = {s["id"]: s for s in stats["steps"]}
    assert steps["tag"]["entered"] == 2
    assert (steps["push"]["queued"], steps["push"]["sent"]) == (2, 2)
    assert steps["later"]["waiting"] == 2
    text = flat(cli("journeys", "stats", "welcome").stdout)
    assert "Journeywelcome:2enrolled,2inprogress,0converted(0.0%)." in text


def test_enrol_a_csv_list(cli: Cli, tmp_path: Path, people: list[int]) -> None:
    once = {**JOURNEY, "entry": {"reentry": True}, "steps": [{"id": "tag", "add_tag": "welcomed"}]}
    cli("journeys", "create", str(write(tmp_path / "j.yaml", once)), "--start")
    csv = tmp_path / "list.csv"
    csv.write_text(
        f"phone\n{PHONES[0]}\n+8613700000009\nid:{people[1]}\nnobody@example.com\n", encoding="utf-8"
    )
    result = cli.json("journeys", "enrol", "welcome", str(csv))
    assert (result["enrolled"], result["matched"]) == (2, 2)
    assert [m["contact"] for m in result["not_found"]] == ["+8613700000009", "nobody@example.com"]
    cli("worker", "--once")  # the one-step runs complete, so re-entry would be allowed …
    again = cli.json("journeys", "enrol", "welcome", str(csv))
    assert again["enrolled"] == 0  # … but the same file enrols no one twice
    assert cli.json("journeys", "stats", "welcome")["enrolled"] == 2
    other = tmp_path / "other.csv"
    other.write_text(f"{PHONES[0]}\n{PHONES[2]}\n", encoding="utf-8")  # no header: first row is a contact
    text = flat(cli("journeys", "enrol", "welcome", str(other)).stdout)
    assert text == flat("2 enrolled from 2 rows (2 matched a contact, 0 did not).")
    headed = tmp_path / "headed.csv"  # the header is not a row of the list
    headed.write_text(f"手机号\n{PHONES[0]}\n{PHONES[1]}\n", encoding="utf-8")
    result = cli.json("journeys", "enrol", "welcome", str(headed))
    assert (result["rows"], result["matched"], result["not_found"]) == (2, 2, [])


def test_enrol_into_a_paused_journey_fails(cli: Cli, tmp_path: Path) -> None:
    cli("journeys", "create", str(write(tmp_path / "j.yaml", JOURNEY)))
    csv = tmp_path / "list.csv"
    csv.write_text(PHONES[0] + "\n", encoding="utf-8")
    assert "startjourney'welcome'" in cli.fails("journeys", "enrol", "welcome", str(csv))


def test_enrol_a_missing_file_fails_cleanly(cli: Cli, tmp_path: Path) -> None:
    cli("journeys", "create", str(write(tmp_path / "j.yaml", JOURNEY)), "--start")
    assert "missing.csv" in cli.fails("journeys", "enrol", "welcome", str(tmp_path / "missing.csv"))


# --- providers ----------------------------------------------------------------------------------------
def test_providers_add_list_delete_never_print_secrets(cli: Cli, tmp_path: Path) -> None:
    added = add_webhook(cli, tmp_path, "http://127.0.0.1:9/hooks")
    assert (added["key"], added["kind"], added["secrets"]) == ("hook", "webhook", ["secret"])
    assert SECRET not in json.dumps(added)
    ali_secrets = write(
        tmp_path / "ali.yaml", {"access_key_id": "LTAI5t", "access_key_secret": "ali-DISTINCTIVE"}
    )
    text = cli(
        "providers",
        "add",
        "ali",
        "--kind",
        "aliyun_sms",
        "--config",
        '{"sign_name": "思域"}',
        "--secrets-file",
        str(ali_secrets),
        "--default",
    )
    assert flat(text.stdout) == flat("Provider ali (aliyun_sms) added.")
    listed = cli("providers", "list", "--json").stdout
    table = cli("providers", "list").stdout
    for output in (listed, table):
        assert SECRET not in output and "DISTINCTIVE" not in output
    rows = json.loads(listed)
    assert [(p["key"], p["kind"], p["default"], p["secrets"]) for p in rows] == [
        ("hook", "webhook", False, ["secret"]),
        ("ali", "aliyun_sms", True, ["access_key_id", "access_key_secret"]),
    ]
    assert flat(cli("providers", "delete", "hook").stdout) == flat("Provider hook deleted.")
    assert [p["key"] for p in cli.json("providers", "list")] == ["ali"]
    assert "noprovider'hook'" in cli.fails("providers", "delete", "hook")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--kind", "fax"], "kind:unknownproviderkind'fax'"),
        (["--kind", "webhook", "--config", "{not json"], "--config:notJSON"),
        (["--kind", "webhook", "--config", "[1]"], "--config:expectedaJSONobject"),
        (["--kind", "webhook", "--config", "{}"], "config.url:requiredforwebhook"),
    ],
)
def test_invalid_provider_fails_cleanly(cli: Cli, args: list[str], words: str) -> None:
    assert words in cli.fails("providers", "add", "hook", *args)
    assert cli.json("providers", "list") == []


def test_a_missing_secrets_file_fails_cleanly(cli: Cli, tmp_path: Path) -> None:
    message = cli.fails(
        "providers",
        "add",
        "hook",
        "--kind",
        "webhook",
        "--config",
        '{"url": "http://127.0.0.1:9/"}',
        "--secrets-file",
        str(tmp_path / "nope.json"),
    )
    assert "nope.json" in message


# --- Chinese --------------------------------------------------------------------------------------------
def test_messages_in_chinese(cli: Cli, tmp_path: Path) -> None:
    zh = {"SIYU_LANG": "zh"}
    created = cli("journeys", "create", str(write(tmp_path / "j.yaml", JOURNEY)), **zh)
    assert flat(created.stdout) == flat("旅程 welcome：draft（第 1 版）。")
    assert flat(cli("journeys", "start", "welcome", **zh).stdout) == flat("旅程 welcome：active（第 1 版）。")
    assert cli.fails("journeys", "show", "nope", **zh).startswith("错误：")
    secrets = write(tmp_path / "s.json", {"secret": SECRET})
    added = cli(
        "providers",
        "add",
        "hook",
        "--kind",
        "webhook",
        "--config",
        '{"url": "http://127.0.0.1:9/"}',
        "--secrets-file",
        str(secrets),
        **zh,
    )
    assert flat(added.stdout) == flat("已添加服务商 hook（webhook）。")
    stats = flat(cli("journeys", "stats", "welcome", **zh).stdout)
    assert "旅程welcome：共进入0人，进行中0人，转化0人（0.0%）。" in stats
    worker = flat(cli("worker", "--once", **zh).stdout)
    assert worker == flat("新进入 0 人，执行 0 步，生成消息 0 条，发送 0 条，失败 0 条。")
