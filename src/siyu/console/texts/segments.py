"""Console text for the segments pages."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {}
