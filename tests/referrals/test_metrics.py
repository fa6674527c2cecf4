"""Campaign metrics against a hand-computed tree (tests/referrals/insights_fixtures.small_tree):

- invites (not voided): C D E G H I = 6; inviters with one: A C G = 3 (B's only invite voided);
- qualified (qualified or approved): C D G I = 4; K = 6/3 × 4/6 = 4/3;
- generations: [C D E, G H, I] = [3, 2, 1];
- cycle hours: A joined at 0 → C 2, D 4, E 6; C arrived at 2 → G 6, H 12; G arrived at 8 →
  I 12; mean 42/6 = 7, by generation [4, 9, 12];
- rewards paid ¥30 + ¥20 (a withheld ¥10 does not count): ¥50 / 4 = ¥12.50 per qualified."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.referrals.insights_fixtures import T0, small_tree

from siyu.context import AppContext
from siyu.referrals.metrics import campaign_stats
from siyu.store.models import Order, ReferralCampaign, ReferralReward


def test_stats_of_the_small_tree(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        t = small_tree(s)
        for n, (value, status) in enumerate(((30, "paid"), (20, "paid"), (10, "withheld"))):
            s.add(
                ReferralReward(
                    campaign_id=t.campaign_id,
                    contact_id=t.ids["A"],
                    milestone=n + 1,
                    side="inviter",
                    kind="points",
                    value=Decimal(value),
                    external_id=f"referral:small:{n}",
                    status=status,
                )
            )
        orders = [("C", 100, 0), ("C", 50, 20), ("D", 80, 0), ("X", 60, 0), ("Y", 40, 0), ("Y", 40, 0)]
        from tests.referrals.insights_fixtures import Builder

        b = Builder(s, s.get(ReferralCampaign, t.campaign_id))  # type: ignore[arg-type]
        t.ids["X"], t.ids["Y"] = b.contact(), b.contact()
        for i, (who, total, refunded) in enumerate(orders):
            s.add(
                Order(
                    contact_id=t.ids[who],
                    source="shop",
                    order_no=f"o{i}",
                    total=Decimal(total),
                    refunded=Decimal(refunded),
                    status="partially_refunded" if refunded else "completed",
                    ordered_at=T0 + timedelta(days=i),
                )
            )
        s.flush()
        stats = campaign_stats(s, s.get(ReferralCampaign, t.campaign_id))  # type: ignore[arg-type]
    # four hold a code (one never invited): K is per person who could invite
    assert (stats["inviters"], stats["active_inviters"], stats["invites"], stats["qualified"]) == (4, 3, 6, 4)
    assert stats["k_factor"] == round(6 / 4 * 4 / 6, 4) == 1.0
    assert stats["generations"] == [3, 2, 1]
    assert stats["cycle_time_hours"] == (2 * 9.0 + 12.0) / 3  # generations 2 and on
    assert stats["cycle_by_generation"] == [4.0, 9.0, 12.0]
    assert stats["statuses"] == {"pending": 1, "qualified": 2, "approved": 2, "flagged": 1, "voided": 1}
    assert stats["participants"] == 4  # A, B, C, G hold codes
    assert stats["cost_per_qualified"] == "12.50" and stats["reward_value"] == "50.00"
    assert stats["value"]["referred"] == {"buyers": 2, "ltv": "105.00", "repurchase_rate": 0.5}
    assert stats["value"]["others"] == {"buyers": 2, "ltv": "70.00", "repurchase_rate": 0.5}


def test_empty_campaign(ctx: AppContext) -> None:
    from tests.referrals.insights_fixtures import make_campaign

    with ctx.db.session() as s:
        stats = campaign_stats(s, make_campaign(s))
    assert stats["inviters"] == stats["invites"] == stats["qualified"] == 0
    assert stats["k_factor"] == 0 and stats["generations"] == [] and stats["cycle_time_hours"] is None
    assert stats["cost_per_qualified"] is None
