"""Check-ins, tasks and badges, and the points catalogue (console/pages_loyalty_engage.py)."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "nav_engage": {"zh": "会员互动", "en": "Engagement"},
    # the content editor's variables picker (content/variables.py BUILTINS from the loyalty programme)
    "content_var_tier": {"zh": "会员等级", "en": "Tier"},
    "content_var_coupon.code": {"zh": "优惠券码", "en": "Coupon code"},
    "content_var_coupon.expires_at": {"zh": "优惠券有效期至", "en": "Coupon valid until"},
    "content_var_points_expiring": {"zh": "即将过期的积分", "en": "Points expiring next"},
    "content_var_points_expiring_at": {"zh": "积分过期日期", "en": "Points expiry date"},
    "content_var_member_no": {"zh": "会员号", "en": "Member number"},
    "eng_tab_checkins": {"zh": "每日签到", "en": "Check-ins"},
    "eng_tab_tasks": {"zh": "任务与勋章", "en": "Tasks & badges"},
    "eng_tab_catalogue": {"zh": "积分商城", "en": "Points catalogue"},
    # check-ins
    "eng_checkins_title": {"zh": "每日签到", "en": "Daily check-ins"},
    "eng_checkins_help": {
        "zh": "会员每天可签到一次（按会员所在时区的日期），连续签到达到设定天数时额外奖励积分。"
        "依照微信外链规则，签到奖励绝不与分享链接挂钩。",
        "en": "Members check in once a day (on their own calendar day); a streak reaching a milestone "
        "earns extra points. Under WeChat's link rules, check-in rewards are never tied to sharing links.",
    },
    "eng_points_per_checkin": {"zh": "每次签到积分", "en": "Points per check-in"},
    "eng_milestones": {"zh": "连续签到奖励", "en": "Streak milestones"},
    "eng_milestone_days": {"zh": "连续天数", "en": "Days in a row"},
    "eng_milestone_points": {"zh": "额外积分", "en": "Extra points"},
    "eng_milestones_help": {
        "zh": "留空的行会被忽略；例如连续 7 天额外 20 积分。",
        "en": "Empty rows are ignored; e.g. 20 extra points for 7 days in a row.",
    },
    "eng_save": {"zh": "保存", "en": "Save"},
    "eng_saved": {"zh": "已保存。", "en": "Saved."},
    "eng_recent_days": {"zh": "近 7 天签到人数", "en": "Check-ins over the last 7 days"},
    "eng_day": {"zh": "日期", "en": "Day"},
    "eng_members_checked_in": {"zh": "签到人数", "en": "Members"},
    "eng_points_awarded": {"zh": "发放积分", "en": "Points awarded"},
    # tasks
    "eng_tasks_title": {"zh": "任务与勋章", "en": "Tasks and badges"},
    "eng_tasks_help": {
        "zh": "会员完成任务（如下单、加入社群、完善资料）后自动获得奖励积分、优惠券与勋章，每个任务每人仅一次。",
        "en": "Members who complete a task (an order, joining a group, completing their profile) "
        "get its points, coupon and badge automatically, once per task.",
    },
    "eng_task_name": {"zh": "任务名称", "en": "Task"},
    "eng_task_key": {"zh": "任务标识（英文、数字、-）", "en": "Key (a-z, 0-9, -)"},
    "eng_condition": {"zh": "完成条件", "en": "Condition"},
    "eng_cond_event": {"zh": "发生行为", "en": "An event happens"},
    "eng_cond_profile": {"zh": "资料填写完整", "en": "Profile complete"},
    "eng_event": {"zh": "行为", "en": "Event"},
    "eng_times": {"zh": "次数", "en": "Times"},
    "eng_where_property": {"zh": "属性（可选）", "en": "Property (optional)"},
    "eng_where_value": {"zh": "属性值", "en": "Value"},
    "eng_profile_traits": {"zh": "需填写的资料项（逗号分隔）", "en": "Traits to fill in (comma-separated)"},
    "eng_cond_event_text": {"zh": "{event} 达到 {count} 次", "en": "{event} {count} times"},
    "eng_cond_where_text": {"zh": "（{property} 为 {value}）", "en": " (where {property} is {value})"},
    "eng_cond_profile_text": {"zh": "填写：{traits}", "en": "Filled in: {traits}"},
    "eng_reward_points": {"zh": "奖励积分", "en": "Reward points"},
    "eng_reward_coupon": {"zh": "奖励优惠券", "en": "Reward coupon"},
    "eng_no_coupon": {"zh": "无", "en": "None"},
    "eng_badge": {"zh": "勋章名称", "en": "Badge"},
    "eng_completed": {"zh": "完成人数", "en": "Completed"},
    "eng_status": {"zh": "状态", "en": "Status"},
    "eng_on": {"zh": "启用中", "en": "On"},
    "eng_off": {"zh": "已停用", "en": "Off"},
    "eng_turn_on": {"zh": "启用", "en": "Turn on"},
    "eng_turn_off": {"zh": "停用", "en": "Turn off"},
    "eng_add_task": {"zh": "新建任务", "en": "New task"},
    "eng_no_tasks": {"zh": "还没有任务。", "en": "No tasks yet."},
    "eng_task_added": {"zh": "任务「{name}」已创建。", "en": "Task “{name}” created."},
    # catalogue
    "eng_catalogue_title": {"zh": "积分商城", "en": "Points catalogue"},
    "eng_catalogue_help": {
        "zh": "会员用积分兑换优惠券或礼品；兑换时扣减积分、库存并发券，任何一步失败都不会扣积分。",
        "en": "Members spend points on coupons or gifts; a redemption takes the points and the stock "
        "and issues the coupon together, and a failure takes nothing.",
    },
    "eng_item_name": {"zh": "商品名称", "en": "Item"},
    "eng_item_key": {"zh": "商品标识（英文、数字、-）", "en": "Key (a-z, 0-9, -)"},
    "eng_kind": {"zh": "类型", "en": "Kind"},
    "eng_kind_coupon": {"zh": "优惠券", "en": "Coupon"},
    "eng_kind_gift": {"zh": "礼品", "en": "Gift"},
    "eng_points_cost": {"zh": "所需积分", "en": "Points"},
    "eng_coupon_template": {"zh": "兑换的优惠券", "en": "Coupon template"},
    "eng_stock": {"zh": "库存（留空为不限）", "en": "Stock (empty: unlimited)"},
    "eng_stock_col": {"zh": "库存", "en": "Stock"},
    "eng_unlimited": {"zh": "不限", "en": "Unlimited"},
    "eng_per_member": {"zh": "每人限兑（留空为不限）", "en": "Per member (empty: no limit)"},
    "eng_per_member_col": {"zh": "每人限兑", "en": "Per member"},
    "eng_redeemed": {"zh": "已兑换", "en": "Redeemed"},
    "eng_add_item": {"zh": "新增商品", "en": "New item"},
    "eng_no_items": {"zh": "还没有兑换商品。", "en": "No items yet."},
    "eng_item_added": {"zh": "商品「{name}」已上架。", "en": "Item “{name}” added."},
    "eng_refused": {"zh": "未能保存：{detail}", "en": "Not saved: {detail}"},
    "eng_bad_number": {"zh": "{field} 应为整数", "en": "{field} should be a whole number"},
    # refusals by error code (LoyaltyError.code), worded for operators
    "eng_err_invalid_checkin": {
        "zh": "签到积分与连续天数须为整数：积分 0 至 1 亿，天数 1 至 3660。",
        "en": "Points must be whole numbers up to 100,000,000 and streak days 1 to 3660.",
    },
    "eng_err_invalid_condition": {
        "zh": "完成条件不完整：请选择行为并填写 1 至 10000 的次数，或列出需填写的资料项。",
        "en": "The condition is incomplete: pick an event and 1 to 10,000 times, or list the traits.",
    },
    "eng_err_invalid_key": {
        "zh": "标识只能包含小写英文、数字、下划线和短横线，且不超过 64 个字符。",
        "en": "The key takes lower-case letters, digits, _ and -, up to 64 characters.",
    },
    "eng_err_task_exists": {"zh": "已有同样标识的任务。", "en": "A task with this key exists."},
    "eng_err_item_exists": {"zh": "已有同样标识的商品。", "en": "An item with this key exists."},
    "eng_err_invalid_name": {
        "zh": "请填写名称（不超过 200 个字符）。",
        "en": "Give a name (up to 200 characters).",
    },
    "eng_err_invalid_points": {
        "zh": "积分应为正整数（不超过 1 亿）。",
        "en": "Points should be a positive whole number (up to 100,000,000).",
    },
    "eng_err_coupon_template_required": {
        "zh": "优惠券类商品需要选择兑换的优惠券。",
        "en": "A coupon item needs its coupon template.",
    },
    "eng_err_coupon_template_not_found": {
        "zh": "所选优惠券不存在，请重新选择。",
        "en": "That coupon template does not exist.",
    },
    "eng_err_invalid_coupon_template": {
        "zh": "只有优惠券类商品可以选择优惠券。",
        "en": "Only coupon items take a coupon template.",
    },
    "eng_err_invalid_kind": {"zh": "类型应为优惠券或礼品。", "en": "Kind is coupon or gift."},
    "eng_err_invalid_stock": {"zh": "库存应为 0 或正整数，或留空。", "en": "Stock is 0 or more, or empty."},
    "eng_err_invalid_per_member_limit": {
        "zh": "每人限兑应为正整数，或留空。",
        "en": "The per-member limit is 1 or more, or empty.",
    },
    "eng_err_invalid_badge": {
        "zh": "勋章名称不超过 64 个字符。",
        "en": "A badge name has up to 64 characters.",
    },
}
