"""Orders and subscriptions (周期购): order events, imports and REST become orders with lines and
refunds; the loyalty programme and coupons are settled from them. Sits above ``siyu.loyalty``
and ``siyu.coupons`` (it calls them; they never import it)."""
