"""Console pages: users, roles, API keys and the audit log (settings, access part)."""

from __future__ import annotations

from fastapi import APIRouter

from siyu.console.permissions import RouteTable

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {}
