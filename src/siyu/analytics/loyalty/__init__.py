"""Loyalty, coupon and order analyses (issue 17): ``member_repurchase``, ``points_liability``,
``tiers`` and ``coupons``. They read the system of record (orders, the points ledger, tier
history, coupons) directly, see ``base.py`` for why."""
