"""Imports every built-in runner so that ``register`` has seen them (one list, kept here)."""

from __future__ import annotations

from siyu.analytics import churn  # noqa: F401
from siyu.analytics.activity import active_users, lifecycle, retention  # noqa: F401
from siyu.analytics.attribution import runner as attribution  # noqa: F401
from siyu.analytics.clv import runner as clv  # noqa: F401
from siyu.analytics.economics import roi  # noqa: F401
from siyu.analytics.experiments import runner as experiments  # noqa: F401
from siyu.analytics.funnels import paths  # noqa: F401
from siyu.analytics.funnels import runner as funnels  # noqa: F401
from siyu.analytics.loyalty import coupons, liability, repurchase, tiers  # noqa: F401
