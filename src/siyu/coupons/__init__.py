"""Coupons: templates, unique codes, validation rules, idempotent redemption, abuse signals
(薅羊毛) and the coupon funnel. The bottom of the loyalty stack: it imports neither
``siyu.loyalty`` nor ``siyu.commerce``."""
