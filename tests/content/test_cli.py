"""`siyu content …` as operators run it: template files in YAML or JSON, --json output, clean
failures with the field path, previews for a contact given by phone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.content.images import png
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.context import AppContext

TEMPLATES = [
    {
        "key": "birthday",
        "name": "生日祝福",
        "channel": "sms",
        "scenario": "birthday",
        "body": {
            "template_code": "SMS_100",
            "params": {"name": "{{ name }}"},
            "text": "{{ name }}，生日快乐！积分 {{ points }} 可兑礼。",
        },
        "variants": {"b": {"text": "{{ name }}，生日礼已到账"}},
    },
    {"key": "hi", "name": "Hi", "channel": "wecom_private", "body": {"text": "Hi {{ name }}"}},
]


def flat(text: str) -> str:
    """Rich wraps long lines at the console width; compare without any whitespace."""
    return "".join(text.split())


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> Any:
        result = self.runner.invoke(app, list(args), env=self.env)
        assert result.exit_code == code, (args, result.output, result.exception)
        assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def cli(ctx: AppContext) -> Cli:
    s = ctx.settings
    return Cli(
        {
            "SIYU_DATA_DIR": str(s.data_dir),
            "SIYU_DATABASE_URL": s.resolved_database_url,
            "SIYU_SECRET_KEY": str(s.secret_key),
            "SIYU_LANG": "en",
        }
    )


def test_create_list_show_preview_delete(cli: Cli, people: dict[str, int], tmp_path: Path) -> None:
    file = tmp_path / "templates.yaml"
    file.write_text(yaml.safe_dump(TEMPLATES, allow_unicode=True), encoding="utf-8")
    assert cli.json("content", "templates", "create", str(file)) == [
        {"key": "birthday", "channel": "sms", "action": "created"},
        {"key": "hi", "channel": "wecom_private", "action": "created"},
    ]
    assert [t["key"] for t in cli.json("content", "templates", "list")] == ["birthday", "hi"]
    assert [t["key"] for t in cli.json("content", "templates", "list", "--channel", "sms")] == ["birthday"]
    assert "生日祝福" in cli("content", "templates", "list").stdout
    shown = yaml.safe_load(cli("content", "templates", "show", "birthday").stdout)
    assert shown["body"] == TEMPLATES[0]["body"]

    preview = cli.json("content", "preview", "birthday", "13800000001")
    assert preview["contact_id"] == people["c1"] and preview["errors"] == []
    assert preview["content"] == {
        "template_code": "SMS_100",
        "params": {"name": "张三"},
        "text": "张三，生日快乐！积分 120 可兑礼。",
    }
    text = cli("content", "preview", "birthday", f"id:{people['c3']}", "--variant", "b").stdout
    assert yaml.safe_load(text)["text"] == "王五，生日礼已到账"

    cli("content", "templates", "create", str(file), code=1)  # exists
    again = tmp_path / "hi.json"
    again.write_text(json.dumps({**TEMPLATES[1], "name": "Hello"}), encoding="utf-8")
    assert cli.json("content", "templates", "create", str(again), "--update")[0]["action"] == "updated"
    assert "Template hi deleted." in cli("content", "templates", "delete", "hi").stdout
    assert [t["name"] for t in cli.json("content", "templates", "list")] == ["生日祝福"]


def test_failures_are_clean_and_name_the_field(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**TEMPLATES[1], "body": {"text": "Hi {{ name }"}}), encoding="utf-8")
    result = cli("content", "templates", "create", str(bad), code=1)
    assert "Traceback" not in result.output
    assert flat("body.text: unexpected '}'") in flat(result.stderr)
    assert flat("unknown template 'nope'") in flat(cli("content", "templates", "show", "nope", code=1).stderr)
    assert "nocontactmatches" in flat(cli("content", "preview", "hi", "customer_no:nobody", code=1).stderr)
    assert "nosuchfile" in flat(
        cli("content", "templates", "create", str(tmp_path / "missing.yaml"), code=1).stderr
    )
    assert cli.json("content", "templates", "list") == []  # a failed file creates nothing


def test_materials(cli: Cli, tmp_path: Path) -> None:
    file = tmp_path / "materials.json"
    file.write_text(
        json.dumps([{"key": "tea", "kind": "link", "data": {"title": "新茶", "url": "https://a.cn/tea"}}]),
        encoding="utf-8",
    )
    assert "Material tea (link) created." in cli("content", "materials", "create", str(file)).stdout
    assert [(m["key"], m["data"]["title"]) for m in cli.json("content", "materials", "list")] == [
        ("tea", "新茶")
    ]
    cli("content", "materials", "create", str(file), code=1)


def test_upload_variables_and_sms_count(cli: Cli, people: dict[str, int], tmp_path: Path) -> None:
    image = tmp_path / "封面.png"
    image.write_bytes(png(6, 4))
    done = cli.json(
        "content", "materials", "upload", str(image), "--key", "shop", "--kind", "miniprogram",
        "--title", "商城", "--appid", "wx1", "--page", "pages/i",
    )  # fmt: skip
    assert (done["file"]["width"], done["file"]["height"], done["file"]["filename"]) == (6, 4, "封面.png")
    assert done["material"]["data"] == {
        "file": done["file"]["id"],
        "title": "商城",
        "appid": "wx1",
        "page": "pages/i",
    }
    svg = tmp_path / "x.png"
    svg.write_text("<svg/>")
    assert "not a JPG or PNG" in cli("content", "materials", "upload", str(svg), code=1).output
    assert cli.json("content", "materials", "delete", "shop") == {"key": "shop", "deleted": True}
    found = cli.json("content", "variables")
    assert "city" in found["traits"] and "phone" not in found["traits"] and "name" in found["builtins"]
    assert cli.json("content", "sms-count", "好" * 66, "--sign", "品牌") == {
        "chars": 70, "parts": 1, "per_part": 70, "left": 0, "signature": "【品牌】",
    }  # fmt: skip
    assert "2 part(s)" in cli("content", "sms-count", "a" * 71).stdout
