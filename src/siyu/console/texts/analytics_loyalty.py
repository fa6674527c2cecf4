"""Console text for the loyalty, coupon and repurchase analyses (issue 17): their names, fields,
summaries and the values their tables hold in words (会员 rather than ``members``)."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "analytics_member_repurchase": {"zh": "会员复购率", "en": "Member repurchase"},
    "analytics_member_repurchase_desc": {
        "zh": "会员与非会员的复购率（期间内下单 2 次及以上的买家占比）与客单价，已全额退款的订单不计。",
        "en": "Repurchase rate (buyers with two or more orders in the range) and AOV, members vs non-members; fully refunded orders left out.",
    },
    "analytics_points_liability": {"zh": "积分负债", "en": "Points liability"},
    "analytics_points_liability_desc": {
        "zh": "未使用积分（可用 + 待生效）× 积分价值，按到期月份；以及期间内的积分沉淀率（过期 ÷（过期 + 已用））。",
        "en": "Outstanding points (active + pending) × point value by month of expiry, and breakage over the range (expired ÷ (expired + spent)).",
    },
    "analytics_tiers": {"zh": "会员等级", "en": "Tiers"},
    "analytics_tiers_desc": {
        "zh": "当前各等级会员数，以及期初 → 期末的等级迁移矩阵（升级、降级、新入会、退出）。",
        "en": "Members per tier now, and the tier migration matrix from start to end (up, down, joined, left).",
    },
    "analytics_coupons": {"zh": "优惠券效果", "en": "Coupons"},
    "analytics_coupons_desc": {
        "zh": "各券模板的发放 → 核销漏斗、核销率、优惠金额、核销订单成交额，以及相对留出组的增量成交额与 ROI。",
        "en": "Per coupon template: issued → redeemed, redemption rate, discount, GMV, and incremental GMV and ROI against the holdout.",
    },
    # --- fields -------------------------------------------------------------------------------------
    "analytics_f_table": {"zh": "表格内容", "en": "Table"},
    "analytics_f_template": {"zh": "券模板", "en": "Coupon template"},
    "analytics_o_distribution": {"zh": "当前等级分布", "en": "distribution now"},
    "analytics_o_migration": {"zh": "等级迁移矩阵", "en": "migration matrix"},
    "analytics_o_every_template": {"zh": "全部券模板", "en": "every template"},
    # --- summaries ----------------------------------------------------------------------------------
    "analytics_summary": {"zh": "概览", "en": "Summary"},
    "analytics_s_range": {"zh": "统计期间", "en": "Range"},
    "analytics_s_all_time": {"zh": "全部时间", "en": "all time"},
    "analytics_s_difference": {"zh": "会员复购率高出", "en": "Members' rate minus non-members'"},
    "analytics_s_pp": {"zh": "{value} 个百分点", "en": "{value} pp"},
    "analytics_s_outstanding": {"zh": "未使用积分", "en": "Outstanding points"},
    "analytics_s_liability": {"zh": "积分负债", "en": "Liability"},
    "analytics_s_point_value": {"zh": "积分价值（元/分）", "en": "Point value (¥ per point)"},
    "analytics_s_no_programme": {
        "zh": "尚未设置积分计划，按默认 ¥0.01/分 计算",
        "en": "no programme set up yet: the default ¥0.01 a point",
    },
    "analytics_s_breakage": {"zh": "积分沉淀率", "en": "Breakage"},
    "analytics_s_expired": {"zh": "期间过期积分", "en": "Points expired in the range"},
    "analytics_s_spent": {"zh": "期间已用积分", "en": "Points spent in the range"},
    "analytics_s_awarded": {"zh": "期间发放积分", "en": "Points awarded in the range"},
    "analytics_s_points_money": {"zh": "{points} 分（¥{money}）", "en": "{points} points (¥{money})"},
    "analytics_s_members": {"zh": "会员总数", "en": "Members"},
    "analytics_s_moved": {"zh": "升级 / 降级 / 新入会 / 退出", "en": "Up / down / joined / left"},
    # --- values in the tables -----------------------------------------------------------------------
    "analytics_v_members": {"zh": "会员", "en": "members"},
    "analytics_v_non_members": {"zh": "非会员", "en": "non-members"},
    "analytics_v_all": {"zh": "全部", "en": "all"},
    "analytics_v_up": {"zh": "升级", "en": "up"},
    "analytics_v_down": {"zh": "降级", "en": "down"},
    "analytics_v_same": {"zh": "不变", "en": "same"},
    "analytics_v_joined": {"zh": "新入会", "en": "joined"},
    "analytics_v_left": {"zh": "退出", "en": "left"},
    "analytics_v_no_holdout": {
        "zh": "无留出组，无法计算增量",
        "en": "no holdout: incremental GMV unknown",
    },
    "analytics_v_no_discount": {"zh": "尚无优惠支出", "en": "no discount given yet"},
    "analytics_v_never": {"zh": "永久有效", "en": "never expires"},
}
