"""Console text for the settings pages."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {}
