"""The demo brand as an operator first sees it (``siyu demo`` / ``siyu serve --demo``): Chinese
names, tags, three segments, a template on every channel and three running SOPs, events up to
now; loading it again changes nothing and fails on nothing; another brand's data is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from tests.cli.conftest import Cli, cli_env

from siyu.channels.base import MESSAGE_CHANNELS
from siyu.client import Siyu
from siyu.context import AppContext
from siyu.demo import content, people
from siyu.demo.generator import DemoConfig, load
from siyu.store.models import (
    ContactAttribute,
    ContentTemplate,
    Event,
    Journey,
    Segment,
    SegmentMember,
    Tag,
)

#: Every channel a template can be written for (wecom_tag is a tag sync, not a message).
MESSAGE_KINDS = sorted(set(MESSAGE_CHANNELS) - {"wecom_tag"})


def counts(ctx: AppContext) -> dict[str, int]:
    with ctx.db.session() as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
            for m in (Event, ContactAttribute, ContentTemplate, Journey, Segment, Tag)
        }


def test_demo_has_everything_and_loads_again_without_change(ctx: AppContext) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    first = load(ctx, DemoConfig(contacts=300, days=90, seed=11, end=now))
    assert first["existing"] is False and first["contacts"] > 250
    assert first["created"] == {"tags": 3, "segments": 3, "templates": len(content.TEMPLATES), "journeys": 3}
    with ctx.db.session() as s:
        journeys = {j.key: (j.name, j.status) for j in s.scalars(select(Journey))}
        assert journeys == {
            "new-customer-welcome": ("新客欢迎", "active"),
            "dormant-winback": ("沉睡唤醒", "active"),
            "birthday-care": ("生日关怀", "active"),
        }
        channels = sorted(set(s.scalars(select(ContentTemplate.channel))))
        assert channels == MESSAGE_KINDS
        members = dict(
            s.execute(
                select(Segment.key, func.count(SegmentMember.contact_id))
                .join(SegmentMember, SegmentMember.segment_id == Segment.id, isouter=True)
                .group_by(Segment.key)
            ).all()
        )
        assert set(members) == {"recent-buyers", "high-value", "dormant"} and all(members.values())
        names = s.scalars(select(ContactAttribute.value).where(ContactAttribute.name == "name")).all()
        assert len(names) >= 250 and all(2 <= len(n) <= 3 and n[0] in people.SURNAMES for n in names)
        # the generated behaviour (tagging and segment events that follow are stamped later)
        newest = s.scalar(select(func.max(Event.timestamp)).where(Event.message_id.like("demo11-%")))
        assert newest is not None
        newest = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
        assert now - timedelta(hours=12) < newest <= now  # events run up to now: today has data
    client = Siyu(ctx)
    held = {t["key"]: t["contacts"] for t in client.tags.list()}
    assert set(held) == {"新客", "vip", "沉睡"} and all(held.values()), held

    before = counts(ctx)
    again = load(ctx, DemoConfig(contacts=300, days=90, seed=11, end=now))
    assert again["existing"] is True
    assert again["created"] == {"tags": 0, "segments": 0, "templates": 0, "journeys": 0}
    assert counts(ctx) == before


def test_a_missing_piece_is_restored_and_another_brand_is_refused(ctx: AppContext) -> None:
    client = Siyu(ctx)
    client.identify({"phone": "13800138000"}, {"name": "真实客户"})
    with pytest.raises(ValueError, match="not the demo brand"):
        load(ctx, DemoConfig(contacts=50, days=5, seed=1))
    assert counts(ctx)["journeys"] == 0 and counts(ctx)["content_templates"] == 0


def test_a_deleted_template_comes_back(ctx: AppContext) -> None:
    load(ctx, DemoConfig(contacts=80, days=10, seed=2))
    with ctx.db.session() as s:
        s.delete(s.scalar(select(ContentTemplate).where(ContentTemplate.key == "moment-weekly")))
        s.commit()
    again = load(ctx, DemoConfig(contacts=80, days=10, seed=2))
    assert again["created"]["templates"] == 1
    with ctx.db.session() as s:
        assert "moment-weekly" in set(s.scalars(select(ContentTemplate.key)))


def test_people_are_the_same_for_a_seed() -> None:
    assert people.people(42, 0, 50) == people.people(42, 0, 50)
    assert people.people(42, 0, 50)["name"] != people.people(43, 0, 50)["name"]
    birthdays = people.people(42, 0, 2000)["birthday"]
    assert len({b[5:] for b in birthdays}) > 300  # spread over the year


def test_cli_contract(ctx: AppContext) -> None:
    cli = Cli(cli_env(ctx.settings))
    first = cli.json("demo", "--contacts", "120", "--days", "10")
    assert first["existing"] is False
    second = cli.json("demo", "--contacts", "120", "--days", "10")  # again: no "already exists"
    assert second["existing"] is True and not any(second["created"].values())
    assert len(cli.json("journeys", "list")) >= 3
    assert sorted({t["channel"] for t in cli.json("content", "templates", "list")}) == MESSAGE_KINDS
    assert len(cli.json("segments", "list")) >= 3
    assert len(cli.json("tags", "list")) >= 3
