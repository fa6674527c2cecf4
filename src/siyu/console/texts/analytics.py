"""Console text for the analytics pages."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {}
