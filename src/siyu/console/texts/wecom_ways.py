"""Console text for WeCom contact ways (联系我) and 获客助手 links, their figures, staff (导购) and
the sync."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "nav_wecom": {"zh": "企业微信", "en": "WeCom"},
    "wecom_tab_codes": {"zh": "渠道活码", "en": "Contact ways"},
    "wecom_tab_staff": {"zh": "员工", "en": "Staff"},
    "wecom_tab_sync": {"zh": "同步", "en": "Sync"},
    "wecom_codes_title": {"zh": "渠道活码与获客链接", "en": "Contact ways and acquisition links"},
    "wecom_codes_help": {
        "zh": "客户扫码或点击链接添加员工后，按活码归因：添加数、24 小时与 7 天内删除（员工删除 / 客户删除即流失）、净增。"
        "企业微信不提供扫码次数，故显示“未知”。",
        "en": "Customers who add staff through a code are counted by code: adds, deletions within 24 hours and "
        "7 days (by staff / by the customer, i.e. churn), net adds. WeCom does not report scans, so they "
        "show as unknown.",
    },
    "wecom_kind_contact_way": {"zh": "联系我二维码", "en": "Contact way QR"},
    "wecom_kind_acquisition_link": {"zh": "获客链接", "en": "Acquisition link"},
    "wecom_kind_url": {"zh": "普通活码", "en": "Plain code"},
    "wecom_kind": {"zh": "类型", "en": "Kind"},
    "wecom_qr": {"zh": "二维码 / 链接", "en": "QR / link"},
    "wecom_state": {"zh": "渠道标识（state）", "en": "State"},
    "wecom_name": {"zh": "名称", "en": "Name"},
    "wecom_channel": {"zh": "所属渠道", "en": "Channel"},
    "wecom_staff": {"zh": "接待员工", "en": "Staff"},
    "wecom_staff_pick_help": {
        "zh": "选一名员工生成单人码，选多名生成多人码（客户随机添加其中一人）。",
        "en": "One staff member makes a single-staff code; several make a multi-staff code (customers "
        "reach one of them).",
    },
    "wecom_no_staff": {
        "zh": "还没有员工：请先在“同步”页从企业微信同步员工。",
        "en": "No staff yet: sync them from WeCom on the Sync page first.",
    },
    "wecom_no_provider": {
        "zh": "还没有企业微信服务商账号：请先在“设置 / 服务商账号”中添加。",
        "en": "No WeCom provider yet: add one under Settings / Providers first.",
    },
    "wecom_skip_verify": {
        "zh": "客户添加时无需员工确认",
        "en": "Customers are added without the staff's confirmation",
    },
    "wecom_welcome_template": {"zh": "欢迎语模板", "en": "Welcome message template"},
    "wecom_no_template": {"zh": "不发送欢迎语", "en": "No welcome message"},
    "wecom_tags": {"zh": "自动打标签", "en": "Tags applied"},
    "wecom_tags_help": {
        "zh": "按住控制键（苹果电脑为 ⌘ 键）可多选。",
        "en": "Hold Ctrl / ⌘ to pick several.",
    },
    "wecom_create": {"zh": "生成活码", "en": "Make the code"},
    "wecom_save": {"zh": "保存修改", "en": "Save changes"},
    "wecom_delete": {"zh": "删除", "en": "Delete"},
    "wecom_delete_confirm": {
        "zh": "将在企业微信中删除该二维码/链接，已有的数据会保留。确定删除？",
        "en": "This deletes the QR / link at WeCom; its figures stay. Delete it?",
    },
    "wecom_deleted_badge": {"zh": "已删除", "en": "Deleted"},
    "wecom_adds": {"zh": "添加", "en": "Adds"},
    "wecom_deleted_24h": {"zh": "24 小时内删除", "en": "Deleted within 24 h"},
    "wecom_deleted_7d": {"zh": "7 天内删除", "en": "Deleted within 7 days"},
    "wecom_by_staff": {"zh": "员工删", "en": "by staff"},
    "wecom_by_customer": {"zh": "客户删", "en": "by customer"},
    "wecom_net": {"zh": "净增", "en": "Net adds"},
    "wecom_scans": {"zh": "扫码", "en": "Scans"},
    "wecom_unknown": {"zh": "未知", "en": "unknown"},
    "wecom_day": {"zh": "日期", "en": "Day"},
    "wecom_by_day": {"zh": "按天（添加日期，品牌时区）", "en": "By day (day of the add, brand time zone)"},
    "wecom_edit_title": {"zh": "修改活码", "en": "Edit the code"},
    "wecom_ad_url": {"zh": "投放用链接（带渠道标识）", "en": "URL for ad platforms (carries the state)"},
    "wecom_created": {"zh": "已生成 {state}。", "en": "{state} created."},
    "wecom_updated": {"zh": "已保存 {state}。", "en": "{state} saved."},
    "wecom_deleted": {"zh": "已删除 {state}，数据保留。", "en": "{state} deleted; its figures stay."},
    "wecom_refused": {"zh": "未能完成：{detail}", "en": "Not done: {detail}"},
    "wecom_staff_title": {"zh": "员工（导购）", "en": "Staff"},
    "wecom_staff_help": {
        "zh": "每位员工的客户数、累计添加与流失（客户删除员工）。点击姓名查看每日数据与客户转接。",
        "en": "Each staff member's customers, adds and losses (customers who deleted them). Open one for "
        "daily figures and transfers.",
    },
    "wecom_userid": {"zh": "账号", "en": "User ID"},
    "wecom_customers": {"zh": "客户数", "en": "Customers"},
    "wecom_lost": {"zh": "流失", "en": "Lost"},
    "wecom_removed": {"zh": "员工删除", "en": "Removed"},
    "wecom_total": {"zh": "当日客户总数", "en": "Customers at day end"},
    "wecom_status": {"zh": "状态", "en": "Status"},
    "wecom_status_active": {"zh": "在职", "en": "Active"},
    "wecom_status_left": {"zh": "已离职", "en": "Left"},
    "wecom_status_inactive": {"zh": "未激活或已禁用", "en": "Not active"},
    "wecom_daily": {"zh": "近 30 天每日数据", "en": "Last 30 days"},
    "wecom_transfers": {"zh": "客户转接记录", "en": "Customer transfers"},
    "wecom_transfer_status_waiting": {"zh": "等待接替", "en": "Waiting"},
    "wecom_transfer_status_success": {"zh": "接替完毕", "en": "Done"},
    "wecom_transfer_status_refused": {"zh": "客户拒绝", "en": "Refused"},
    "wecom_transfer_status_failed": {"zh": "失败", "en": "Failed"},
    "wecom_from": {"zh": "原员工", "en": "From"},
    "wecom_to": {"zh": "接替员工", "en": "To"},
    "wecom_customer": {"zh": "客户", "en": "Customer"},
    "wecom_requested": {"zh": "申请时间", "en": "Requested"},
    "wecom_sync_title": {"zh": "从企业微信同步", "en": "Sync from WeCom"},
    "wecom_sync_help": {
        "zh": "同步员工通讯录与存量客户。全量同步会写入全部客户关系，并关闭企业微信中已不存在的关系；"
        "增量同步只写入新关系。遇到企业微信限频会自动等待重试。",
        "en": "Syncs the staff directory and existing customers. A full sync writes every relation and closes "
        "those WeCom no longer lists; an incremental one writes only new relations. WeCom's rate limits are "
        "waited out automatically.",
    },
    "wecom_sync_full": {"zh": "全量同步", "en": "Full sync"},
    "wecom_sync_incremental": {"zh": "增量同步", "en": "Incremental sync"},
    "wecom_sync_started": {
        "zh": "同步已开始，本页会自动刷新。",
        "en": "The sync has started; this page refreshes itself.",
    },
    "wecom_runs": {"zh": "同步记录", "en": "Syncs"},
    "wecom_run_status_running": {"zh": "进行中", "en": "Running"},
    "wecom_run_status_done": {"zh": "已完成", "en": "Done"},
    "wecom_run_status_failed": {"zh": "失败", "en": "Failed"},
    "wecom_run_status_interrupted": {"zh": "已中断（进程停止）", "en": "Interrupted (its process stopped)"},
    "wecom_run_mode_full": {"zh": "全量", "en": "Full"},
    "wecom_run_mode_incremental": {"zh": "增量", "en": "Incremental"},
    "wecom_progress": {"zh": "进度（员工）", "en": "Progress (staff)"},
    "wecom_relations": {"zh": "客户关系", "en": "Relations"},
    "wecom_new_contacts": {"zh": "新建联系人", "en": "New contacts"},
    "wecom_closed": {"zh": "已关闭", "en": "Closed"},
    "wecom_rate_limited": {"zh": "限频重试", "en": "Rate-limit retries"},
    "wecom_started_at": {"zh": "开始时间", "en": "Started"},
    "wecom_error": {"zh": "原因", "en": "Reason"},
    "wecom_provider": {"zh": "服务商账号", "en": "Provider"},
    "wecom_optional": {"zh": "可选", "en": "optional"},
    "wecom_refused_code": {
        "zh": "企业微信拒绝了请求（错误码 {code}）：{words}",
        "en": "WeCom refused it (errcode {code}): {words}",
    },
    "wecom_err_40003": {"zh": "所选员工不是本企业成员", "en": "a staff userid is not a member of the corp"},
    "wecom_err_40058": {"zh": "参数不符合企业微信的要求", "en": "WeCom refused a parameter"},
    "wecom_err_40096": {
        "zh": "该客户不是原员工的客户",
        "en": "the customer is not a customer of that staff member",
    },
    "wecom_err_40128": {
        "zh": "该客户 90 天内已被转接两次，企业微信不允许再次转接",
        "en": "the customer was already transferred twice in the last 90 days",
    },
    "wecom_err_40129": {"zh": "该客户正在转接中", "en": "the customer is already being transferred"},
    "wecom_err_45009": {
        "zh": "已达到企业微信每分钟调用上限，请一分钟后再试",
        "en": "WeCom's per-minute call limit was reached; try again in a minute",
    },
    "wecom_err_45033": {"zh": "同时调用过多，请稍后再试", "en": "too many calls at once; try again shortly"},
    "wecom_err_48002": {
        "zh": "应用没有调用该接口的权限（请在企业微信后台授予客户联系权限）",
        "en": "the app may not call this API (allow it the customer-contact permission)",
    },
    "wecom_err_60011": {
        "zh": "应用看不到该员工（请检查应用的可见范围）",
        "en": "the app may not see that staff member (check the app's visible range)",
    },
}
