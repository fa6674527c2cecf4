"""What a contacts import tells the operator about rows it imported: values it left out, and rows
of the same file that turn out to be one person.

* **A bad identifier in a row with a good one.** ``手机 12345`` next to a valid email: the row is
  imported by its email and the phone is reported (row, column, why) rather than the whole row
  refused. A row whose only identifiers are bad is still rejected, naming the field.
* **Rows that merge.** A row sharing an identifier with an earlier row of the file is the same
  contact: reported as "same phone as row 3". When such rows disagree on a trait (姓名 王小明 in
  row 3, 吴十 in row 7), the later row's value is the contact's, as for any newer write, and the
  report says so; the earlier value is not lost: every row is an identify event carrying its
  traits, which is the contact's trait history (``siyu.profiles.history``).

Rows are compared through the identifiers as resolution sees them (normalised, so ``138 0013
8000`` and ``+86 13800138000`` match). The memory this takes is bounded: after
``MAX_TRACKED`` identifiers a very large file is no longer compared (and the report says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from siyu.ingest.columns import ColumnPlan
from siyu.ingest.messages import Message
from siyu.profiles.identifiers import (
    IDENTIFIER_PRIORITY,
    BlockedIdentifier,
    IdentifierError,
    IdentifierParser,
)

MAX_TRACKED = 2_000_000


@dataclass
class RowChecker:
    parser: IdentifierParser
    plans: list[ColumnPlan]
    #: identifier → the first row that carried it
    _seen: dict[Any, int] = field(default_factory=dict)
    #: row → the row it was found to be one person with (union-find over row numbers)
    _parent: dict[int, int] = field(default_factory=dict)
    #: group's first row → trait → (value, row that set it)
    _traits: dict[int, dict[str, tuple[Any, int]]] = field(default_factory=dict)
    overflowed: bool = False

    def __post_init__(self) -> None:
        self._column: dict[str, str] = {}
        for p in self.plans:
            self._column.setdefault(p.field, p.column)

    def column(self, fld: str) -> str:
        """The file's column a field came from, as the operator named it."""
        return self._column.get(fld, fld)

    # --- before validation ------------------------------------------------------------------
    def keep_good_identifiers(self, line: int, call: Any) -> list[dict[str, Any]]:
        """Leave the bad identifiers out of a row that has a good one (the call is changed in
        place); notes for each value left out."""
        ids = call.get("identifiers") if isinstance(call, dict) else None
        if not isinstance(ids, dict) or sum(len(v) if isinstance(v, list) else 1 for v in ids.values()) < 2:
            return []  # one identifier: validation accepts or rejects the row as it is
        bad: dict[str, str] = {}
        kept: dict[str, list[Any]] = {}
        good = 0
        for kind, given in ids.items():
            for value in given if isinstance(given, list) else [given]:
                try:
                    self.parser.parse(kind, value)
                    good += 1
                except BlockedIdentifier:
                    pass  # a placeholder (0, null…): ignored by validation, neither good nor bad
                except IdentifierError as exc:
                    bad[kind] = exc.reason
                    continue
                kept.setdefault(kind, []).append(value)
        if not bad or not good:
            return []
        for kind in bad:
            if kind in kept:
                ids[kind] = kept[kind] if len(kept[kind]) > 1 else kept[kind][0]
            else:
                del ids[kind]
        return [
            {
                "line": line,
                "field": self.column(kind),
                "kind": "invalid_value",
                "reason": f"{kind}: {reason}; the row was imported without it",
            }
            for kind, reason in bad.items()
        ]

    # --- after validation -------------------------------------------------------------------
    def _find(self, row: int) -> int:
        while self._parent.get(row, row) != row:
            self._parent[row] = self._parent.get(self._parent[row], self._parent[row])
            row = self._parent[row]
        return row

    def same_person(self, line: int, msg: Message) -> list[dict[str, Any]]:
        """Notes when this row is one person with earlier rows, and for the traits they
        disagree on."""
        if self.overflowed:
            return []
        ids = sorted(msg.identifiers, key=lambda i: -IDENTIFIER_PRIORITY.get(i.type, 0))
        notes: list[dict[str, Any]] = []
        groups: list[int] = []
        for ident in ids:
            first = self._seen.get(ident)
            if first is None:
                self._seen[ident] = line
                continue
            root = self._find(first)
            if root in groups:
                continue
            groups.append(root)
            if len(groups) == 1:
                notes.append(
                    {
                        "line": line,
                        "field": self.column(ident.type),
                        "kind": "same_contact",
                        "other_line": first,
                        "via": ident.type,
                        "reason": f"same {ident.type} as row {first}: both rows are one contact",
                    }
                )
        if len(self._seen) > MAX_TRACKED:
            self.overflowed = True
            self._seen.clear()
            self._parent.clear()
            self._traits.clear()
            return notes
        if not groups:
            self._traits[line] = {k: (v, line) for k, v in (msg.traits or {}).items()}
            return notes
        root = min(groups)
        traits = self._traits.setdefault(root, {})
        for other in groups:
            if other != root:
                self._parent[other] = root
                for k, v in self._traits.pop(other, {}).items():
                    traits.setdefault(k, v)
        self._parent[line] = root
        for name, value in (msg.traits or {}).items():
            before = traits.get(name)
            if before is not None and before[0] != value:
                notes.append(
                    {
                        "line": line,
                        "field": self.column(name),
                        "kind": "conflict",
                        "other_line": before[1],
                        "previous": before[0],
                        "value": value,
                        "reason": (
                            f"{before[0]} (row {before[1]}) → {value}: this row's value is kept, "
                            "the earlier one stays in the contact's trait history"
                        ),
                    }
                )
            traits[name] = (value, line)
        return notes


__all__ = ["MAX_TRACKED", "RowChecker"]
