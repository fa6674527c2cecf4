"""Console text: every key in both languages with the same placeholders, defined once, and
every key the pages and templates use exists (a missing key would be a blank or a crash)."""

from __future__ import annotations

import re
import string
from pathlib import Path

from siyu.console import texts
from siyu.console.texts import LANGUAGES, MODULES, TEXT

CONSOLE = Path(texts.__file__).resolve().parents[1]
#: literal keys only: ``t('stage_' ~ name)`` builds its key at run time
USE = re.compile(r"""\b(?:t|tr)\(\s*['"]([a-z0-9_]+)['"]\s*[,)]""")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_in_both_languages_with_the_same_placeholders() -> None:
    problems = []
    for key, by_lang in TEXT.items():
        if set(by_lang) != set(LANGUAGES) or not all(v.strip() for v in by_lang.values()):
            problems.append((key, "missing language"))
        elif _fields(by_lang["zh"]) != _fields(by_lang["en"]):
            problems.append((key, "placeholders differ"))
    assert not problems, problems


def test_no_key_is_defined_twice() -> None:
    seen: dict[str, str] = {}
    twice = []
    for module in MODULES:
        for key in module.TEXT:
            if key in seen:
                twice.append((key, seen[key], module.__name__))
            seen[key] = module.__name__
    assert not twice, twice


def test_every_key_used_exists() -> None:
    sources = [*CONSOLE.glob("*.py"), *(CONSOLE / "templates").glob("*.html")]
    used = {(m.group(1), p.name) for p in sources for m in USE.finditer(p.read_text(encoding="utf-8"))}
    missing = sorted((key, where) for key, where in used if key not in TEXT)
    assert used and not missing, missing


def test_every_provider_field_is_documented_in_chinese() -> None:
    """A field an adapter adds must reach the providers page in Chinese (and a removed one
    must not linger in the table)."""
    from siyu.channels.base import PROVIDER_KINDS
    from siyu.channels.providers import adapter_class
    from siyu.console.texts.provider_fields import PROVIDER_FIELDS_ZH

    for kind in PROVIDER_KINDS:
        cls = adapter_class(kind)
        assert set(PROVIDER_FIELDS_ZH.get(kind, {})) == {*cls.CONFIG_FIELDS, *cls.SECRET_FIELDS}, kind
    assert set(PROVIDER_FIELDS_ZH) == set(PROVIDER_KINDS)


def test_every_audit_action_written_reads_in_chinese() -> None:
    """Each literal action passed to ``audit.record`` under src/ reads as a label, not a code."""
    from tests.console.zh_checker import problems_in

    from siyu.console.texts.audit import action

    src = CONSOLE.parent
    literal = re.compile(r"""audit\.record\(\s*[^,]+,\s*[^,]+,\s*["']([a-z_]+(?:\.[a-z_]+)?)["']""", re.S)
    actions = {m.group(1) for p in src.rglob("*.py") for m in literal.finditer(p.read_text(encoding="utf-8"))}
    assert len(actions) > 20
    unread = {a: str(action(a, "zh")) for a in actions if problems_in(str(action(a, "zh")))}
    assert not unread, unread
    assert str(action("POST /api/v1/segments", "zh")) == '提交 <code translate="no">/api/v1/segments</code>'
