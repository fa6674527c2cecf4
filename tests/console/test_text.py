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
