"""Bulk tagging from CSV (docs/tags.md): columns contact,tag[,weight]; every bad row is reported
with its line and field, every good row is applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from siyu.tags.service import TagError


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "tags.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"], ids=["plain", "bom"])
def test_good_rows_are_applied_and_bad_rows_reported(kit, tmp_path: Path, encoding: str) -> None:
    ids = kit.people("u1", "u2", "u3", "u4", "u5")
    p = kit.phones
    kit.client.tags.create("vip")
    kit.client.tags.create("兴趣/奶茶")
    kit.client.tags.create("interest/tea", half_life_days=30)
    rows = [
        "contact,tag,weight",
        f"{p['u1']},interest/tea,2",  # 2: good
        "u2@example.com,vip,",  # 3: good, no weight
        "customer_no:u3,vip",  # 4: good, the weight column left out
        f"id:{ids['u4']},兴趣/奶茶,1.5",  # 5: good, a Chinese tag
        "+8613000000999,vip,",  # 6: nobody has this phone
        f"{p['u1']},vip,abc",  # 7
        f"{p['u2']},vip,0",  # 8
        f"{p['u2']},vip,-1",  # 9
        f"{p['u2']},vip,nan",  # 10
        f"{p['u1']},a/b/c,",  # 11: not a tag key
        f"{p['u1']},unknown,",  # 12: no such tag, no --create
        f"{p['u1']},vip,1,extra",  # 13: too many values
        "hello,vip,",  # 14: not a contact query
        f"{p['u1']},,",  # 15: empty tag
        f"{p['u5']},unknown,",  # 16: the unknown tag again
    ]
    path = write(tmp_path, "\n".join(rows) + "\n", encoding)
    report = kit.client.tags.import_csv(path)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (6, "contact"),
        (7, "weight"),
        (8, "weight"),
        (9, "weight"),
        (10, "weight"),
        (11, "tag"),
        (12, "tag"),
        (13, None),
        (14, "contact"),
        (15, "tag"),
        (16, "tag"),
    ]
    assert (report["rows"], report["applied"], report["added"], report["rejected"]) == (15, 4, 4, 11)
    errors = {e["line"]: e["error"] for e in report["errors"]}
    assert "+8613000000999" in errors[6] and "'abc'" in errors[7] and "'a/b/c'" in errors[11]
    assert "unknown tag 'unknown'" in errors[12] and "more values than columns" in errors[13]
    assert kit.holdings() == {
        (ids["u1"], "interest/tea"): (2.0, "import"),
        (ids["u2"], "vip"): (1.0, "import"),
        (ids["u3"], "vip"): (1.0, "import"),
        (ids["u4"], "兴趣/奶茶"): (1.5, "import"),
    }
    assert {(c["action"], c["source"], c["detail"]) for c in kit.changes()} == {
        ("added", "import", "tags.csv")
    }
    assert sorted(t["key"] for t in kit.client.tags.list()) == ["interest/tea", "vip", "兴趣/奶茶"]
    assert len(kit.tag_events()) == 4


def test_create_makes_missing_tags_and_merged_ids_land_on_the_survivor(kit, tmp_path: Path) -> None:
    survivor = kit.people("u1")["u1"]
    absorbed = kit.anonymous("dev-1", "old@example.com")
    kit.link("u1", "old@example.com")
    path = write(
        tmp_path,
        f"contact,tag\nid:{absorbed},兴趣/抹茶\nold@example.com,new-tag\n{kit.phones['u1']},bad/key/x\n",
    )
    report = kit.client.tags.import_csv(path, create=True)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(4, "tag")]
    assert (report["applied"], report["added"]) == (2, 2)
    assert set(kit.holdings()) == {(survivor, "兴趣/抹茶"), (survivor, "new-tag")}
    listed = {t["key"]: t["group"] for t in kit.client.tags.list()}
    assert listed == {"兴趣/抹茶": "兴趣", "new-tag": None}


def test_weights_reinforce_existing_holdings(kit, tmp_path: Path) -> None:
    ids = kit.people("u1", "u2")
    kit.client.tags.create("score")
    kit.client.tags.apply("score", [ids["u1"]], weight=1.0)
    path = write(tmp_path, f"contact,tag,weight\n{kit.phones['u1']},score,2.5\n{kit.phones['u2']},score,\n")
    report = kit.client.tags.import_csv(path)
    assert (report["applied"], report["added"], report["rejected"]) == (2, 1, 0)
    assert {k: w for k, (w, _) in kit.holdings().items()} == {
        (ids["u1"], "score"): 3.5,
        (ids["u2"], "score"): 1.0,
    }


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("contact,weight", "tag"),
        ("tag,weight", "contact"),
        ("phone,label", "contact, tag"),
        ("", "contact, tag"),
    ],
)
def test_missing_columns_are_refused(kit, tmp_path: Path, header: str, missing: str) -> None:
    kit.people("u1")
    path = write(tmp_path, f"{header}\n{kit.phones['u1']},vip\n")
    with pytest.raises(TagError, match=f"tags.csv: missing column\\(s\\) {missing}; expected contact,tag"):
        kit.client.tags.import_csv(path, create=True)
    assert kit.holdings() == {}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{p1},vip\n\nnobody@example.com,vip\n", [(4, "contact")]),
        ('{p1},vip\n{p1},"two\nlines"\nnobody@example.com,vip\n', [(3, "tag"), (5, "contact")]),
    ],
    ids=["blank-line", "quoted-newline"],
)
def test_reported_lines_are_the_lines_of_the_file(kit, tmp_path: Path, body: str, expected: list) -> None:
    """ "Bad CSV rows are reported with line": the line a user finds the row at in the file, also
    after a blank line (common at the end of spreadsheet exports) or a quoted multi-line value."""
    kit.people("u1")
    path = write(tmp_path, "contact,tag\n" + body.replace("{p1}", kit.phones["u1"]))
    report = kit.client.tags.import_csv(path, create=True)
    assert [(e["line"], e["field"]) for e in report["errors"]] == expected


def test_every_row_is_one_contribution(kit, tmp_path: Path) -> None:
    """Two good rows adding weight to one contact add both, whether their weights are equal
    or not and whichever identifier names the contact."""
    ids = kit.people("u1", "u2")
    kit.client.tags.create("score")
    p = kit.phones
    path = write(
        tmp_path,
        f"contact,tag,weight\n{p['u1']},score,2\nu1@example.com,score,2\n{p['u2']},score,2\n{p['u2']},score,3\n",
    )
    report = kit.client.tags.import_csv(path)
    assert (report["rows"], report["applied"], report["rejected"]) == (4, 4, 0)
    weights = {k: w for k, (w, _) in kit.holdings().items()}
    assert weights[(ids["u2"], "score")] == 5.0
    assert weights[(ids["u1"], "score")] == 4.0
