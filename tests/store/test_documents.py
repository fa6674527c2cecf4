"""The one YAML reader (src/siyu/store/documents.py) and the file reader on top of it
(src/siyu/segments/documents.py), fed what an attacker writes: alias bombs, recursive aliases,
deep nesting, a file holding only a string. No database."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from siyu.segments.documents import read_document
from siyu.segments.schemas import SegmentDefinitionError
from siyu.store.documents import MAX_ALIAS_EXPANSION, DocumentError, load_yaml


def laughs(levels: int, width: int = 9) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    bomb = laughs(9)
    assert len(bomb.encode()) < 500  # the harness's 492-byte file: 9^9 values once expanded
    with pytest.raises(DocumentError, match=r"aliases expand this document by \d+ values \(at most 10000\)"):
        load_yaml(bomb)


def test_reuse_through_a_few_aliases_is_fine() -> None:
    doc = load_yaml(
        "defaults: &d {channel: sms, template: hello}\nsteps:\n  - {id: a, send: *d}\n  - {id: b, send: *d}\n"
    )
    assert doc["steps"][1]["send"] == {"channel": "sms", "template": "hello"}
    just_under = laughs(3, 20)  # 20 + 400 + 8000 values: under the limit
    assert len(load_yaml(just_under)["a2"]) == 20
    assert MAX_ALIAS_EXPANSION < 20**4


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a: &a [*a]\n", "recursive alias"),
        ("a: &a {b: *a}\n", "recursive alias"),
        ("[" * 20000 + "]" * 20000, "nested too deeply"),
    ],
)
def test_recursive_and_deep_documents_are_refused(text: str, reason: str) -> None:
    with pytest.raises(yaml.YAMLError, match=reason):
        load_yaml(text)


def test_only_safe_tags() -> None:
    with pytest.raises(yaml.YAMLError):
        load_yaml("!!python/object/apply:os.system ['echo hi']\n")


def test_a_file_holding_only_a_string_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "real.yaml"
    target.write_text("key: x\n", encoding="utf-8")
    for name, text in (("pointer.yaml", f'"{target}"\n'), ("number.json", "42"), ("null.yaml", "")):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(SegmentDefinitionError, match="expected an object or a list"):
            read_document(path)


def test_files_read_through_the_bounded_reader(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yml"
    bomb.write_text(laughs(9), encoding="utf-8")
    with pytest.raises(SegmentDefinitionError, match=r"bomb\.yml: not valid YAML: aliases expand"):
        read_document(bomb)
    good = tmp_path / "good.yaml"
    good.write_text("key: x\nlist: [1, 2]\n", encoding="utf-8")
    assert read_document(good) == {"key": "x", "list": [1, 2]}
