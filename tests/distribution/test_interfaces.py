"""The interfaces over one flow: REST (422 naming the field, 404), the CLI with --json, the
settlement export (CSV with BOM, XLSX), and erasure / merge of the people in the ledger."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli, cli_env
from tests.distribution.conftest import at, chain, order_call, phone, promoter, refund_call, rows, visit_call

from siyu.client import Siyu
from siyu.config import Settings
from siyu.context import AppContext


def test_rest_flow(server: Any, http: Any) -> None:
    s: Siyu = server.client
    bad = http.patch("/api/v1/distribution/settings", json={"level1_rate": "0.7", "level2_rate": "0.4"})
    assert bad.status_code == 422 and "level2_rate" in bad.text and "100%" in bad.text
    assert http.patch("/api/v1/distribution/settings", json={"levels": 3}).status_code == 422
    s.identify({"phone": phone(1)})
    applied = http.post("/api/v1/distribution/promoters", json={"contact": phone(1)})
    assert applied.status_code == 201 and applied.json()["status"] == "pending"
    code = applied.json()["code"]
    assert [p["code"] for p in http.get("/api/v1/distribution/promoters?status=pending").json()] == [code]
    assert http.post(f"/api/v1/distribution/promoters/{code}/approve").json()["status"] == "approved"
    assert http.post("/api/v1/distribution/promoters/NOPE/approve").status_code == 404
    s.identify({"phone": phone(10)})
    bound = http.post("/api/v1/distribution/bindings", json={"contact": phone(10), "code": code}).json()
    assert bound["outcome"] == "bound"
    s.batch([order_call("A1", "80.00", 10)])
    got = http.get(f"/api/v1/distribution/commissions?promoter={code}").json()
    assert [(x["level"], x["amount"], x["state"]) for x in got] == [(1, "8.00", "pending")]
    assert http.post("/api/v1/distribution/settle").json()["frozen"] == 1
    dash = http.get(f"/api/v1/distribution/promoters/{code}/dashboard").json()
    assert dash["sales"] == {"orders": 1, "amount": "80.00"} and dash["downline"]["level1"] == 1
    assert dash["commissions"]["settled"] == "8.00"  # ordered months ago: the freeze is over
    assert http.get("/api/v1/distribution/verify").json()["ok"] is True
    csv = http.get("/api/v1/distribution/export?format=csv", headers={"Accept-Language": "zh-CN"})
    assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode())
    assert "推广码" in csv.content.decode("utf-8-sig") and code in csv.text
    assert http.get("/api/v1/distribution/export?format=pdf").status_code in (400, 422)
    payout = http.post("/api/v1/distribution/payouts")
    assert payout.status_code == 422 and "SIYU_WECHATPAY" in payout.text


def test_cli_flow(s: Siyu, settings: Settings, tmp_path: Path) -> None:
    cli = Cli(cli_env(settings))
    err = cli.fails("distribution", "settings", "set", "level1_rate=0.9", "level2_rate=0.2", code=2)
    assert "level2_rate" in err
    shown = cli.json("distribution", "settings", "set", "freeze_days=0", "level1_rate=20%")
    assert (shown["freeze_days"], shown["level1_rate"]) == (0, "0.2000")
    assert cli.json("distribution", "settings", "show")["enabled"] is True
    s.identify({"phone": phone(1)})
    code = cli.json("distribution", "promoters", "apply", phone(1))["code"]
    assert cli.json("distribution", "promoters", "approve", code)["status"] == "approved"
    assert [p["code"] for p in cli.json("distribution", "promoters", "list", "--status", "approved")] == [
        code
    ]
    s.identify({"phone": phone(10)})
    assert cli.json("distribution", "bind", phone(10), code)["outcome"] == "bound"
    assert cli.json("distribution", "bind", phone(1), code, code=3)["outcome"] == "self"
    s.batch([order_call("C1", "50", 10, at(0))])
    assert [x["amount"] for x in cli.json("distribution", "commissions", "list", "--promoter", code)] == [
        "10.00"
    ]
    assert cli.json("distribution", "settle") == {"reversed": 0, "frozen": 1, "settled": 1}
    assert cli.json("distribution", "commissions", "verify")["ok"] is True
    assert cli.json("distribution", "promoters", "dashboard", code)["commissions"]["settled"] == "10.00"
    out = cli.json("distribution", "export", str(tmp_path / "settle.xlsx"), "--lang", "en")
    assert out["rows"] == 1
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO((tmp_path / "settle.xlsx").read_bytes())).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[0][0] == "Code" and values[1][0] == code and "10.00" in values[1]
    assert "WECHATPAY" in cli.fails("distribution", "payout", code=2)
    cli.fails("distribution", "promoters", "approve", "NOPE", code=2)


def test_erasing_a_promoter_erases_their_earnings_and_unbinds(s: Siyu, ctx: AppContext) -> None:
    _a, b, c = chain(s)
    s.batch([visit_call(10, c, at(-1)), order_call("E1", "100", 10), refund_call("E1", 10, "10", "r1")])
    assert rows(ctx, "SELECT count(*) FROM commissions") == [(4,)]
    s.privacy.delete(phone(3), actor="dpo")  # C: level 1, and B's downline
    assert s.distribution.binding(phone(10)) is None
    assert {x["promoter"] for x in s.distribution.commissions()} == {b}
    s.privacy.delete(phone(10), actor="dpo")  # the buyer: their order goes, and its commissions
    assert rows(ctx, "SELECT count(*) FROM commissions") == [(0,)]
    assert s.distribution.verify()["ok"]


def test_merge_keeps_the_survivors_binding_and_finds_the_absorbed_promoter(s: Siyu) -> None:
    code = promoter(s, 1)
    s.batch([visit_call(10, code, at(0))])
    s.identify({"email": "p1@example.com"})
    # the promoter's phone and an email seen apart are one person: the email's contact absorbs or survives
    s.identify({"phone": phone(1), "email": "p1@example.com"})
    got = s.distribution.promoter("p1@example.com")
    assert got is not None and got["code"] == code
    assert s.distribution.bind("p1@example.com", code)["outcome"] == "self"
