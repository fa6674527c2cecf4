"""Console text for the dashboard pages."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {}
