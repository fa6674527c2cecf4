"""docs/roles.md must embed the permission matrix exactly as the code defines it, and explain the
settings that govern sessions and sign-in."""

from __future__ import annotations

import re
from pathlib import Path

from siyu.auth.roles import ROLES, matrix_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "roles.md"
REGENERATE = (
    "docs/roles.md's permission matrix differs from siyu.auth.roles; regenerate it: replace the lines "
    "between <!-- matrix:start --> and <!-- matrix:end --> with the output of `python -m siyu.auth`"
)


def embedded_matrix(text: str) -> str:
    found = re.search(r"<!-- matrix:start -->\n(.*?)<!-- matrix:end -->", text, re.S)
    assert found, "docs/roles.md lacks the <!-- matrix:start --> … <!-- matrix:end --> markers"
    return found.group(1)


def test_the_docs_matrix_is_the_codes_matrix() -> None:
    assert embedded_matrix(DOC.read_text(encoding="utf-8")) == matrix_markdown(), REGENERATE


def test_a_changed_matrix_would_be_caught() -> None:
    """The comparison is exact: one mark more or less fails it."""
    doc = embedded_matrix(DOC.read_text(encoding="utf-8"))
    tampered = doc.replace("| `pii.export` | ✔ |  |", "| `pii.export` | ✔ | ✔ |", 1)
    assert tampered != doc and tampered != matrix_markdown()


def test_the_doc_names_every_role_and_the_security_settings() -> None:
    text = DOC.read_text(encoding="utf-8")
    for role in ROLES:
        assert f"`{role}`" in text, role
    for setting in (
        "SIYU_LOGIN_MAX_FAILURES",
        "SIYU_LOGIN_WINDOW_S",
        "SIYU_SESSION_HOURS",
        "SIYU_SECURE_COOKIES",
    ):
        assert setting in text, setting
    assert "CSRF" in text and "shown **once**" in text and "hash" in text
