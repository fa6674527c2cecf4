"""`siyu segments …` and `siyu tags …` as operators run them: the real `siyu` executable in a
subprocess, configured by SIYU_* variables, on a small data set written through the Python API.
Expected numbers are computed from that data set here, not by siyu."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, update

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.store.models import Event

SIYU = Path(sys.executable).with_name("siyu")
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
USERS = ["u1", "u2", "u3", "u4", "u5", "u6"]
ORDERS = {"u1": 3, "u2": 1, "u3": 2, "u4": 0, "u5": 5, "u6": 1}
VIP = ["u1", "u3", "u5", "u6"]


def phone(uid: str) -> str:
    return f"+86139000000{USERS.index(uid) + 1:02d}"


def flat(text: str) -> str:
    """Rich wraps long lines at the console width; compare without any whitespace."""
    return "".join(text.split())


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, code: int = 0, **env: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(SIYU), *args], env={**self.env, **env}, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == code, (args, proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code).stdout)  # stdout is one JSON document

    def fails(self, *args: str, **env: str) -> str:
        """A command that must fail cleanly: non-zero exit, a message on stderr, no traceback."""
        proc = subprocess.run(
            [str(SIYU), *args], env={**self.env, **env}, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode != 0, (args, proc.stdout)
        assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
        assert proc.stderr.strip(), args
        return flat(proc.stderr)


@pytest.fixture
def world(ctx: AppContext) -> dict[str, int]:
    """Six customers (userId u1…u6, phones) and their orders; customer → contact id."""
    calls: list[dict[str, Any]] = [
        {"type": "identify", "userId": u, "traits": {"phone": phone(u)}, "messageId": f"id-{u}"}
        for u in USERS
    ]
    for u, n in ORDERS.items():
        calls += [
            {
                "type": "track",
                "event": "Order Completed",
                "userId": u,
                "properties": {"total": 10 * (k + 1)},
                "messageId": f"o-{u}-{k}",
                "timestamp": (T0 + timedelta(days=k)).isoformat(),
            }
            for k in range(n)
        ]
    result = Siyu(ctx).batch(calls)
    assert result.rejected == [] and result.contacts_created == len(USERS)
    with ctx.db.session() as s:
        profiles = ctx.profiles(s)
        ids = {u: profiles.resolve(ctx.parser.parse("customer_no", u)) for u in USERS}
    return ids  # type: ignore[return-value]


@pytest.fixture
def cli(ctx: AppContext, world: dict[str, int]) -> Cli:
    settings = ctx.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIYU_")}
    env.update(
        SIYU_DATA_DIR=str(settings.data_dir),
        SIYU_DATABASE_URL=settings.resolved_database_url,
        SIYU_SECRET_KEY=str(settings.secret_key),
        SIYU_LANG="en",
        LANG="C.UTF-8",
        LC_ALL="",
        COLUMNS="200",
    )
    return Cli(env)


def write(path: Path, document: Any) -> Path:
    text = yaml.safe_dump(document, allow_unicode=True) if path.suffix == ".yaml" else json.dumps(document)
    path.write_text(text, encoding="utf-8")
    return path


VIP_BUYERS = {
    "key": "vip-buyers",
    "name": "VIP buyers 会员复购",
    "definition": {
        "type": "and",
        "conditions": [
            {"type": "tags", "tags": ["vip"]},
            {"type": "event", "event": "Order Completed", "count": {"op": "gte", "value": 2}},
        ],
    },
}
ONE_ORDER_OR_NOT_VIP = {
    "key": "one-or-plain",
    "name": "One order or not VIP",
    "definition": {
        "type": "or",
        "conditions": [
            {"type": "event", "event": "Order Completed", "count": {"op": "eq", "value": 1}},
            {"type": "tags", "match": "none", "tags": ["vip"]},
        ],
    },
}


ORDERS_2 = {"type": "event", "event": "Order Completed", "count": {"op": "gte", "value": 2}}


def expected_vip_buyers(vip: list[str], orders: dict[str, int] = ORDERS) -> list[str]:
    return [u for u in USERS if u in vip and orders[u] >= 2]


def expected_one_or_plain(vip: list[str], orders: dict[str, int] = ORDERS) -> list[str]:
    return [u for u in USERS if orders[u] == 1 or u not in vip]


def tag_vips(cli: Cli, users: list[str]) -> None:
    cli("tags", "create", "vip")
    out = cli.json("tags", "add", "vip", *[phone(u) for u in users])
    assert (out["added"], out["not_found"]) == (len(users), [])


# --- segments ---------------------------------------------------------------------------------------


def test_segments_preview_create_list_show_members_sql_delete(
    cli: Cli, world, ctx: AppContext, tmp_path: Path
) -> None:
    tag_vips(cli, VIP)
    yaml_file = write(tmp_path / "vip-buyers.yaml", VIP_BUYERS)
    json_file = write(tmp_path / "one-or-plain.json", ONE_ORDER_OR_NOT_VIP)
    want_a = sorted(world[u] for u in expected_vip_buyers(VIP))
    want_b = sorted(world[u] for u in expected_one_or_plain(VIP))
    assert (len(want_a), len(want_b)) == (3, 3)

    preview = cli.json("segments", "preview", str(yaml_file))
    assert isinstance(preview, dict) and preview["count"] == len(want_a)
    assert preview["sample"] == want_a
    preview_b = json.loads(cli("segments", "preview", str(json_file), "--json", "--sample", "1").stdout)
    assert (preview_b["count"], preview_b["sample"]) == (len(want_b), want_b[:1])
    assert cli.json("segments", "list") == []  # a preview saves nothing

    created = cli.json("segments", "create", str(yaml_file))
    assert (created["key"], created["kind"], created["members"]) == ("vip-buyers", "dynamic", len(want_a))
    text = cli("segments", "create", str(json_file)).stdout
    assert flat(f"Segment one-or-plain created with {len(want_b)} members.") in flat(text)
    listed = cli.json("segments", "list")
    assert sorted((s["key"], s["members"]) for s in listed) == [
        ("one-or-plain", len(want_b)),
        ("vip-buyers", len(want_a)),
    ]
    shown = yaml.safe_load(cli("segments", "show", "vip-buyers").stdout)
    assert shown["key"] == "vip-buyers" and shown["name"] == VIP_BUYERS["name"]
    assert [c["type"] for c in shown["definition"]["conditions"]] == ["tags", "event"]
    assert cli.json("segments", "show", "one-or-plain")["definition"]["type"] == "or"
    assert cli.json("segments", "members", "vip-buyers") == want_a
    assert cli.json("segments", "members", "one-or-plain", "--limit", "2", "--offset", "1") == want_b[1:3]
    sql = cli.json("segments", "sql", str(yaml_file))
    assert "select" in sql["sql"].lower() and "Order Completed" in sql["params"]

    # u4 becomes a VIP with two orders: it enters vip-buyers and leaves one-or-plain
    Siyu(ctx).batch(
        [
            {
                "type": "track",
                "event": "Order Completed",
                "userId": "u4",
                "messageId": f"more-{k}",
                "timestamp": (T0 + timedelta(days=20 + k)).isoformat(),
            }
            for k in range(2)
        ]
    )
    cli("tags", "add", "vip", phone("u4"))
    vip, orders = [*VIP, "u4"], {**ORDERS, "u4": 2}
    result = cli.json("segments", "recompute", "vip-buyers")
    assert [(r["segment"], r["members"], r["entered"], r["exited"]) for r in result] == [
        ("vip-buyers", len(expected_vip_buyers(vip, orders)), [world["u4"]], [])
    ]
    everything = {r["segment"]: r for r in cli.json("segments", "recompute", "--full")}
    assert everything["one-or-plain"]["members"] == len(expected_one_or_plain(vip, orders))
    assert everything["one-or-plain"]["exited"] == [world["u4"]]
    assert everything["vip-buyers"]["entered"] == []

    assert flat("Segment one-or-plain deleted.") in flat(cli("segments", "delete", "one-or-plain").stdout)
    assert [s["key"] for s in cli.json("segments", "list")] == ["vip-buyers"]
    assert "one-or-plain" in cli.fails("segments", "show", "one-or-plain")


# --- tags -------------------------------------------------------------------------------------------


def test_tags_commands(cli: Cli, world, ctx: AppContext, tmp_path: Path) -> None:
    assert cli.json("tags", "group", "年龄段", "--exclusive", "--description", "age band") == {
        "id": 1,
        "name": "年龄段",
        "description": "age band",
        "exclusive": True,
    }
    assert cli.json("tags", "create", "interest/tea", "--half-life", "30")["half_life_days"] == 30.0
    cli("tags", "create", "年龄段/18-24")
    cli("tags", "create", "年龄段/25-34")
    out = cli("tags", "add", "年龄段/18-24", phone("u1"), "customer_no:u2").stdout
    assert flat("年龄段/18-24: added to 2 contacts, reinforced on 0.") in flat(out)
    added = cli.json("tags", "add", "年龄段/25-34", f"id:{world['u1']}")
    assert added["added"] == 1
    weighted = cli.json("tags", "add", "interest/tea", phone("u1"), phone("u3"), "--weight", "2")
    assert (weighted["added"], weighted["reinforced"]) == (2, 0)
    again = cli.json("tags", "add", "interest/tea", phone("u1"), "--weight", "1.5")
    assert (again["added"], again["reinforced"]) == (0, 1)

    # unknown contacts: reported on stderr, exit code 2, the others still tagged
    partial = cli("tags", "add", "interest/tea", phone("u4"), "+8613000000999", "--json", code=2)
    assert json.loads(partial.stdout)["added"] == 1
    assert "+8613000000999" in flat(partial.stderr)

    counts = {t["key"]: t["contacts"] for t in cli.json("tags", "list")}
    assert counts == {"interest/tea": 3, "年龄段/18-24": 1, "年龄段/25-34": 1}
    removed = cli("tags", "remove", "interest/tea", phone("u3"))
    assert flat("interest/tea: removed from 1 contacts.") in flat(removed.stdout)

    shown = cli.json("tags", "show", phone("u1"))
    assert shown["contact_id"] == world["u1"]
    tags = {t["key"]: t for t in shown["tags"]}
    assert sorted(tags) == ["interest/tea", "年龄段/25-34"]
    assert tags["interest/tea"]["weight"] == pytest.approx(3.5, abs=1e-3)  # 2 + 1.5, decayed for seconds
    assert sorted((h["tag"], h["action"], h["source"]) for h in shown["history"]) == [
        ("interest/tea", "added", "manual"),
        ("interest/tea", "weighted", "manual"),
        ("年龄段/18-24", "added", "manual"),
        ("年龄段/18-24", "removed", "manual"),  # the exclusive group
        ("年龄段/25-34", "added", "manual"),
    ]
    assert "interest/tea" in cli("tags", "show", f"id:{world['u1']}").stdout

    csv_file = tmp_path / "标签.csv"
    csv_file.write_text(
        f"\ufeffcontact,tag,weight\n{phone('u5')},interest/tea,1\nnobody@example.com,interest/tea,\n"
        f"{phone('u6')},兴趣/奶茶,\n",
        encoding="utf-8",
    )
    report = cli.json("tags", "import", str(csv_file), code=2)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(3, "contact"), (4, "tag")]
    assert report["applied"] == 1
    text = cli("tags", "import", str(csv_file), "--create", code=2).stdout
    assert flat("3 rows: 2 applied, 1 rejected.") in flat(text) and flat("line 3, contact:") in flat(text)
    assert {t["key"]: t["contacts"] for t in cli.json("tags", "list")}["兴趣/奶茶"] == 1

    write(tmp_path / "buyers.yaml", {**VIP_BUYERS, "key": "buyers", "definition": ORDERS_2})
    cli("segments", "create", str(tmp_path / "buyers.yaml"))
    seg = cli.json("tags", "segment", "repeat-buyer", "buyers", "--create")
    assert seg["added"] == len([u for u in USERS if ORDERS[u] >= 2])
    holders = {t["key"]: t["contacts"] for t in cli.json("tags", "list")}
    assert holders["repeat-buyer"] == seg["added"]


def test_tag_rules_commands(cli: Cli, world, ctx: AppContext, tmp_path: Path) -> None:
    rule = {
        "kind": "event",
        "event": "Order Completed",
        "where": [{"property": "total", "op": "gte", "value": 20}],
        "tag": "big-order",
        "weight": 1,
    }
    write(tmp_path / "rule.yaml", rule)
    keyword = {"kind": "keyword", "keywords": ["奶茶", "milk tea"], "tag": "interest/tea"}
    write(tmp_path / "keyword.json", keyword)
    assert flat("Tagging rule big created.") in flat(
        cli("tags", "rules", "create", "big", str(tmp_path / "rule.yaml")).stdout
    )
    cli("tags", "rules", "create", "tea", str(tmp_path / "keyword.json"))
    listed = cli.json("tags", "rules", "list")
    assert [(r["name"], r["kind"], r["enabled"]) for r in listed] == [
        ("big", "event", True),
        ("tea", "keyword", True),
    ]
    assert listed[1]["spec"]["keywords"] == ["奶茶", "milk tea"]
    Siyu(ctx).batch(
        [
            {
                "type": "track",
                "event": "Message Received",
                "userId": "u4",
                "properties": {"text": "想喝奶茶"},
                "messageId": "msg-1",
                "timestamp": T0.isoformat(),
            }
        ]
    )
    # events older than the settling horizon (5 s) are read; set them back instead of waiting
    engine = create_engine(ctx.settings.resolved_database_url)
    with engine.begin() as conn:
        conn.execute(update(Event).values(received_at=datetime.now(UTC) - timedelta(minutes=5)))
    engine.dispose()
    ran = cli.json("tags", "rules", "run")
    big = [u for u in USERS if ORDERS[u] >= 2]  # totals are 10, 20, 30…: one per order after the first
    assert ran["matched"] == sum(ORDERS[u] - 1 for u in big) + 1
    assert ran["tags"] == {"big-order": len(big), "interest/tea": 1}
    weights = {u: cli.json("tags", "show", phone(u))["tags"] for u in ("u4", "u5")}
    assert [(t["key"], t["weight"], t["source"]) for t in weights["u5"]] == [("big-order", 4.0, "rule")]
    assert [(t["key"], t["source"]) for t in weights["u4"]] == [("interest/tea", "keyword")]
    assert cli.json("tags", "rules", "run")["matched"] == 0


# --- errors and language ----------------------------------------------------------------------------


def test_errors_are_clear_messages_without_tracebacks(cli: Cli, world, tmp_path: Path) -> None:
    bad = {
        **VIP_BUYERS,
        "definition": {
            "type": "and",
            "conditions": [
                {"type": "tags", "tags": ["vip"]},
                {
                    "type": "or",
                    "conditions": [{"type": "event", "event": "X", "count": {"op": "gte", "value": -1}}],
                },
            ],
        },
    }
    err = cli.fails("segments", "preview", str(write(tmp_path / "bad.yaml", bad)), "--json")
    assert "definition.conditions[1].conditions[0].count.value:" in err
    err = cli.fails("segments", "create", str(write(tmp_path / "bad.json", bad)))
    assert "definition.conditions[1].conditions[0].count.value:" in err
    assert "unknowntag'vip'" in cli.fails("segments", "create", str(write(tmp_path / "v.yaml", VIP_BUYERS)))
    assert "unknowntag'nope'" in cli.fails("tags", "add", "nope", phone("u1"))
    cli("tags", "create", "vip")
    assert "tag'vip'alreadyexists" in cli.fails("tags", "create", "vip")
    assert "tagkey'a/b/c'" in cli.fails("tags", "create", "a/b/c")
    assert "nosuchfile" in cli.fails("segments", "preview", str(tmp_path / "nope.yaml"))
    assert "nosuchfile" in cli.fails("tags", "rules", "create", "r", str(tmp_path / "nope.yaml"))
    assert "rule.event.weight" in cli.fails(
        "tags",
        "rules",
        "create",
        "r",
        str(write(tmp_path / "r.yaml", {"event": "E", "tag": "t", "kind": "event", "weight": 0})),
    )
    cli("segments", "create", str(write(tmp_path / "ok.yaml", VIP_BUYERS)))
    assert "alreadyexists" in cli.fails("segments", "create", str(tmp_path / "ok.yaml"))
    assert "nosegment'nope'" in cli.fails("segments", "members", "nope")
    assert "nosegment'nope'" in cli.fails("tags", "segment", "vip", "nope")
    assert "nocontactmatches" in cli.fails("tags", "show", "+8613000000999")


def test_tags_import_of_a_missing_file_is_a_clear_error(cli: Cli, world, tmp_path: Path) -> None:
    err = cli.fails("tags", "import", str(tmp_path / "nope.csv"))
    assert "nope.csv" in err


def test_chinese_output(cli: Cli, world, tmp_path: Path) -> None:
    out = cli("tags", "create", "vip", SIYU_LANG="zh").stdout
    assert flat("标签 vip 已创建。") in flat(out)
    out = cli("tags", "add", "vip", phone("u1"), phone("u3"), SIYU_LANG="zh").stdout
    assert flat("vip：新打标 2 人，加权 0 人。") in flat(out)
    out = cli("segments", "preview", str(write(tmp_path / "s.yaml", VIP_BUYERS)), SIYU_LANG="zh").stdout
    assert flat(f"符合条件 {len(expected_vip_buyers(['u1', 'u3']))} 人") in flat(out)
    assert "错误：" in cli.fails("tags", "add", "nope", phone("u1"), SIYU_LANG="zh")
