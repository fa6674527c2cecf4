"""Imports every built-in runner so that ``register`` has seen them (one list, kept here)."""

from __future__ import annotations

from siyu.analytics import (
    activity,  # noqa: F401
    attribution,  # noqa: F401
    churn,  # noqa: F401
    clv,  # noqa: F401
    economics,  # noqa: F401
    experiments,  # noqa: F401
    funnels,  # noqa: F401
    lifecycle,  # noqa: F401
    paths,  # noqa: F401
    retention,  # noqa: F401
)
