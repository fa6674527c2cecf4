"""Referral (裂变): customers bring customers. Campaigns (任务宝, 群裂变, 老带新), personal codes
and posters, attribution through WeCom adds and joins or a ``referral_code`` property, the
referral tree with its statuses, anti-fraud scores, rewards paid through coupons and points on
approval, leaderboards and the campaign metrics (K-factor, generations, cycle time).

Sits above ``siyu.commerce`` (import-linter): it reads orders and pays through loyalty and
coupons; nothing below imports it."""
