"""Console text for the WeCom callbacks page (设置 → 企业微信回调) and the WeCom staff section of
a contact's profile."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "settings_wecom": {"zh": "企业微信回调", "en": "WeCom callbacks"},
    "settings_wecom_desc": {
        "zh": "接收企业微信事件（加好友、删好友、标签变更）：回调地址、校验密钥是否已设置、最近收到的回调及处理状态。",
        "en": "Receive WeCom events (customers added or deleted, tag changes): the callback URL, Token and "
        "EncodingAESKey status, recent callbacks.",
    },
    "wecom_setup_title": {"zh": "在企业微信管理后台填写", "en": "Paste into WeCom's admin"},
    "wecom_setup_help": {
        "zh": "在企业微信管理后台 → 应用管理 → 自建应用 → 接收消息 → 设置 API 接收：把下面的 URL 填入，Token 与 EncodingAESKey 与本系统服务商设置中的一致。保存时企业微信会校验这个地址。",
        "en": "In WeCom's admin → App management → your self-built app → Receive messages → Set API receive: "
        "paste the URL below, with the same Token and EncodingAESKey as in this provider's settings. WeCom "
        "checks the address when you save.",
    },
    # wecom_no_provider and wecom_provider: shared with the contact-way pages (texts/wecom_ways.py)
    "wecom_url": {"zh": "回调地址", "en": "Callback URL"},
    "wecom_token": {"zh": "Token", "en": "Token"},
    "wecom_aes_key": {"zh": "EncodingAESKey", "en": "EncodingAESKey"},
    "wecom_set": {"zh": "已设置", "en": "Set"},
    "wecom_not_set": {"zh": "未设置", "en": "Not set"},
    "wecom_counts": {
        "zh": "待处理 {pending} · 已处理 {done} · 无需处理 {unhandled} · 失败 {failed}",
        "en": "Pending {pending} · done {done} · not handled {unhandled} · failed {failed}",
    },
    "wecom_recent": {"zh": "最近收到的回调", "en": "Recent callbacks"},
    "wecom_filter_all": {"zh": "全部", "en": "All"},
    "wecom_none": {"zh": "还没有收到回调。", "en": "No callbacks received yet."},
    "wecom_col_received": {"zh": "收到时间", "en": "Received"},
    "wecom_col_event": {"zh": "事件", "en": "Event"},
    "wecom_col_status": {"zh": "状态", "en": "Status"},
    "wecom_col_attempts": {"zh": "处理次数", "en": "Attempts"},
    "wecom_col_error": {"zh": "最近错误", "en": "Last error"},
    "wecom_retry": {"zh": "重新处理", "en": "Retry"},
    "wecom_retry_failed": {"zh": "重新处理全部失败回调", "en": "Retry every failed callback"},
    "wecom_retried": {"zh": "已重新处理 {n} 条回调。", "en": "{n} callback(s) processed again."},
    "wecom_decisions": {
        "zh": "安全规则：签名不符、企业 ID 不符、时间戳与当前相差超过 5 分钟的请求一律拒绝；重复推送只记录一次、只处理一次。处理失败会自动重试，5 次后标记为失败，可在此重新处理。",
        "en": "Requests with a wrong signature, another corp's id, or a timestamp more than 5 minutes off are "
        "refused; a repeated delivery is stored and processed once. Failed processing is retried "
        "automatically and marked failed after 5 attempts; retry it here.",
    },
    # the contact profile's WeCom staff section
    "contacts_wecom_staff": {"zh": "企业微信好友", "en": "WeCom staff"},
    "contacts_wecom_none": {"zh": "没有企业微信好友关系。", "en": "No WeCom staff relation."},
    "contacts_wecom_staff_col": {"zh": "员工", "en": "Staff"},
    "contacts_wecom_remark": {"zh": "备注", "en": "Remark"},
    "contacts_wecom_added": {"zh": "添加时间", "en": "Added"},
    "contacts_wecom_way": {"zh": "添加方式", "en": "Added by"},
    "contacts_wecom_state": {"zh": "渠道码", "en": "Entry code"},
    "contacts_wecom_deleted_staff": {"zh": "员工已删除客户", "en": "Deleted by staff"},
    "contacts_wecom_deleted_customer": {"zh": "客户已删除员工（流失）", "en": "Customer left (churned)"},
}
