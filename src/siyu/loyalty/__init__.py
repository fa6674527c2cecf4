"""Membership (会员), tiers, the points ledger, check-ins (签到), tasks and badges, and the points
catalogue. Sits above ``siyu.coupons`` (a tier or a redemption issues coupons) and below
``siyu.commerce`` (orders earn and claw back points)."""
