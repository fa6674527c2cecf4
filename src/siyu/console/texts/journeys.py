"""Console text for the journeys pages."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {}
