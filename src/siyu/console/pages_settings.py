"""Console pages: settings."""

from __future__ import annotations

from fastapi import APIRouter

from siyu.console.permissions import RouteTable

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {}
