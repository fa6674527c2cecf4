"""Rule-based tagging (docs/tags.md "Rules"): event rules with property filters and tag
templates, keyword rules (jieba for Chinese, word boundaries for English), weights with decay,
the cursor and the 5-second settling horizon, disabled rules and invalid specs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from siyu.tags.service import TagError, TagNotFound


def event_rule(name: str, event: str, tag: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "rule": {"kind": "event", "event": event, "tag": tag, **extra}}


def keyword_rule(name: str, keywords: list[str], tag: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "rule": {"kind": "keyword", "keywords": keywords, "tag": tag, **extra}}


def create(kit, *specs: dict[str, Any]) -> None:
    with kit.rules() as svc:
        for spec in specs:
            svc.create(spec)


def tagged(kit) -> dict[tuple[int, str], float]:
    return {k: w for k, (w, _) in kit.holdings().items()}


# --- event rules ------------------------------------------------------------------------------------


def test_event_rule_filters_and_tag_templates(kit) -> None:
    ids = kit.people("u1", "u2", "u3")
    create(
        kit,
        event_rule(
            "clicks",
            "Content Clicked",
            "interest/{category}",
            where=[
                {"property": "category", "op": "in", "value": ["deals", "tea_knowledge", "a/b", ""]},
                {"property": "price", "op": "gte", "value": 10},
            ],
        ),
        event_rule("brands", "Product Viewed", "brand/{brand}"),
    )
    t = kit.day
    kit.send(
        [
            kit.track("u1", "Content Clicked", t(1), category="deals", price=12),
            kit.track("u1", "Content Clicked", t(2), category="deals", price="15"),  # numeric text
            kit.track("u1", "Content Clicked", t(3), category="tea_knowledge", price=10),
            kit.track("u1", "Content Clicked", t(4), category="deals", price=5),  # price filter
            kit.track("u1", "Content Clicked", t(5), category="other", price=99),  # not in the list
            kit.track("u1", "Content Clicked", t(6), category="a/b", price=20),  # '/' → no tag
            kit.track("u1", "Content Clicked", t(7), category="", price=20),  # empty → no tag
            kit.track("u1", "Order Completed", t(8), category="deals", price=50),  # other event
            kit.track("u2", "Content Clicked", t(1), price=50),  # no category
            kit.track("u3", "Content Clicked", t(1), category="deals"),  # no price
            kit.track("u2", "Product Viewed", t(2), brand="nike"),
            kit.track("u2", "Product Viewed", t(3), brand="up/down"),
            kit.track("u2", "Product Viewed", t(4), brand=""),
            kit.track("u3", "Product Viewed", t(4), brand=None),
            kit.track("u3", "Product Viewed", t(5), sku="x"),
        ]
    )
    run = kit.run_rules(kit.settled_now())
    assert run.events == 15 - 1  # every Content Clicked / Product Viewed event was read
    assert tagged(kit) == {
        (ids["u1"], "interest/deals"): 2.0,
        (ids["u1"], "interest/tea_knowledge"): 1.0,
        (ids["u2"], "brand/nike"): 1.0,
    }
    assert {(c["contact"], c["tag"], c["action"], c["source"]) for c in kit.changes()} == {
        (ids["u1"], "interest/deals", "added", "rule"),
        (ids["u1"], "interest/tea_knowledge", "added", "rule"),
        (ids["u2"], "brand/nike", "added", "rule"),
    }
    assert sorted((c, p["tag"]) for c, e, p in kit.tag_events() if e == "tag.added") == sorted(
        [(ids["u1"], "interest/deals"), (ids["u1"], "interest/tea_knowledge"), (ids["u2"], "brand/nike")]
    )


@pytest.mark.parametrize("value", ["line\nbreak", "x" * 99], ids=["control-character", "name-too-long"])
def test_an_unusable_template_value_gives_no_tag_and_blocks_nothing(kit, value: str) -> None:
    """A property value that cannot make a valid tag name (a control character; a name over 100
    characters once the template's text is added) must be skipped like '/' or an empty value,
    not abort the run: otherwise one event stops every rule for good (the cursor never moves)."""
    cid = kit.people("u1")["u1"]
    create(kit, event_rule("clicks", "Content Clicked", "interest/cat-{category}"))
    kit.send(
        [
            kit.track("u1", "Content Clicked", kit.day(1), category="tea"),
            kit.track("u1", "Content Clicked", kit.day(2), category=value),
            kit.track("u1", "Content Clicked", kit.day(3), category="coffee"),
        ]
    )
    last = kit.received()[-1][0]
    kit.client.tags.run_rules(now=kit.settled_now())
    assert tagged(kit) == {(cid, "interest/cat-tea"): 1.0, (cid, "interest/cat-coffee"): 1.0}
    assert kit.cursor() == last


def test_weights_are_summed_per_firing_with_decay_across_runs(kit) -> None:
    ids = kit.people("u1", "u2")
    half = 10.0
    tea = [{"property": "category", "op": "eq", "value": "tea"}]
    create(
        kit,
        event_rule("tea", "Content Clicked", "interest/tea", where=tea, weight=1.5, half_life_days=half),
        event_rule("tea-2", "Content Clicked", "interest/tea", where=tea, weight=0.5, half_life_days=half),
    )
    first = [1.0, 3.0, 0.0]  # days, out of time order
    second = [10.0, 2.0]  # a later run also brings an event older than the stored weight
    kit.send([kit.track("u1", "Content Clicked", kit.day(d), category="tea") for d in first])
    kit.send([kit.track("u2", "Content Clicked", kit.day(1), category="coffee")])
    kit.run_rules(kit.settled_now())
    kit.send([kit.track("u1", "Content Clicked", kit.day(d), category="tea") for d in second])
    run = kit.run_rules(kit.settled_now())
    assert (run.events, run.matched) == (2, 4)  # two events, two rules each
    contributions = [(w, kit.day(d)) for d in first + second for w in (1.5, 0.5)]
    for at in (kit.day(10), kit.day(12), kit.day(40)):
        assert kit.weights(ids["u1"], at) == {
            "interest/tea": pytest.approx(kit.expected_weight(contributions, at, half), abs=1e-6)
        }
    assert kit.weights(ids["u2"], kit.day(12)) == {}
    with kit.tags() as svc:
        assert [t["half_life_days"] for t in svc.list()] == [half]  # the rule's half-life
    assert [c["action"] for c in kit.changes()] == ["added", "weighted"]


# --- keyword rules ------------------------------------------------------------------------------------


def test_keyword_rules_in_chinese_and_english(kit) -> None:
    uids = [f"k{i}" for i in range(11)]
    ids = kit.people(*uids)
    create(
        kit,
        keyword_rule("tea", ["奶茶", "Milk Tea", "抹茶", "tea"], "interest/tea"),
        keyword_rule("coffee", ["咖啡"], "interest/coffee", event="Review Posted", property="comment"),
    )
    msg = "Message Received"
    t = kit.day(1)
    kit.send(
        [
            kit.track("k0", msg, t, text="我想喝奶茶"),
            kit.track("k1", msg, t, text="Steam sale today"),  # "tea" inside "steam"
            kit.track("k2", msg, t, text="I love TEA!"),  # case-insensitive
            kit.track("k3", msg, t, text="MILK TEA 真好喝"),  # two keywords, one firing
            kit.track("k4", msg, t, text="teapot for sale"),
            kit.track("k5", msg, t, text="抹茶拿铁"),
            kit.track("k6", "Message Sent", t, text="奶茶"),  # not an inbound message
            kit.track("k7", msg, t, text=123, body="奶茶"),  # text is not a string; other property
            kit.track("k8", msg, t, text="tea-time?"),
            kit.track("k9", "Review Posted", t, comment="来杯咖啡", text="奶茶"),
            kit.track("k10", msg, t, text="来杯咖啡"),  # coffee reads Review Posted only
        ]
    )
    kit.run_rules(kit.settled_now())
    by_uid = {uid: sorted(k for (c, k) in tagged(kit) if c == ids[uid]) for uid in uids}
    assert {u: tags for u, tags in by_uid.items() if tags} == {
        "k0": ["interest/tea"],
        "k2": ["interest/tea"],
        "k3": ["interest/tea"],
        "k5": ["interest/tea"],
        "k8": ["interest/tea"],
        "k9": ["interest/coffee"],
    }
    assert set(tagged(kit).values()) == {1.0}
    assert {c["source"] for c in kit.changes()} == {"keyword"}


@pytest.mark.parametrize(
    ("keyword", "text", "matches"),
    [
        ("奶茶", "奶茶店开业了", True),
        ("茶", "茶几很贵", False),  # jieba: 茶几 / 很 / 贵
        ("乌龙", "乌龙茶好喝", False),  # jieba: 乌龙茶 / 好喝 (a rule wanting it lists 乌龙茶)
        ("乌龙茶", "乌龙茶好喝", True),
        ("华人", "海外华人很多", True),
        ("咖啡", "来杯咖啡", True),
        ("华人", "中华人民共和国成立了", False),  # jieba: 中华人民共和国 / 成立 / 了
        ("咖啡", "我只喝无咖啡因的饮料", False),  # jieba: … 无 / 咖啡因 / 的 / 饮料
    ],
)
def test_chinese_keywords_match_whole_words_only(kit, keyword: str, text: str, matches: bool) -> None:
    """docs/tags.md: Chinese keywords "match whole words only". The words are jieba's
    segmentation of the text (shown in the comments); a keyword that is only a piece of a longer
    word (咖啡 inside 咖啡因, caffeine) must not match."""
    cid = kit.people("u1")["u1"]
    create(kit, keyword_rule("kw", [keyword], "kw"))
    kit.send([kit.track("u1", "Message Received", kit.day(1), text=text)])
    kit.run_rules(kit.settled_now())
    assert ((cid, "kw") in tagged(kit)) is matches


def test_keyword_weights_decay(kit) -> None:
    cid = kit.people("u1")["u1"]
    create(kit, keyword_rule("tea", ["奶茶"], "interest/tea", weight=2, half_life_days=7))
    kit.send(
        [
            kit.track("u1", "Message Received", kit.day(0), text="奶茶"),
            kit.track("u1", "Message Received", kit.day(7), text="还想喝奶茶"),
            kit.track("u1", "Message Received", kit.day(8), text="steam"),
        ]
    )
    kit.run_rules(kit.settled_now())
    assert kit.weights(cid, kit.day(14)) == {"interest/tea": pytest.approx(2 * 0.25 + 2 * 0.5, abs=1e-6)}


# --- cursor and settling --------------------------------------------------------------------------------


def test_running_twice_does_not_double_apply_and_new_events_are_picked_up(kit) -> None:
    ids = kit.people("u1", "u2", "u3")
    create(kit, event_rule("buyers", "Order Completed", "buyer"))
    kit.send(
        [
            kit.track("u1", "Order Completed", kit.day(1)),
            kit.track("u1", "Page Viewed", kit.day(1)),
            kit.track("u1", "Order Completed", kit.day(2)),
            kit.track("u2", "Order Completed", kit.day(2)),
        ]
    )
    now = kit.settled_now()
    first = kit.run_rules(now)
    assert (first.events, first.matched) == (3, 3)
    expected = {(ids["u1"], "buyer"): 2.0, (ids["u2"], "buyer"): 1.0}
    assert tagged(kit) == expected
    state = (len(kit.changes()), len(kit.tag_events()), kit.cursor())
    again = kit.run_rules(now)
    assert (again.events, again.matched) == (0, 0)
    assert kit.client.tags.run_rules(now=now)["events"] == 0
    assert tagged(kit) == expected
    assert (len(kit.changes()), len(kit.tag_events()), kit.cursor()) == state

    kit.send([kit.track("u1", "Order Completed", kit.day(3)), kit.track("u3", "Order Completed", kit.day(3))])
    total = kit.client.tags.run_rules(now=kit.settled_now())
    assert (total["events"], total["matched"]) == (2, 2)
    assert tagged(kit) == {**expected, (ids["u1"], "buyer"): 3.0, (ids["u3"], "buyer"): 1.0}
    assert kit.cursor() == kit.received()[-1][0]


def test_events_received_in_the_last_five_seconds_wait(kit) -> None:
    ids = kit.people("u1", "u2")
    create(kit, event_rule("buyers", "Order Completed", "buyer"))
    kit.send([kit.track("u1", "Order Completed", kit.day(1)), kit.track("u1", "Order Completed", kit.day(2))])
    kit.send([kit.track("u2", "Order Completed", kit.day(3))])
    (a1, r_a), (a2, _), (b, _) = kit.received()[-3:]
    kit.set_received([a1, a2], r_a)
    r_b = r_a + timedelta(minutes=1)
    kit.set_received([b], r_b)  # b arrived a minute after the first two

    assert kit.run_rules(r_b + timedelta(seconds=4)).events == 2  # a1, a2 are settled, b is not
    assert kit.cursor() == a2 and tagged(kit) == {(ids["u1"], "buyer"): 2.0}
    assert kit.run_rules(r_b + timedelta(seconds=4.9)).events == 0
    assert kit.cursor() == a2
    assert kit.run_rules(r_b + timedelta(seconds=6)).events == 1
    assert kit.cursor() == b and tagged(kit) == {(ids["u1"], "buyer"): 2.0, (ids["u2"], "buyer"): 1.0}


def test_an_unsettled_event_holds_back_later_ids(kit) -> None:
    """On PostgreSQL a lower id can commit later: the runner stops at the first unsettled id."""
    ids = kit.people("u1", "u2", "u3")
    create(kit, event_rule("buyers", "Order Completed", "buyer"))
    kit.send([kit.track(u, "Order Completed", kit.day(1)) for u in ("u1", "u2", "u3")])
    (e1, r), (e2, _), (e3, _) = kit.received()[-3:]
    kit.set_received([e1, e3], r)
    kit.set_received([e2], r + timedelta(seconds=30))
    assert kit.run_rules(r + timedelta(seconds=10)).events == 1
    assert kit.cursor() == e1 and set(tagged(kit)) == {(ids["u1"], "buyer")}
    assert kit.run_rules(r + timedelta(seconds=36)).events == 2
    assert set(tagged(kit)) == {(ids[u], "buyer") for u in ("u1", "u2", "u3")}


# --- disabled and invalid rules --------------------------------------------------------------------------


def test_disabled_rules_are_ignored(kit) -> None:
    ids = kit.people("u1")
    create(
        kit, event_rule("buyers", "Order Completed", "buyer"), event_rule("clickers", "Clicked", "clicker")
    )
    with kit.rules() as svc:
        svc.set_enabled("clickers", False)
    kit.send([kit.track("u1", "Order Completed", kit.day(1)), kit.track("u1", "Clicked", kit.day(1))])
    kit.run_rules(kit.settled_now())
    assert tagged(kit) == {(ids["u1"], "buyer"): 1.0}
    with kit.rules() as svc:
        assert [(r.name, r.enabled) for r in svc.list()] == [("buyers", True), ("clickers", False)]
        svc.set_enabled("buyers", False)
    kit.send([kit.track("u1", "Order Completed", kit.day(2))])
    cursor = kit.cursor()
    run = kit.run_rules(kit.settled_now())
    assert (run.events, run.matched, kit.cursor()) == (0, 0, cursor)
    assert tagged(kit) == {(ids["u1"], "buyer"): 1.0}
    with pytest.raises(TagNotFound, match="no tag rule 'nope'"), kit.rules() as svc:
        svc.set_enabled("nope", True)


LIKE = [{"property": "p", "op": "like", "value": 1}]
IN_TEXT = [{"property": "p", "op": "in", "value": "x"}]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (event_rule("r", "", "t"), "rule.event.event"),
        (event_rule("r", "E", "t", weight=0), "rule.event.weight"),
        (event_rule("r", "E", "t", weight=-1), "rule.event.weight"),
        (event_rule("r", "E", "a/b/c"), "rule.event.tag"),
        (event_rule("r", "E", "{group}/{a}/x"), "rule.event.tag"),
        (event_rule("r", "E", "t", half_life_days=0), "rule.event.half_life_days"),
        (event_rule("r", "E", "t", where=LIKE), "rule.event.where.0.op"),
        (event_rule("r", "E", "t", where=IN_TEXT), "rule.event.where.0"),
        (event_rule("r", "E", "t", colour="red"), "rule.event.colour"),
        (event_rule("", "E", "t"), "name"),
        (keyword_rule("r", [], "t"), "rule.keyword.keywords"),
        (keyword_rule("r", ["ok", "  "], "t"), "rule.keyword"),
        (keyword_rule("r", ["x" * 51], "t"), "rule.keyword"),
        (keyword_rule("r", ["ok"], "x/"), "rule.keyword.tag"),
        ({"name": "r", "rule": {"kind": "magic", "event": "E", "tag": "t"}}, "rule"),
        ({"name": "r", "rule": {"kind": "event", "event": "E"}}, "rule.event.tag"),
    ],
)
def test_invalid_rule_specs_are_rejected_with_the_field_named(kit, spec: dict[str, Any], field: str) -> None:
    with pytest.raises(TagError) as exc, kit.rules() as svc:
        svc.create(spec)
    assert str(exc.value).split(": ")[0] == field
    with kit.rules() as svc:
        assert svc.list() == []


def test_duplicate_rule_names_are_rejected(kit) -> None:
    create(kit, event_rule("r", "E", "t"))
    with pytest.raises(TagError, match="tag rule 'r' already exists"), kit.rules() as svc:
        svc.create(keyword_rule("r", ["x"], "t"))
    with kit.rules() as svc:
        assert [(r.name, r.kind) for r in svc.list()] == [("r", "event")]
