"""File import through ``Siyu.import_file``: a large JSONL file with known bad lines, CSV
contacts with a column mapping, CSV rows of the wrong width, and an import killed mid-way.

Expectations are computed while generating the files, not from the importer's own report."""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.ingest import dead_letters
from siyu.ingest.service import IngestService
from siyu.store.models import Contact, Event, Identity, ImportJob

#: (field the error must name, a word its reason must contain) per kind of bad line
BAD_KINDS: dict[str, tuple[str, str]] = {
    "bad_json": ("(json)", "json"),
    "missing_event": ("event", "event"),
    "bad_type": ("type", "must be one of"),
    "bad_timestamp": ("timestamp", "iso 8601"),
    "bad_phone": ("identifiers.phone", "phone"),
    "no_identifier": ("identifiers", "identifier"),
}


#: Lines in the large import, per backend (1% bad lines either way). PostgreSQL is a shared
#: server whose speed varies a lot under load; 20k lines keep that run well inside the timeout.
SIZES = {"sqlite": 100_000, "postgresql": 20_000}


@dataclass
class Expected:
    lines: int = 0
    good: list[int] = field(default_factory=list)
    bad: dict[int, str] = field(default_factory=dict)  # line → kind
    text: dict[int, str] = field(default_factory=dict)  # line → the line as written
    message_ids: set[str] = field(default_factory=set)  # explicit ids of good lines
    per_user: Counter[str] = field(default_factory=Counter)  # customer_no → good events


def _bad_line(kind: str, n: int) -> str:
    if kind == "bad_json":
        return '{"type": "track", "event": "Broken", "userId": "u1", "properties": {"n": ' + str(n)
    record: dict[str, Any]
    if kind == "missing_event":
        record = {"type": "track", "userId": "u1", "messageId": f"bad-{n}"}
    elif kind == "bad_type":
        record = {"type": "purchase", "event": "Paid", "userId": "u1", "messageId": f"bad-{n}"}
    elif kind == "bad_timestamp":
        record = {
            "type": "track",
            "event": "Paid",
            "userId": "u1",
            "messageId": f"bad-{n}",
            "timestamp": "31/12/2024 25:61",
        }
    elif kind == "bad_phone":
        record = {"type": "track", "event": "Paid", "identifiers": {"phone": "12"}, "messageId": f"bad-{n}"}
    else:
        record = {"type": "track", "event": "Orphan", "properties": {"n": n}, "messageId": f"bad-{n}"}
    return json.dumps(record, ensure_ascii=False)


def write_events_file(path: Path, n: int, seed: int = 20240501) -> Expected:
    """``n`` lines, exactly 1% bad (including the first and the last line), varied good ones."""
    rng = random.Random(seed)
    n_bad = n // 100
    bad_lines = {1, n, *rng.sample(range(2, n), n_bad - 2)}
    assert len(bad_lines) == n_bad
    kinds = list(BAD_KINDS)
    exp = Expected(lines=n)
    with path.open("w", encoding="utf-8") as fh:
        for lineno in range(1, n + 1):
            if lineno in bad_lines:
                kind = kinds[len(exp.bad) % len(kinds)]
                exp.bad[lineno] = kind
                text = _bad_line(kind, lineno)
            else:
                exp.good.append(lineno)
                shape = lineno % 10
                record: dict[str, Any]
                if shape == 7:  # an anonymous page view on a device (never tied to a user)
                    record = {
                        "type": "page",
                        "name": "首页",
                        "anonymousId": f"dev-{lineno % 300}",
                        "messageId": f"m-{lineno}",
                        "timestamp": f"2024-04-{1 + lineno % 28:02d}T08:00:00+08:00",
                    }
                elif shape == 3:  # no messageId: the importer derives one from the content
                    user = f"u{rng.randrange(1000)}"
                    exp.per_user[user] += 1
                    record = {
                        "type": "track",
                        "event": "Viewed",
                        "userId": user,
                        "properties": {"line": lineno},
                        "timestamp": 1714550400000 + lineno,
                    }
                elif shape == 5:  # a phone-only shopper from the store channel
                    record = {
                        "type": "track",
                        "event": "Store Purchase",
                        "identifiers": {"phone": f"138{lineno % 500:08d}"},
                        "properties": {"amount": lineno % 997},
                        "messageId": f"m-{lineno}",
                        "timestamp": "2024-04-02T12:00:00Z",
                    }
                else:
                    user = f"u{rng.randrange(1000)}"
                    exp.per_user[user] += 1
                    record = {
                        "type": "track",
                        "event": rng.choice(["Viewed", "Added", "Paid"]),
                        "userId": user,
                        "messageId": f"m-{lineno}",
                        "properties": {"sku": f"S{lineno % 50}", "price": lineno % 300},
                        "timestamp": "2024-04-01T00:00:00.000Z",
                    }
                if "messageId" in record:
                    exp.message_ids.add(record["messageId"])
                text = json.dumps(record, ensure_ascii=False)
            exp.text[lineno] = text
            fh.write(text + "\n")
    assert len(exp.bad) == n // 100 and len(exp.good) == n - n // 100
    return exp


def count_events(ctx: AppContext) -> int:
    with ctx.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Event)) or 0)


def events_per_customer_no(ctx: AppContext) -> Counter[str]:
    with ctx.db.session() as s:
        rows = s.execute(
            select(Identity.value, func.count(Event.id))
            .join(Event, Event.contact_id == Identity.contact_id)
            .where(Identity.type == "customer_no")
            .group_by(Identity.value)
        ).all()
    return Counter({value: n for value, n in rows})


def read_dead_letters(ctx: AppContext, path: str | None) -> list[dict[str, Any]]:
    """The dead-letter file decrypted (it is encrypted at rest), nothing masked."""
    assert path is not None
    return dead_letters.read(path, ctx.keyring, reveal=True)


def check_dead_letters(ctx: AppContext, path: str | None, exp: Expected) -> None:
    dead = read_dead_letters(ctx, path)
    assert [d["line"] for d in dead] == sorted(exp.bad)
    for d in dead:
        kind = exp.bad[d["line"]]
        assert d["field"] == BAD_KINDS[kind][0]
        if kind == "bad_json":
            assert d["raw"] == exp.text[d["line"]]
        else:
            assert d["record"] == json.loads(exp.text[d["line"]])


# --- the large JSONL file -------------------------------------------------------------------------
def test_large_jsonl_with_one_percent_bad_lines(ctx: AppContext, tmp_path: Path) -> None:
    n = SIZES[ctx.db.dialect]
    path = tmp_path / "events.jsonl"
    exp = write_events_file(path, n)
    client = Siyu(ctx)
    progress: list[tuple[int, int]] = []

    report = client.import_file(path, "events", progress=lambda b, ln: progress.append((b, ln)))

    n_good, n_bad = len(exp.good), len(exp.bad)
    assert (report.lines, report.accepted, report.duplicates, report.rejected) == (n, n_good, 0, n_bad)
    # every bad line, by its exact line number, with the field it failed on
    assert [(e["line"], e["field"]) for e in report.errors] == [
        (line, BAD_KINDS[kind][0]) for line, kind in sorted(exp.bad.items())
    ]
    for e in report.errors:
        assert BAD_KINDS[exp.bad[e["line"]]][1] in e["reason"].lower(), e
    assert report.as_dict()["errors_truncated"] == n_bad - 100
    # every good line stored, each with the contact of its identifier
    assert count_events(ctx) == n_good
    with ctx.db.session() as s:
        stored_ids = set(s.scalars(select(Event.message_id).where(Event.message_id.like("m-%"))))
        bad_stored = s.scalar(select(func.count()).select_from(Event).where(Event.message_id.like("bad-%")))
        job = s.get(ImportJob, report.job_id)
        assert job is not None
        assert (job.status, job.lines, job.accepted, job.duplicates, job.rejected) == (
            "done",
            n,
            n_good,
            0,
            n_bad,
        )
        assert job.dead_letter_path == report.dead_letter
    assert stored_ids == exp.message_ids
    assert bad_stored == 0
    assert events_per_customer_no(ctx) == exp.per_user
    # the dead-letter file holds exactly the bad lines, with what was in them
    check_dead_letters(ctx, report.dead_letter, exp)
    # progress reaches the whole file
    assert progress and progress[-1] == (path.stat().st_size, n)
    assert [p[1] for p in progress] == sorted(p[1] for p in progress)

    # importing the same file again stores nothing new
    again = client.import_file(path, "events")
    assert (again.lines, again.accepted, again.duplicates, again.rejected) == (n, 0, n_good, n_bad)
    assert again.job_id != report.job_id
    assert count_events(ctx) == n_good
    assert again.dead_letter != report.dead_letter
    check_dead_letters(ctx, again.dead_letter, exp)


def test_jsonl_line_numbers_count_blank_lines_and_crlf(ctx: AppContext, tmp_path: Path) -> None:
    lines = [
        '{"type": "track", "event": "A", "userId": "x1", "messageId": "a"}',
        "",
        '{"type": "track", "userId": "x1", "messageId": "b"}',
        "   ",
        '{"type": "track", "event": "C", "userId": "x1", "messageId": "c"}',
        "{not json",
    ]
    path = tmp_path / "crlf.jsonl"
    path.write_bytes("\r\n".join(lines).encode() + b"\r\n")
    report = Siyu(ctx).import_file(path, "events")
    assert (report.accepted, report.rejected) == (2, 2)
    assert [(e["line"], e["field"]) for e in report.errors] == [(3, "event"), (6, "(json)")]
    dead = read_dead_letters(ctx, report.dead_letter)
    assert dead[1]["raw"] == "{not json"  # without the line ending


# --- CSV contacts -------------------------------------------------------------------------------
def test_csv_contacts_with_column_mapping(ctx: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    rows = [
        ("手机", "email", "name", "city", "备注"),
        ("13800138000", "zhang@example.com", "张三", "上海", "VIP"),
        ("139 0013 9000", "", "李四", "北京", ""),
        ("", "Wang@Example.com", "王五", "", "x"),
        ("+86-137-0013-7000", "chen@example.com", "陈六", "深圳", ""),
    ]
    # a UTF-8 BOM, as Excel writes it, must not end up in the first column's name
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(",".join(r) for r in rows).encode() + b"\n")
    client = Siyu(ctx)
    report = client.import_file(path, "contacts", mapping={"手机": "phone", "备注": "-"})
    assert (report.lines, report.accepted, report.rejected, report.contacts_created) == (4, 4, 0, 4)

    expected = {
        "13800138000": ("138****8000", "z***@example.com", {"name": "张三", "city": "上海"}),
        "13900139000": ("139****9000", None, {"name": "李四", "city": "北京"}),
        "wang@example.com": (None, "w***@example.com", {"name": "王五"}),
        "13700137000": ("137****7000", "c***@example.com", {"name": "陈六", "city": "深圳"}),
    }
    ids = set()
    for query, (phone, email, traits) in expected.items():
        profile = client.contact(query)
        ids.add(profile["id"])
        idents = {i["type"]: i["value"] for i in profile["identifiers"]}
        assert idents == {k: v for k, v in (("phone", phone), ("email", email)) if v}, query
        assert profile["traits"] == traits, query  # 备注 was mapped to "-": skipped
    assert len(ids) == 4
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 4
        job = s.scalars(select(ImportJob)).one()
        assert (job.kind, job.format, job.status) == ("contacts", "csv", "done")

    again = client.import_file(path, "contacts", mapping={"手机": "phone", "备注": "-"})
    assert (again.accepted, again.duplicates, again.rejected, again.contacts_created) == (0, 4, 0, 0)


def test_csv_row_with_too_many_columns(ctx: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(
        "phone,email,name,city\n"
        "13800138000,zhang@example.com,张三,上海\n"
        '13900139000,li@example.com,"李, 四",北京\n'  # a quoted comma is not a column
        "13700137000,wang@example.com,王五,深圳,多余\n"
        "13600136000,chen@example.com,陈六,广州\n",
        encoding="utf-8",
    )
    client = Siyu(ctx)
    report = client.import_file(path, "contacts")
    assert (report.lines, report.accepted, report.rejected) == (4, 3, 1)
    assert [(e["line"], e["field"]) for e in report.errors] == [(4, "(row)")]
    assert "5" in report.errors[0]["reason"] and "4" in report.errors[0]["reason"]
    assert client.contact("13900139000")["traits"]["name"] == "李, 四"
    dead = read_dead_letters(ctx, report.dead_letter)
    assert [d["line"] for d in dead] == [4]
    assert "多余" in dead[0]["raw"]
    with pytest.raises(Exception, match="no contact"):
        client.contact("13700137000")


def test_csv_row_with_too_few_columns_is_rejected(ctx: AppContext, tmp_path: Path) -> None:
    """A short row is the other kind of wrong column count (often a record broken by a stray
    newline); it must be reported, not imported with its missing columns silently empty."""
    path = tmp_path / "short.csv"
    path.write_text(
        "phone,email,name,city\n"
        "13800138000,zhang@example.com,张三,上海\n"
        "13900139000,li@example.com,李四\n"
        "13600136000,chen@example.com,陈六,广州\n",
        encoding="utf-8",
    )
    report = Siyu(ctx).import_file(path, "contacts")
    assert (report.accepted, report.rejected) == (2, 1)
    assert [(e["line"], e["field"]) for e in report.errors] == [(3, "(row)")]


def test_csv_line_numbers_with_quoted_newlines(ctx: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "multiline.csv"
    path.write_text(
        "phone,name,address\n"
        '13800138000,张三,"上海市\n浦东新区"\n'  # one record over lines 2-3
        "12,李四,北京\n"  # line 4: a bad phone
        "13600136000,陈六,广州\n",
        encoding="utf-8",
    )
    client = Siyu(ctx)
    report = client.import_file(path, "contacts")
    assert (report.accepted, report.rejected) == (2, 1)
    assert [(e["line"], e["field"]) for e in report.errors] == [(4, "identifiers.phone")]
    assert client.contact("13800138000")["traits"]["address"] == "上海市\n浦东新区"


def test_import_errors(ctx: AppContext, tmp_path: Path) -> None:
    from siyu.ingest.files import ImportFileError

    client = Siyu(ctx)
    with pytest.raises(ImportFileError, match="no such file"):
        client.import_file(tmp_path / "missing.jsonl", "events")
    (tmp_path / "x.txt").write_text("phone\n13800138000\n")
    with pytest.raises(ImportFileError, match="format"):
        client.import_file(tmp_path / "x.txt", "contacts")
    with pytest.raises(ImportFileError, match="kind"):
        client.import_file(tmp_path / "x.txt", "orders", fmt="csv")
    assert client.import_file(tmp_path / "x.txt", "contacts", fmt="csv").accepted == 1


# --- a killed import ------------------------------------------------------------------------------
def test_killed_import_keeps_finished_batches_and_resumes(
    ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 5000
    path = tmp_path / "resume.jsonl"
    with path.open("w") as fh:
        for i in range(1, n + 1):
            fh.write(
                json.dumps(
                    {
                        "type": "track",
                        "event": "Paid",
                        "userId": f"k{i % 37}",
                        "messageId": f"k-{i}",
                        "properties": {"i": i},
                    }
                )
                + "\n"
            )
    real_ingest = IngestService.ingest_valid
    calls = {"n": 0}

    def dying_ingest(self: IngestService, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        result = real_ingest(self, *args, **kwargs)  # the 3rd batch is written, not committed
        if calls["n"] == 3:
            raise RuntimeError("killed during batch 3")
        return result

    monkeypatch.setattr(IngestService, "ingest_valid", dying_ingest)
    client = Siyu(ctx)
    with pytest.raises(RuntimeError, match="killed during batch 3"):
        client.import_file(path, "events", batch_size=1000)
    assert calls["n"] == 3

    with ctx.db.session() as s:
        stored = set(s.scalars(select(Event.message_id)))
        job = s.scalars(select(ImportJob)).one()
    assert stored == {f"k-{i}" for i in range(1, 2001)}
    assert job.status == "failed"
    assert job.error is not None and "killed during batch 3" in job.error
    assert (job.lines, job.accepted, job.rejected) == (2000, 2000, 0)
    assert job.finished_at is not None

    monkeypatch.setattr(IngestService, "ingest_valid", real_ingest)
    report = client.import_file(path, "events", batch_size=1000)
    assert (report.lines, report.accepted, report.duplicates, report.rejected) == (n, 3000, 2000, 0)
    with ctx.db.session() as s:
        ids = list(s.scalars(select(Event.message_id)))
        jobs = s.scalars(select(ImportJob).order_by(ImportJob.id)).all()
    assert len(ids) == n and set(ids) == {f"k-{i}" for i in range(1, n + 1)}
    assert [j.status for j in jobs] == ["failed", "done"]
    expected = Counter(f"k{i % 37}" for i in range(1, n + 1))
    assert events_per_customer_no(ctx) == expected
