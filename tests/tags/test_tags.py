"""Tagging (docs/tags.md): the catalogue, bulk add/remove with history and system events,
reinforcement and decay, exclusive groups, merged contacts and bad input."""

from __future__ import annotations

import math
import random

import pytest

from siyu.tags.service import TagError, TagNotFound

# --- catalogue ------------------------------------------------------------------------------------


def test_groups_and_tags_are_created_and_listed(kit) -> None:
    with kit.tags() as svc:
        group = svc.create_group({"name": "兴趣", "description": "interests", "exclusive": False})
        assert (group.name, group.description, group.exclusive) == ("兴趣", "interests", False)
        tea = svc.create_tag({"key": "兴趣/奶茶", "half_life_days": 30})
        assert tea.group_id == group.id and tea.name == "奶茶"
        svc.create_tag({"key": "vip"})
        svc.create_tag({"key": "age/18-24"})  # its group is created on demand
    with kit.tags() as svc:
        listed = svc.list()
        assert svc.repo.group("age") is not None
    assert listed == [
        {"key": "age/18-24", "name": "18-24", "group": "age", "half_life_days": None, "contacts": 0},
        {"key": "vip", "name": "vip", "group": None, "half_life_days": None, "contacts": 0},
        {"key": "兴趣/奶茶", "name": "奶茶", "group": "兴趣", "half_life_days": 30.0, "contacts": 0},
    ]


def test_duplicates_are_rejected(kit) -> None:
    with kit.tags() as svc:
        svc.create_group({"name": "interest"})
        svc.create_tag({"key": "interest/tea"})
    with pytest.raises(TagError, match="tag 'interest/tea' already exists"), kit.tags() as svc:
        svc.create_tag({"key": "interest/tea", "half_life_days": 3})
    with pytest.raises(TagError, match="tag group 'interest' already exists"), kit.tags() as svc:
        svc.create_group({"name": "interest", "exclusive": True})
    with kit.tags() as svc:
        assert [(t["key"], t["half_life_days"]) for t in svc.list()] == [("interest/tea", None)]
        assert svc.repo.group("interest").exclusive is False


@pytest.mark.parametrize(
    "key",
    ["", "a/b/c", "/tea", "interest/", " vip", "vip ", "x" * 101, "g/" + "n" * 101, "tab\tkey", "new\nline"],
    ids=[
        "empty",
        "two-slashes",
        "no-group",
        "no-name",
        "lead-space",
        "trail-space",
        "long",
        "long-name",
        "tab",
        "newline",
    ],
)
def test_invalid_tag_keys_are_rejected_with_the_field_named(kit, key: str) -> None:
    with pytest.raises(TagError) as exc, kit.tags() as svc:
        svc.create_tag({"key": key})
    assert str(exc.value).startswith("key: tag key ")
    assert "`name` or `group/name`" in str(exc.value)
    with kit.tags() as svc:
        assert svc.list() == []
        assert svc.repo.groups() == []


@pytest.mark.parametrize(
    ("model", "spec", "field"),
    [
        ("tag", {"key": "t", "half_life_days": 0}, "half_life_days"),
        ("tag", {"key": "t", "half_life_days": -2}, "half_life_days"),
        ("tag", {"key": "t", "colour": "red"}, "colour"),
        ("group", {"name": ""}, "name"),
        ("group", {"name": "a/b"}, "name"),
        ("group", {"name": "g", "exclusive": "maybe"}, "exclusive"),
    ],
)
def test_invalid_specs_name_their_field(kit, model: str, spec: dict, field: str) -> None:
    with pytest.raises(TagError) as exc, kit.tags() as svc:
        (svc.create_tag if model == "tag" else svc.create_group)(spec)
    assert str(exc.value).split(":")[0] == field


# --- applying and removing --------------------------------------------------------------------------


def test_bulk_apply_and_remove_record_history_and_events_once(kit) -> None:
    ids = kit.people("u1", "u2", "u3")
    a, b, c = ids["u1"], ids["u2"], ids["u3"]
    with kit.tags() as svc:
        svc.create_tag({"key": "vip"})
        res = svc.apply("vip", [c, a, b], source="manual", at=kit.day(2))
    assert (res.added, res.reinforced, res.unchanged, res.unknown_contacts) == (3, 0, 0, [])
    assert [(ch["contact"], ch["action"], ch["source"], ch["at"], ch["weight"]) for ch in kit.changes()] == [
        (cid, "added", "manual", kit.day(2), 1.0) for cid in sorted([a, b, c])
    ]
    assert sorted(kit.tag_events()) == [
        (cid, "tag.added", {"tag": "vip", "source": "manual"}) for cid in sorted([a, b, c])
    ]

    # the same call again, without a weight: nothing changes, nothing is recorded or raised
    with kit.tags() as svc:
        again = svc.apply("vip", [a, b, c], source="manual", at=kit.day(3))
    assert (again.added, again.reinforced, again.unchanged) == (0, 0, 3)
    assert len(kit.changes()) == 3 and len(kit.tag_events()) == 3
    assert kit.holdings() == {(cid, "vip"): (1.0, "manual") for cid in (a, b, c)}

    with kit.tags() as svc:
        removed = svc.remove("vip", [b, a], source="segment", at=kit.day(4))
    assert (removed.removed, removed.unchanged, removed.unknown_contacts) == (2, 0, [])
    assert [(ch["contact"], ch["action"], ch["source"], ch["at"]) for ch in kit.changes()[3:]] == [
        (a, "removed", "segment", kit.day(4)),
        (b, "removed", "segment", kit.day(4)),
    ]
    assert sorted(e for e in kit.tag_events() if e[1] == "tag.removed") == [
        (cid, "tag.removed", {"tag": "vip", "source": "segment"}) for cid in sorted([a, b])
    ]
    with kit.tags() as svc:
        twice = svc.remove("vip", [a, b], source="segment")
    assert (twice.removed, twice.unchanged) == (0, 2)
    assert len(kit.changes()) == 5 and len(kit.tag_events()) == 5
    assert set(kit.holdings()) == {(c, "vip")}
    with kit.tags() as svc:
        assert [(h["action"], h["source"], h["at"]) for h in svc.history(a)] == [
            ("added", "manual", kit.day(2).isoformat()),
            ("removed", "segment", kit.day(4).isoformat()),
        ]
        assert [t["key"] for t in svc.list() if t["contacts"] == 1] == ["vip"]


def test_unknown_contacts_are_reported_and_the_others_tagged(kit) -> None:
    ids = kit.people("u1", "u2", "u3")
    missing = max(ids.values()) + 1000
    with kit.tags() as svc:
        res = svc.apply("vip", [ids["u1"], missing, ids["u2"]], create=True)
    assert (res.added, res.unknown_contacts) == (2, [missing])
    # through the Python API, with identifiers: one unknown phone, two ways to name a contact
    out = kit.client.tags.apply(
        "vip", [kit.phones["u3"], "+8613000000999", "customer_no:u1", "u2@example.com"], weight=None
    )
    assert (out["added"], out["unchanged"]) == (1, 2)
    assert [m["contact"] for m in out["not_found"]] == ["+8613000000999"]
    assert "+8613000000999" in out["not_found"][0]["error"]
    assert set(kit.holdings()) == {(cid, "vip") for cid in ids.values()}
    with kit.tags() as svc:
        gone = svc.remove("vip", [missing, ids["u1"]])
    assert (gone.removed, gone.unknown_contacts) == (1, [missing])
    with pytest.raises(TagNotFound, match="unknown tag 'nope'"), kit.tags() as svc:
        svc.apply("nope", [ids["u1"]])


@pytest.mark.parametrize("source", ["bogus", "", "MANUAL"])
def test_invalid_source_is_rejected_and_nothing_written(kit, source: str) -> None:
    ids = kit.people("u1")
    with kit.tags() as svc:
        svc.create_tag({"key": "vip"})
    with pytest.raises(TagError, match="unknown tag source"), kit.tags() as svc:
        svc.apply("vip", [ids["u1"]], source=source)
    with pytest.raises(TagError, match="unknown tag source"), kit.tags() as svc:
        svc.remove("vip", [ids["u1"]], source=source)
    assert kit.holdings() == {} and kit.changes() == [] and kit.tag_events() == []


@pytest.mark.parametrize("source", ["manual", "rule", "keyword", "import", "journey", "segment"])
def test_every_documented_source_is_recorded(kit, source: str) -> None:
    ids = kit.people("u1")
    with kit.tags() as svc:
        svc.apply("vip", [ids["u1"]], source=source, create=True)
    assert [(c["source"], c["action"]) for c in kit.changes()] == [(source, "added")]
    assert kit.tag_events() == [(ids["u1"], "tag.added", {"tag": "vip", "source": source})]


# --- weights and decay ------------------------------------------------------------------------------


def test_reinforcement_sums_decayed_contributions(kit) -> None:
    cid = kit.people("u1")["u1"]
    half = 10.0
    contributions = [(2.0, kit.day(0)), (3.0, kit.day(5)), (4.0, kit.day(2)), (1.0, kit.day(20))]
    with kit.tags() as svc:
        svc.create_tag({"key": "interest/tea", "half_life_days": half})
        svc.create_tag({"key": "loyal"})  # no half-life: contributions simply add up
    for n, (w, at) in enumerate(contributions):
        with kit.tags() as svc:
            res = svc.apply("interest/tea", [cid], weight=w, at=at)
            plain = svc.apply("loyal", [cid], weight=w, at=at)
        assert (res.added, res.reinforced) == ((1, 0) if n == 0 else (0, 1))
        assert (plain.added, plain.reinforced) == ((1, 0) if n == 0 else (0, 1))
    for at in (kit.day(20), kit.day(33.5), kit.day(400)):
        got = kit.weights(cid, at)
        assert got["interest/tea"] == pytest.approx(kit.expected_weight(contributions, at, half), abs=1e-6)
        assert got["loyal"] == pytest.approx(10.0)
    # e.g. at day 20: 2·2^-2 + 3·2^-1.5 + 4·2^-1.8 + 1
    assert kit.weights(cid, kit.day(20))["interest/tea"] == pytest.approx(
        0.5 + 3 * 2**-1.5 + 4 * 2**-1.8 + 1, abs=1e-6
    )
    changes = [c for c in kit.changes() if c["tag"] == "interest/tea"]
    assert [c["action"] for c in changes] == ["added", "weighted", "weighted", "weighted"]
    assert [c["at"] for c in changes] == [at for _, at in contributions]
    # a tag.added event for the addition only; applying without a weight changes nothing
    assert [e[1] for e in kit.tag_events() if e[2]["tag"] == "interest/tea"] == ["tag.added"]
    before = (kit.holdings(), len(kit.changes()), len(kit.tag_events()))
    with kit.tags() as svc:
        assert svc.apply("interest/tea", [cid], at=kit.day(30)).unchanged == 1
    assert (kit.holdings(), len(kit.changes()), len(kit.tag_events())) == before


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_contribution_orders_match_the_formula(kit, seed: int) -> None:
    rng = random.Random(seed)
    ids = kit.people("u1", "u2", "u3", "u4")
    half = rng.choice([1.5, 7.0, 30.0])
    with kit.tags() as svc:
        svc.create_tag({"key": "score", "half_life_days": half})
    plan = {
        cid: [(round(rng.uniform(0.1, 5), 3), kit.day(rng.uniform(0, 60))) for _ in range(rng.randint(1, 6))]
        for cid in ids.values()
    }
    steps = [(cid, w, at) for cid, items in plan.items() for w, at in items]
    rng.shuffle(steps)  # contributions arrive out of time order and interleaved
    for cid, w, at in steps:
        with kit.tags() as svc:
            svc.apply("score", [cid], weight=w, at=at)
    for at in (kit.day(60), kit.day(75.25)):
        for cid, items in plan.items():
            assert kit.weights(cid, at)["score"] == pytest.approx(
                kit.expected_weight(items, at, half), rel=1e-6, abs=1e-6
            ), (cid, items)


def test_two_ids_of_one_merged_contact_in_one_call_add_both_contributions(kit) -> None:
    survivor = kit.people("u1")["u1"]
    absorbed = kit.anonymous("dev-1", "old@example.com")
    kit.link("u1", "old@example.com")
    assert kit.merged_into(absorbed) == survivor
    with kit.tags() as svc:
        svc.create_tag({"key": "score"})
        res = svc.apply("score", [survivor, absorbed], weight=2.0, at=kit.day(3))
    assert (res.added, res.unknown_contacts) == (1, [])
    assert kit.holdings() == {(survivor, "score"): (4.0, "manual")}
    assert kit.tag_events() == [(survivor, "tag.added", {"tag": "score", "source": "manual"})]


@pytest.mark.parametrize("weight", [-5.0, math.nan, math.inf])
def test_weights_that_are_not_positive_numbers_are_rejected(kit, weight: float) -> None:
    """Every other entry point refuses them (REST ``gt=0``, CSV "not a positive number", rules
    ``gt=0``); the service must too, or a NaN or negative weight reaches segments' min_weight."""
    cid = kit.people("u1")["u1"]
    with kit.tags() as svc:
        svc.create_tag({"key": "score"})
    with pytest.raises(TagError), kit.tags() as svc:
        svc.apply("score", [cid], weight=weight)
    assert kit.holdings() == {}


# --- exclusive groups ---------------------------------------------------------------------------------


def test_exclusive_group_keeps_one_tag_and_records_the_removals(kit) -> None:
    ids = kit.people("u1", "u2")
    a, b = ids["u1"], ids["u2"]
    with kit.tags() as svc:
        svc.create_group({"name": "年龄段", "exclusive": True})
        for key in ("年龄段/18-24", "年龄段/25-34", "interest/tea", "interest/coffee"):
            svc.create_tag({"key": key})
        svc.apply("年龄段/18-24", [a], at=kit.day(1))
        svc.apply("interest/tea", [a], at=kit.day(1))
    with kit.tags() as svc:
        svc.apply("interest/coffee", [a], at=kit.day(1))  # a plain group keeps both
        res = svc.apply("年龄段/25-34", [a, b], source="rule", at=kit.day(2))
    assert res.added == 2
    assert set(kit.holdings()) == {
        (a, "年龄段/25-34"),
        (a, "interest/tea"),
        (a, "interest/coffee"),
        (b, "年龄段/25-34"),
    }
    removal = [c for c in kit.changes() if c["action"] == "removed"]
    assert [(c["contact"], c["tag"], c["source"]) for c in removal] == [(a, "年龄段/18-24", "rule")]
    assert "年龄段/25-34" in removal[0]["detail"]
    assert [e for e in kit.tag_events() if e[1] == "tag.removed"] == [
        (a, "tag.removed", {"tag": "年龄段/18-24", "source": "rule"})
    ]
    with kit.tags() as svc:  # again: nothing to remove
        svc.apply("年龄段/25-34", [a], source="rule")
    assert len([c for c in kit.changes() if c["action"] == "removed"]) == 1


# --- merged contacts --------------------------------------------------------------------------------


def test_tagging_an_absorbed_contact_tags_its_survivor(kit) -> None:
    survivor = kit.people("u1")["u1"]
    absorbed = kit.anonymous("dev-1", "old@example.com")
    kit.link("u1", "old@example.com")
    assert kit.merged_into(absorbed) == survivor
    with kit.tags() as svc:
        res = svc.apply("vip", [absorbed], create=True, at=kit.day(5))
    assert (res.added, res.unknown_contacts) == (1, [])
    out = kit.client.tags.apply("vip-2", [f"id:{absorbed}"], create=True)
    assert (out["added"], out["not_found"]) == (1, [])
    assert set(kit.holdings()) == {(survivor, "vip"), (survivor, "vip-2")}
    assert {c["contact"] for c in kit.changes()} == {survivor}
    assert {e[0] for e in kit.tag_events()} == {survivor}
    with kit.tags() as svc:
        gone = svc.remove("vip", [absorbed])
    assert gone.removed == 1 and set(kit.holdings()) == {(survivor, "vip-2")}


def test_merging_two_holders_keeps_the_survivors_holding(kit) -> None:
    survivor = kit.people("u1")["u1"]
    absorbed = kit.anonymous("dev-1", "old@example.com")
    with kit.tags() as svc:
        svc.create_tag({"key": "interest/tea", "half_life_days": 30})
        svc.apply("interest/tea", [survivor], weight=5.0, source="manual", at=kit.day(1))
        svc.apply("interest/tea", [absorbed], weight=1.0, source="import", at=kit.day(2))
        svc.apply("only-absorbed", [absorbed], source="import", create=True, at=kit.day(2))
    kit.link("u1", "old@example.com")
    assert kit.merged_into(absorbed) == survivor
    assert kit.holdings() == {
        (survivor, "interest/tea"): (5.0, "manual"),
        (survivor, "only-absorbed"): (1.0, "import"),
    }
    assert kit.weights(survivor, kit.day(31)) == {
        "interest/tea": pytest.approx(2.5, abs=1e-6),
        "only-absorbed": 1.0,
    }


def test_merging_holders_of_an_exclusive_group_leaves_one_tag_of_it(kit) -> None:
    """docs/tags.md: an exclusive group lets a contact hold one of its tags at a time. A merge
    moves the absorbed contact's tags to the survivor; it must not leave two of the group."""
    survivor = kit.people("u1")["u1"]
    absorbed = kit.anonymous("dev-1", "old@example.com")
    with kit.tags() as svc:
        svc.create_group({"name": "age", "exclusive": True})
        svc.apply("age/18-24", [survivor], create=True, at=kit.day(1))
        svc.apply("age/25-34", [absorbed], create=True, at=kit.day(1))
    kit.link("u1", "old@example.com")
    held = sorted(k for c, k in kit.holdings() if c == survivor and k.startswith("age/"))
    assert len(held) == 1, f"survivor holds {held} of the exclusive group 'age'"


@pytest.mark.postgresql_only("SQLite has one writer at a time: the second transaction waits for the first")
def test_two_writers_creating_the_same_tag_on_demand_both_succeed(ctx) -> None:
    """Journey workers and rule runs create tags on demand; the loser of the race uses the
    winner's tag instead of failing (PostgreSQL: the second INSERT waits, then conflicts)."""
    import threading

    from siyu.tags.service import TagService

    first, second = ctx.db.sessionmaker(), ctx.db.sessionmaker()
    got: list[int] = []

    def later() -> None:
        got.append(TagService(second).tag("race/vip", create=True).id)
        second.commit()

    try:
        got.append(TagService(first).tag("race/vip", create=True).id)
        thread = threading.Thread(target=later)
        thread.start()
        thread.join(0.3)
        first.commit()
        thread.join(10)
        assert not thread.is_alive()
    finally:
        first.close()
        second.close()
    assert len(got) == 2 and got[0] == got[1]
