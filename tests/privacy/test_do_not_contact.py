"""Do-not-contact: an erased person re-imported with the same phone gets no marketing until
they consent again; service messages still go; an unsubscribe lists the person for that
channel only. The list holds blind indexes, never values."""

from __future__ import annotations

from sqlalchemy import select
from tests.cli.conftest import Cli, cli_env
from tests.privacy.conftest import PHONE, PHONE_E164, UNIONID, Person, sms_journey

from siyu.channels.inbound import Inbound, record_inbound
from siyu.client import Siyu
from siyu.config import Settings
from siyu.journeys.facts import consent_decisions, consents
from siyu.store.models import DoNotContact, Journey, JourneyStepRun, OutboxMessage, utcnow


def reimport(person: Person, settings: Settings) -> int:
    """The same phone imported again, without any consent, through the real CLI."""
    path = settings.data_dir / "again.csv"
    path.write_text(f"phone,name\n{PHONE},回来了\n")
    report = Cli(cli_env(settings)).json("import", "contacts", str(path))
    assert report["accepted"] == 1
    path.unlink()
    return int(Siyu(person.ctx).contact(PHONE)["id"])


def runs_of(person: Person, journey: str, cid: int) -> list[tuple[str, str | None]]:
    with person.ctx.db.session() as s:
        jid = s.scalar(select(Journey.id).where(Journey.key == journey))
        rows = s.execute(
            select(JourneyStepRun.outcome, JourneyStepRun.detail).where(
                JourneyStepRun.journey_id == jid,
                JourneyStepRun.contact_id == cid,
                JourneyStepRun.outcome != "entered",
            )
        ).all()
    return [(o, d) for o, d in rows]


def test_reimported_person_is_blocked_from_marketing_until_they_consent(
    person: Person, settings: Settings
) -> None:
    Cli(cli_env(settings)).json("contacts", "delete", PHONE)
    again = reimport(person, settings)
    assert again not in person.family  # a new contact: nothing of the old one came back

    sms_journey(person.ctx, "promo", [again, person.control])
    assert runs_of(person, "promo", again) == [("skipped_consent", "marketing/sms: do_not_contact")]
    assert [o for o, _ in runs_of(person, "promo", person.control)] == ["queued"]  # to the outbox

    # Service messages are not marketing: the list does not stop them.
    sms_journey(person.ctx, "receipt", [again], purpose="service")
    assert runs_of(person, "receipt", again)[0][0] != "skipped_consent"

    # A new grant of marketing consent lifts the block.
    Siyu(person.ctx).set_consent(PHONE, "marketing", True, channel="sms")
    sms_journey(person.ctx, "promo2", [again])
    assert runs_of(person, "promo2", again)[0][0] != "skipped_consent"
    with person.ctx.db.session() as s:
        sent = s.scalars(select(OutboxMessage.contact_id).where(OutboxMessage.contact_id == again)).all()
    assert len(sent) == 2  # receipt and promo2, never promo


def test_the_check_lives_in_the_shared_consent_decision(person: Person, settings: Settings) -> None:
    """Any sender asking ``consents`` (the dispatcher's re-check too) gets the block."""
    Cli(cli_env(settings)).json("contacts", "delete", PHONE)
    again = reimport(person, settings)
    with person.ctx.db.session() as s:
        assert consents(s, [again, person.control], "marketing", "sms", True) == {
            again: False,
            person.control: True,
        }
        assert consent_decisions(s, [again], "marketing", "email", True) == {again: "do_not_contact"}
        assert consents(s, [again], "service", "sms", True) == {again: True}


def test_other_identifier_types_match_through_the_keyring(person: Person, settings: Settings) -> None:
    Cli(cli_env(settings)).json("contacts", "delete", PHONE)
    client = Siyu(person.ctx)
    client.identify({"wechat_unionid": UNIONID}, {"name": "x"})
    cid = client.contact(f"wechat_unionid:{UNIONID}")["id"]
    with person.ctx.db.session() as s:
        assert consents(s, [cid], "marketing", "wecom", True, keyring=person.ctx.keyring) == {cid: False}


def test_the_list_holds_no_clear_value_and_can_be_managed(person: Person, settings: Settings) -> None:
    cli = Cli(cli_env(settings))
    cli.json("contacts", "delete", PHONE)
    entries = cli.json("privacy", "dnc")
    assert {e["type"] for e in entries} == {"phone", "email", "wechat_unionid"}
    with person.ctx.db.session() as s:
        rows = s.scalars(select(DoNotContact)).all()
        assert all(PHONE not in r.lookup and len(r.lookup) == 64 for r in rows)
    phone = next(e for e in entries if e["type"] == "phone")
    cli("privacy", "dnc-remove", str(phone["id"]))
    assert "no do-not-contact entry" in cli.fails("privacy", "dnc-remove", str(phone["id"]))
    again = reimport(person, settings)
    with person.ctx.db.session() as s:
        assert consents(s, [again], "marketing", "sms", True) == {again: True}


def test_an_sms_unsubscribe_lists_the_person_for_sms_only(person: Person) -> None:
    with person.ctx.db.session() as s:
        profiles = person.ctx.profiles(s)
        got = record_inbound(
            s,
            profiles,
            person.ctx.parser,
            [Inbound(channel="sms", phone=PHONE_E164, text="TD", at=utcnow(), provider_message_id="m1")],
        )
        assert got.unsubscribed == 1
    with person.ctx.db.session() as s:
        rows = s.scalars(select(DoNotContact)).all()
        assert {(r.channel, r.reason) for r in rows} == {("sms", "unsubscribed")}
        assert consent_decisions(s, [person.survivor], "marketing", "sms", True) == {
            person.survivor: "no_consent"
        }
        assert consents(s, [person.survivor], "marketing", "email", True) == {person.survivor: True}
