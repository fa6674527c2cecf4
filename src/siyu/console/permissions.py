"""Which permission each console route needs, in one table (as ``api.permissions`` for REST).
``guard`` refuses a route missing here; tests/auth/test_authorisation.py walks every route
with every role against it."""

from __future__ import annotations

from typing import Final

from siyu.auth.roles import Permission as P

#: The sign-in page and the language switch: reachable signed out.
ANONYMOUS: Final = "anonymous"

ROUTES: dict[tuple[str, str], P | str] = {
    ("GET", "/console/login"): ANONYMOUS,
    ("POST", "/console/login"): ANONYMOUS,
    ("GET", "/console/lang/{lang}"): ANONYMOUS,
    ("POST", "/console/logout"): P.DASHBOARD_READ,
    ("GET", "/console/"): P.DASHBOARD_READ,
}
