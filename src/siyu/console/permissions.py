"""Which permission each console route needs. Each page module declares ``ROUTES`` next to its
handlers; ``collect`` joins them into the one table ``guard`` reads (as ``api.permissions``
does for REST). A route missing from it is refused; tests/auth/test_authorisation.py walks
every route with every role against it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from siyu.auth.roles import Permission

#: The sign-in page and the language switch: reachable signed out.
ANONYMOUS: Final = "anonymous"

RouteTable = dict[tuple[str, str], Permission | str]


def collect(pages: Iterable[Any]) -> RouteTable:
    table: RouteTable = {}
    for page in pages:
        for key, needed in page.ROUTES.items():
            if key in table:
                raise ValueError(f"console route {key} declared twice")
            table[key] = needed
    return table
