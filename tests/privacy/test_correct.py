"""Correction (PIPL art. 46): a trait is set or removed, a wrong identifier replaced with the
identity index kept consistent (the old value no longer finds the person, the new one does),
a value owned by someone else refused, and the audit entry names fields, never values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from tests.cli.conftest import Cli, cli_env
from tests.privacy.conftest import CITY, CONTROL_PHONE, EMAIL, PHONE, Person

from siyu.client import Siyu
from siyu.config import Settings
from siyu.privacy.schemas import PrivacyError
from siyu.profiles.views import LookupError_
from siyu.store.models import AuditEntry, Identity

NEW_PHONE = "13712345678"


def test_cli_replaces_a_wrong_phone_and_sets_a_trait(person: Person, settings: Settings) -> None:
    cli = Cli(cli_env(settings))
    out = cli.json(
        "contacts",
        "correct",
        PHONE,
        "--replace",
        f"phone:{PHONE}={NEW_PHONE}",
        "--set",
        "city=杭州",
        "--unset",
        "nickname",
    )
    assert out["contact_id"] == person.survivor and out["removed"] == ["nickname"]
    client = Siyu(person.ctx)
    moved = client.contact(NEW_PHONE, reveal=True)
    assert moved["id"] == person.survivor
    assert moved["traits"]["city"] == "杭州" and "nickname" not in moved["traits"]
    with pytest.raises(LookupError_):
        client.contact(PHONE)
    with person.ctx.db.session() as s:
        phones = s.scalars(
            select(Identity).where(Identity.contact_id == person.survivor, Identity.type == "phone")
        )
        assert [i.source for i in phones] == ["correction"]
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "contact.corrected")).all()
        assert entry.details == {"traits": ["city"], "removed": ["nickname"], "identifiers": ["phone"]}
        assert NEW_PHONE not in str(entry.details) and CITY not in str(entry.details)


def test_a_value_of_another_person_is_refused_and_nothing_changes(person: Person, settings: Settings) -> None:
    cli = Cli(cli_env(settings))
    msg = cli.fails(
        "contacts", "correct", PHONE, "--set", "city=x", "--replace", f"phone:{PHONE}={CONTROL_PHONE}"
    )
    assert "identifiers[0]" in msg and "another contact" in msg
    client = Siyu(person.ctx)
    assert client.contact(PHONE)["traits"]["city"] == CITY  # the whole correction was rolled back
    assert client.contact(CONTROL_PHONE)["id"] == person.control


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"identifiers": [{"type": "phone", "old": "13700000009", "new": NEW_PHONE}]}, "no such phone"),
        ({"identifiers": [{"type": "phone", "old": PHONE, "new": "12"}]}, "identifiers[0]"),
        ({"identifiers": [{"type": "fax", "old": PHONE, "new": NEW_PHONE}]}, "unknown identifier type"),
        ({}, "nothing to correct"),
    ],
)
def test_bad_corrections_say_where(person: Person, kwargs: dict, where: str) -> None:
    with pytest.raises(PrivacyError, match=where.replace("[", r"\[").replace("]", r"\]")):
        Siyu(person.ctx).privacy.correct(PHONE, **kwargs)


def test_malformed_corrections_are_refused_before_touching_anything(
    person: Person, settings: Settings
) -> None:
    with pytest.raises(ValidationError):
        Siyu(person.ctx).privacy.correct(PHONE, identifiers=[{"type": "email", "old": EMAIL}])
    cli = Cli(cli_env(settings))
    assert "NAME=VALUE" in cli.fails("contacts", "correct", PHONE, "--set", "city", code=2)
    assert "TYPE:OLD=NEW" in cli.fails("contacts", "correct", PHONE, "--replace", "phone=1", code=2)
