"""Access/copy (PIPL art. 45): the copy holds every kind of data kept about the person, with
identifiers in clear, includes what a merged-away contact held, and is audited."""

from __future__ import annotations

from sqlalchemy import select
from tests.cli.conftest import Cli, cli_env
from tests.privacy.conftest import CITY, EMAIL, NAME, NICK, NOTE, PHONE, PHONE_E164, UNIONID, Person

from siyu.config import Settings
from siyu.store.models import AuditEntry

#: Each kind the brief lists, by its name in the copy.
KINDS = (
    "identifiers",
    "traits",
    "tags",
    "tag_history",
    "consents",
    "touches",
    "events",
    "messages",
    "journey_enrolments",
    "journey_steps",
    "merges",
    "stage",
    "stage_history",
    "rfm",
    "segments",
    "scores",
    "short_links",
)


def test_cli_export_holds_every_kind_of_data(person: Person, settings: Settings) -> None:
    cli = Cli(cli_env(settings))
    copy = cli.json("contacts", "export", PHONE)
    assert copy["contact_id"] == person.survivor
    empty = [k for k in KINDS if not copy.get(k)]
    assert empty == [], empty
    values = {(i["type"], i["value"]) for i in copy["identifiers"]}
    assert {("phone", PHONE_E164), ("email", EMAIL), ("wechat_unionid", UNIONID)} <= values
    traits = {(t["name"], t["value"]) for t in copy["traits"]}
    assert {("name", NAME), ("city", CITY), ("nickname", NICK)} <= traits  # nickname came by the merge
    assert any((e.get("properties") or {}).get("note") == NOTE for e in copy["events"])
    assert {t["tag"] for t in copy["tags"]} == {"vip"}
    assert {s["segment"] for s in copy["segments"]} == {"buyers"}
    assert [m["journey"] for m in copy["messages"]] == ["welcome"]
    assert NAME in copy["messages"][0]["content"]["text"]
    assert {(m["survivor"], m["absorbed"]) for m in copy["merges"]} == {(person.survivor, person.absorbed)}
    assert {c["id"] for c in copy["contacts"]} == {person.survivor, person.absorbed}
    # Nothing of the control person.
    assert all(e["contact_id"] in person.family for e in copy["events"])


def test_export_is_audited_without_identifiers(person: Person) -> None:
    from siyu.client import Siyu

    Siyu(person.ctx).privacy.export(f"id:{person.survivor}", actor="dpo")
    with person.ctx.db.session() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "pii.exported")).all()
        assert (entry.actor, entry.target_id) == ("dpo", str(person.survivor))
        assert PHONE not in str(entry.details) and EMAIL not in str(entry.details)


def test_export_of_an_unknown_person_fails_cleanly(person: Person, settings: Settings) -> None:
    cli = Cli(cli_env(settings))
    assert "no contact matches" in cli.fails("contacts", "export", "13700000001")
    assert "phone or email" in cli.fails("contacts", "export", "nonsense")


def test_every_table_about_a_person_is_a_named_kind_in_both_languages() -> None:
    """A capability's new table with ``contact_id`` is copied and erased automatically; it must
    also have a kind (a plain key: orjson refused the table's quoted_name as a dict key, a 500
    on the console's copy download) and words for it on the privacy page."""
    from siyu.console.texts import TEXT
    from siyu.privacy.repository import person_tables
    from siyu.privacy.service import _NOT_COPIED
    from siyu.privacy.service import KINDS as NAMED

    tables = [t.name for t in person_tables() if t.name not in _NOT_COPIED]
    assert [t for t in tables if t not in NAMED] == []
    missing = [k for t in tables if set(TEXT.get(f"privacy_kind_{(k := NAMED[t])}", {})) != {"zh", "en"}]
    assert missing == []
