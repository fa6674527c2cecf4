"""The one YAML reader of the product (journeys, segments, tags, stages, content, funnels — files,
the console's editors): PyYAML's safe loader, plus a bound on alias expansion.

A safe loader still expands aliases: nine anchors of nine aliases each turn a 492-byte file into
hundreds of millions of values (the "billion laughs"), which the service then stores and serves
back (69 MB in the harness). Aliases are fine for reuse; the values they add beyond the file's
own are counted and the document is refused past ``MAX_ALIAS_EXPANSION``, and a recursive alias
(``&a [*a]``) is refused outright.
"""

from __future__ import annotations

from typing import Any

import yaml

#: Values aliases may add to a document (a journey reusing a step's settings adds a few dozen).
MAX_ALIAS_EXPANSION = 10_000


class DocumentError(yaml.YAMLError):
    """A YAML document refused for its shape, not its syntax (callers catch ``YAMLError``)."""


class _BoundedLoader(yaml.SafeLoader):
    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None:
            distinct: set[int] = set()
            expanded = _size(node, {}, set(), distinct)
            if expanded - len(distinct) > MAX_ALIAS_EXPANSION:
                raise DocumentError(
                    f"aliases expand this document by {expanded - len(distinct)} values "
                    f"(at most {MAX_ALIAS_EXPANSION})"
                )
        return node


def _size(node: yaml.Node, memo: dict[int, int], path: set[int], distinct: set[int]) -> int:
    """Values in ``node`` with every alias expanded (memoised, so counting stays linear)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in path:
        raise DocumentError("a recursive alias (an anchor used inside itself)")
    path.add(key)
    distinct.add(key)
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    else:
        children = []
    total = 1 + sum(_size(child, memo, path, distinct) for child in children)
    path.discard(key)
    memo[key] = total
    return total


def load_yaml(text: str) -> Any:
    """The document in ``text`` (YAML, so JSON too), read safely with bounded aliases.
    Raises ``yaml.YAMLError`` (:class:`DocumentError` for a refused shape)."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)
    except RecursionError:
        raise DocumentError("nested too deeply") from None
