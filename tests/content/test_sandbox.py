"""Bounds on what one template render may cost (src/siyu/content/sandbox.py), as an attacker
writes templates: nested loops, padding and format widths, doubling strings, unsafe attributes
reached through ``attr``. Each is refused quickly with a reason naming the field, both when the
template is checked (saved or previewed) and when it is rendered. No database."""

from __future__ import annotations

import pytest

from siyu.content.render import render, syntax_error
from siyu.content.sandbox import MAX_BUILT_CHARS, MAX_FIELD_CHARS, MAX_LOOP_ITERATIONS

RUNAWAY = [
    # nested range: 10^8 iterations took 7.6 s per render before the loop budget
    ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}x", "loops ran"),
    ("{% for a in range(100000) %}{{ a }}{% endfor %}", "loops ran"),
    ("{{ 'x'.center(10**9) }}", "width or count"),
    ("{{ 'x'|center(10**9) }}", "width or count"),
    ("{{ 'x'.ljust(999999999) }}", "width or count"),
    ("{{ '%999999999s'|format(1) }}", "format width"),
    ("{{ '%*d'|format(999999999, 1) }}", "width or count"),
    ("{{ '{:>999999999}'.format(1) }}", "format width"),
    ("{{ '{:>{w}}'.format(1, w=999999999) }}", "width or count"),
    ("{{ [1]|slice(10**9)|list }}", "width or count"),
    ("{{ ('x' * 1000)|replace('x', 'y' * 100000) }}", "replacement"),
    # doubling a string kept in a namespace: 2^40 characters without the character budget
    (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s|length }}",
        "built more than",
    ),
    (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
        "{% endfor %}{{ ns.s|length }}",
        "built more than",
    ),
    ("{% for i in range(1000) %}{{ 'x' * 100000 }}{% endfor %}", f"longer than {MAX_FIELD_CHARS}"),
    (
        "{% set x %}{% for i in range(1000) %}{{ 'x' * 100000 }}{% endfor %}{% endset %}{{ x|length }}",
        "built more than",
    ),
]


@pytest.mark.parametrize(("source", "reason"), RUNAWAY)
def test_runaway_templates_fail_with_a_reason_when_rendered_and_when_checked(
    source: str, reason: str
) -> None:
    r = render({"card": {"body": source}, "ok": "你好 {{ name }}"}, {"name": "张三"}, None)
    assert r.content["card"]["body"] == ""
    assert len(r.errors) == 1 and r.errors[0].startswith("card.body: ") and reason in r.errors[0]
    assert r.content["ok"] == "你好 张三"  # the neighbouring field still renders
    problem = syntax_error(source)
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''|attr('__class__') }}",
        "{{ ''|attr('__class__')|default('x') }}",  # used to print 'x' silently
        "{% if ''|attr('__class__') %}y{% endif %}",  # used to print nothing silently
        "{{ (''|attr('__class__'))|length }}",
        "{{ ''['__class__'] }}",
        "{{ ''.__class__.__mro__ }}",
    ],
)
def test_unsafe_attributes_are_errors_however_they_are_reached(source: str) -> None:
    r = render({"text": source}, {}, None)
    assert r.content["text"] == ""
    assert len(r.errors) == 1 and "__class__" in r.errors[0] and "unsafe" in r.errors[0]
    assert syntax_error(source) is not None


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{% for o in orders %}{{ loop.index }}.{{ o }} {% endfor %}", "1.茶 2.壶 "),
        ("{% for o in orders|sort %}{{ o }}{% else %}none{% endfor %}", "壶茶"),
        ("{% for o in [] %}{{ o }}{% else %}none{% endfor %}", "none"),
        ("{{ orders|join('、') }} 共{{ orders|length }}件", "茶、壶 共2件"),
        ("{{ '{:,}'.format(1234567) }} {{ '%d'|format(1234567) }}", "1,234,567 1234567"),
        ("{{ 'ab'|center(6) }}|{{ 'x'|replace('x', 'yy') }}", "  ab  |yy"),
        ("{% filter upper %}vip{% endfilter %}", "VIP"),
        ("{{ 'x' * 3 }}{{ 2 ** 10 }}{{ [1] + [2] }}", "xxx1024[1, 2]"),
        ("{% for i in range(" + str(MAX_LOOP_ITERATIONS) + ") %}{% endfor %}ok", "ok"),
    ],
)
def test_ordinary_templates_are_untouched_by_the_limits(source: str, expected: str) -> None:
    r = render({"text": source}, {"orders": ["茶", "壶"]}, None)
    assert (r.content["text"], r.errors) == (expected, [])
    assert syntax_error(source) is None


def test_the_budget_is_per_field_so_many_fields_each_get_their_own() -> None:
    loop = "{% for i in range(" + str(MAX_LOOP_ITERATIONS // 2 + 1) + ") %}{% endfor %}ok"
    r = render({"a": loop, "b": loop, "c": [loop, loop]}, {}, None)
    assert r.errors == [] and r.content == {"a": "ok", "b": "ok", "c": ["ok", "ok"]}


def test_a_template_that_needs_real_variables_is_not_refused_when_checked() -> None:
    # the check renders without variables: a filter failing on a missing value is fine then
    assert syntax_error("{{ contact.birthday|date('%m月%d日') }} {{ order.amount|money }}") is None
    assert MAX_BUILT_CHARS > MAX_FIELD_CHARS
