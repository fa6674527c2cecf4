"""Console text for the contacts pages."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {}
