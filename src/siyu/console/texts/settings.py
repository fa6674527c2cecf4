"""Console text for the settings pages: channels and entry codes, providers, users, roles, API
keys and the audit log."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    # --- index --------------------------------------------------------------------------------
    "settings_title": {"zh": "设置", "en": "Settings"},
    "settings_channels": {"zh": "渠道与活码", "en": "Channels & entry codes"},
    "settings_channels_desc": {
        "zh": "客户从哪里来：渠道、活码 / 获客链接及其二维码，每个带来了多少客户。",
        "en": "Where contacts come from: channels, entry codes / acquisition links with their QR codes, "
        "and how many contacts each brought.",
    },
    "settings_providers": {"zh": "服务商账号", "en": "Provider accounts"},
    "settings_providers_desc": {
        "zh": "企业微信、短信、邮件、Webhook 等发送通道的账号（密钥加密保存，不会显示）。",
        "en": "Accounts that send messages: WeCom, SMS, email, webhooks (secrets stored encrypted, never shown).",
    },
    "settings_users": {"zh": "成员账号", "en": "Users"},
    "settings_users_desc": {
        "zh": "谁能登录运营台、是什么角色；新建成员、调整角色、停用、重置密码。",
        "en": "Who can sign in and with which role; add users, change roles, disable, reset passwords.",
    },
    "settings_roles": {"zh": "角色与权限", "en": "Roles & permissions"},
    "settings_roles_desc": {
        "zh": "五种角色各自能做什么（权限矩阵）。",
        "en": "What each of the five roles may do (the permission matrix).",
    },
    "settings_api_keys": {"zh": "API 密钥", "en": "API keys"},
    "settings_api_keys_desc": {
        "zh": "给程序和系统对接用的密钥：新建、查看使用情况、吊销。",
        "en": "Keys for programs and integrations: create, see their use, revoke.",
    },
    "settings_audit": {"zh": "操作日志", "en": "Audit log"},
    "settings_audit_desc": {
        "zh": "谁在什么时候做了什么：登录、查看明文、建号、发密钥、改配置……",
        "en": "Who did what, when: sign-ins, PII reveals, new users and keys, configuration changes…",
    },
    "settings_brand": {"zh": "品牌时区", "en": "Brand time zone"},
    "settings_brand_desc": {
        "zh": "概览的“今天”、分析的日/周/月、页面和导出里的时间都按这个时区计算（默认北京时间）。",
        "en": "The zone of the dashboard's today, analytics days/weeks/months and every time shown or "
        "exported (default: Beijing time).",
    },
    "brand_zone_label": {"zh": "时区", "en": "Time zone"},
    "brand_zone_hint": {
        "zh": "填写 IANA 时区名，例如 Asia/Shanghai（北京时间）、Asia/Hong_Kong、Asia/Tokyo。"
        "没有单独设置时区的客户，其免打扰时段和“第 N 天几点”也按此时区。",
        "en": "An IANA zone name, e.g. Asia/Shanghai (Beijing time), Asia/Hong_Kong, Asia/Tokyo. Contacts "
        "without a zone of their own also get their quiet hours and “day N at HH:MM” in it.",
    },
    "brand_zone_now": {
        "zh": "当前：{zone}（{name}），现在是 {now}",
        "en": "Now: {zone} ({name}), it is {now}",
    },
    "brand_zone_pinned": {
        "zh": "服务器环境变量 SIYU_TIMEZONE 已固定为 {zone}，此处的设置在其移除前不生效。",
        "en": "The server's SIYU_TIMEZONE pins it to {zone}; a zone saved here applies only once it is removed.",
    },
    "brand_zone_saved": {"zh": "已保存品牌时区：{zone}", "en": "Brand time zone saved: {zone}"},
    "brand_zone_bad": {
        "zh": "时区“{value}”无法识别：请填写 IANA 时区名，例如 Asia/Shanghai。",
        "en": "Time zone “{value}” is unknown: enter an IANA name such as Asia/Shanghai.",
    },
    "brand_save": {"zh": "保存", "en": "Save"},
    # --- shared words -------------------------------------------------------------------------
    "settings_key": {"zh": "标识", "en": "Key"},
    "settings_name": {"zh": "名称", "en": "Name"},
    "settings_kind": {"zh": "类型", "en": "Kind"},
    "settings_created_at": {"zh": "创建时间", "en": "Created"},
    "settings_create": {"zh": "创建", "en": "Create"},
    "settings_actions": {"zh": "操作", "en": "Actions"},
    "settings_never": {"zh": "从未", "en": "never"},
    "settings_field_error": {
        "zh": "{field}填写有误：{hint}（{detail}）",
        "en": "{field} is not valid: {hint} ({detail})",
    },
    "settings_created": {"zh": "已创建：{what}", "en": "Created: {what}"},
    # --- channels and entry codes ------------------------------------------------------------
    "settings_channel_list": {"zh": "渠道", "en": "Channels"},
    "settings_reach_first": {"zh": "首次来源客户", "en": "Contacts acquired"},
    "settings_reach_touched": {"zh": "触达过的客户", "en": "Contacts touched"},
    "settings_reach_help": {
        "zh": "首次来源客户：第一次就是从这里来的客户（不含已合并）；触达过的客户：任何时候经由这里接触过的客户。",
        "en": "Acquired: contacts whose first touch was here (merged ones excluded); touched: contacts "
        "who came through here at any time.",
    },
    "settings_new_channel": {"zh": "新建渠道", "en": "New channel"},
    "settings_key_placeholder": {"zh": "小写字母、数字、- 或 _", "en": "e.g. wecom-main"},
    "settings_channel_key_hint": {
        "zh": "1–64 个小写字母、数字、- 或 _",
        "en": "1–64 lower-case letters, digits, - or _, e.g. wecom-main",
    },
    "settings_channel_exists": {
        "zh": "渠道标识 {slug} 已被使用，请换一个。",
        "en": "The channel key {slug} is taken; choose another.",
    },
    "settings_entry_codes": {"zh": "活码 / 获客链接", "en": "Entry codes / acquisition links"},
    "settings_entry_codes_help": {
        "zh": "活码的 state 会随扫码或点击进来的客户一起上报（context.state），据此记录客户来源。二维码指向下方设置的落地页，并带上 state 参数。",
        "en": "An entry code's state comes back with every contact it brings (context.state) and "
        "records where they came from. The QR codes point at the landing page set below, with the state "
        "as a parameter.",
    },
    "settings_state": {"zh": "state", "en": "State"},
    "settings_state_hint": {
        "zh": "1–30 个字母、数字或 _ - .（企业微信的长度限制）",
        "en": "1–30 letters, digits or _ - . (WeCom's limit)",
    },
    "settings_state_exists": {
        "zh": "state {state} 已被其他活码使用，请换一个。",
        "en": "The state {state} is used by another entry code; choose another.",
    },
    "settings_channel": {"zh": "渠道", "en": "Channel"},
    "settings_channel_missing": {
        "zh": "渠道 {slug} 不存在，请从列表中选择。",
        "en": "There is no channel {slug}; pick one from the list.",
    },
    "settings_campaign": {"zh": "活动", "en": "Campaign"},
    "settings_optional": {"zh": "选填", "en": "optional"},
    "settings_qr": {"zh": "二维码", "en": "QR code"},
    "settings_link": {"zh": "链接", "en": "Link"},
    "settings_download_svg": {"zh": "下载 SVG", "en": "Download SVG"},
    "settings_landing_url": {"zh": "落地页地址", "en": "Landing page URL"},
    "settings_landing_hint": {
        "zh": "二维码打开的页面（H5、小程序网页等），需以 http:// 或 https:// 开头；页面需把 state 参数随数据上报。",
        "en": "The page the QR codes open (H5, mini-program web view…), starting with http:// or https://; "
        "it must send the state parameter along with its data.",
    },
    "settings_landing_invalid": {
        "zh": "落地页地址需以 http:// 或 https:// 开头，已改用默认地址。",
        "en": "The landing page URL must start with http:// or https://; the default is used instead.",
    },
    "settings_apply": {"zh": "应用", "en": "Apply"},
    "settings_new_entry_code": {"zh": "新建活码", "en": "New entry code"},
    "settings_need_channel": {
        "zh": "请先新建一个渠道，再为它创建活码。",
        "en": "Create a channel first, then entry codes for it.",
    },
    # --- providers ----------------------------------------------------------------------------
    "settings_base_url": {"zh": "接口地址", "en": "Base URL"},
    "settings_default_url": {"zh": "默认", "en": "default"},
    "settings_config": {"zh": "配置", "en": "Settings"},
    "settings_secrets_set": {"zh": "已设置的密钥", "en": "Secrets set"},
    "settings_is_default": {"zh": "默认", "en": "Default"},
    "settings_callback": {"zh": "回调地址", "en": "Callback URL"},
    "settings_delete": {"zh": "删除", "en": "Delete"},
    "settings_confirm_delete": {
        "zh": "确定删除服务商账号 {slug}？使用它的旅程将无法发送。",
        "en": "Delete the provider account {slug}? Journeys using it will not be able to send.",
    },
    "settings_provider_deleted": {
        "zh": "已删除服务商账号 {slug}。",
        "en": "Deleted the provider account {slug}.",
    },
    "settings_new_provider": {"zh": "添加服务商账号", "en": "Add a provider account"},
    "settings_config_json": {"zh": "其他配置（JSON）", "en": "Other settings (JSON)"},
    "settings_secrets_json": {"zh": "密钥（JSON）", "en": "Secrets (JSON)"},
    "settings_secrets_hint": {
        "zh": "加密保存，保存后不再显示；出错时需要重新填写。",
        "en": "Stored encrypted and never shown again; after an error they must be entered again.",
    },
    "settings_json_invalid": {
        "zh": '{field}需要是 JSON 对象，例如 {{"sign_name": "品牌名"}}。',
        "en": '{field} must be a JSON object, e.g. {{"sign_name": "Brand"}}.',
    },
    "settings_provider_fields": {"zh": "各类型需要填写的字段", "en": "Fields each kind needs"},
    "settings_provider_error": {
        "zh": "服务商账号未保存：{detail}",
        "en": "The provider account was not saved: {detail}",
    },
    "settings_field": {"zh": "字段", "en": "Field"},
    "settings_secret": {"zh": "密钥", "en": "Secret"},
    "settings_meaning": {"zh": "说明", "en": "Meaning"},
    # --- users --------------------------------------------------------------------------------
    "settings_username": {"zh": "用户名", "en": "Username"},
    "settings_display_name": {"zh": "姓名", "en": "Name"},
    "settings_role": {"zh": "角色", "en": "Role"},
    "settings_language": {"zh": "界面语言", "en": "Language"},
    "settings_lang_zh": {"zh": "中文", "en": "Chinese"},
    "settings_lang_en": {"zh": "英文", "en": "English"},
    "settings_initial_password": {"zh": "初始密码", "en": "Initial password"},
    "settings_new_password": {"zh": "新密码", "en": "New password"},
    "settings_status": {"zh": "状态", "en": "Status"},
    "settings_active": {"zh": "正常", "en": "Active"},
    "settings_disabled": {"zh": "已停用", "en": "Disabled"},
    "settings_last_login": {"zh": "最近登录", "en": "Last sign-in"},
    "settings_you": {"zh": "（你）", "en": "(you)"},
    "settings_new_user": {"zh": "新建成员", "en": "New user"},
    "settings_change_role": {"zh": "改角色", "en": "Change role"},
    "settings_disable": {"zh": "停用", "en": "Disable"},
    "settings_enable": {"zh": "启用", "en": "Enable"},
    "settings_reset_password": {"zh": "重置密码", "en": "Reset password"},
    "settings_user_created": {"zh": "已创建成员 {username}。", "en": "Created the user {username}."},
    "settings_user_updated": {
        "zh": "已更新成员 {username}；其已登录的会话需重新登录。",
        "en": "Updated the user {username}; their open sessions must sign in again.",
    },
    "settings_grant_hint": {
        "zh": "只能授予你自己拥有的权限范围内的角色。",
        "en": "You can grant only roles whose permissions you hold yourself.",
    },
    "settings_err_username": {
        "zh": "用户名需为 2–100 个字母、数字或 . _ @ + -，并以字母或数字开头。",
        "en": "A username is 2–100 letters, digits or . _ @ + -, starting with a letter or digit.",
    },
    "settings_err_username_taken": {
        "zh": "用户名 {username} 已存在，请换一个。",
        "en": "The username {username} already exists; choose another.",
    },
    "settings_err_password": {
        "zh": "密码至少需要 {min} 个字符。",
        "en": "A password needs at least {min} characters.",
    },
    "settings_err_grant": {
        "zh": "你的角色（{mine}）不能授予或修改“{role}”角色。",
        "en": "Your role ({mine}) cannot grant or change the role {role}.",
    },
    "settings_err_revoke": {
        "zh": "你的角色（{mine}）不能吊销“{role}”角色的密钥。",
        "en": "Your role ({mine}) cannot revoke a key of the role {role}.",
    },
    "settings_err_last_owner": {
        "zh": "这是最后一个所有者，不能降级或停用；请先让另一位成员成为所有者。",
        "en": "This is the last owner and cannot be demoted or disabled; make someone else an owner first.",
    },
    "settings_err_user": {"zh": "操作未完成：{detail}", "en": "Not done: {detail}"},
    # --- roles --------------------------------------------------------------------------------
    "settings_roles_intro": {
        "zh": "角色是固定的权限集合。成员和 API 密钥都各有一个角色；只能授予自己拥有的权限范围内的角色。",
        "en": "A role is a fixed set of permissions. Every user and API key has one role; you can grant "
        "only roles whose permissions you hold.",
    },
    "settings_permission": {"zh": "权限", "en": "Permission"},
    "settings_role_about_owner": {
        "zh": "全部权限，且唯一可以批量导出明文客户信息。",
        "en": "Everything, and the only role that may export PII in bulk.",
    },
    "settings_role_about_admin": {
        "zh": "运营和分析的全部权限，外加渠道、服务商、成员、密钥和操作日志。",
        "en": "All of operator and analyst, plus channels, providers, users, keys and the audit log.",
    },
    "settings_role_about_operator": {
        "zh": "日常运营：打标签、分群、旅程、内容、导入，可查看单个客户的明文信息（留痕）。",
        "en": "Day-to-day operations: tags, segments, journeys, content, imports; may reveal one contact's "
        "PII (audited).",
    },
    "settings_role_about_analyst": {
        "zh": "只读全部数据，外加导入投放花费、保存流失评分。",
        "en": "Reads everything, plus imports ad spend and stores churn scores.",
    },
    "settings_role_about_viewer": {
        "zh": "只读：概览、客户（脱敏）、分群、旅程、内容、分析。",
        "en": "Read only: dashboard, contacts (masked), segments, journeys, content, analytics.",
    },
    "settings_perm_dashboard_read": {"zh": "查看概览", "en": "View the dashboard"},
    "settings_perm_contacts_read": {"zh": "查看客户（脱敏）", "en": "View contacts (masked)"},
    "settings_perm_contacts_write": {
        "zh": "编辑客户：标签、授权、阶段",
        "en": "Edit contacts: tags, consent, stage",
    },
    "settings_perm_pii_reveal": {
        "zh": "查看单个客户明文信息（留痕）",
        "en": "Reveal one contact's PII (audited)",
    },
    "settings_perm_pii_export": {"zh": "批量导出明文客户信息", "en": "Export PII in bulk"},
    "settings_perm_privacy_export": {"zh": "导出个人信息副本（明文）", "en": "Export one person's full copy"},
    "settings_perm_privacy_delete": {
        "zh": "删除个人信息、管理勿扰名单",
        "en": "Erase a person; do-not-contact list",
    },
    "settings_perm_imports_write": {"zh": "导入客户和事件文件", "en": "Import contact and event files"},
    "settings_perm_segments_read": {"zh": "查看分群", "en": "View segments"},
    "settings_perm_segments_write": {"zh": "创建和编辑分群", "en": "Create and edit segments"},
    "settings_perm_tags_write": {"zh": "管理标签、标签组和规则", "en": "Manage tags, groups and rules"},
    "settings_perm_journeys_read": {"zh": "查看旅程", "en": "View journeys"},
    "settings_perm_journeys_write": {
        "zh": "搭建、启动、暂停旅程（会发送消息）",
        "en": "Build, start, pause journeys (anything that sends)",
    },
    "settings_perm_content_read": {"zh": "查看内容库", "en": "View content"},
    "settings_perm_content_write": {"zh": "编辑内容库", "en": "Edit content"},
    "settings_perm_analytics_read": {"zh": "运行分析、导出结果", "en": "Run analyses, export results"},
    "settings_perm_analytics_write": {
        "zh": "导入投放花费、保存流失评分",
        "en": "Import ad spend, store churn scores",
    },
    "settings_perm_channels_read": {"zh": "查看渠道和活码", "en": "View channels and entry codes"},
    "settings_perm_channels_manage": {
        "zh": "管理渠道、活码和数据源",
        "en": "Manage channels, entry codes and sources",
    },
    "settings_perm_providers_manage": {
        "zh": "管理服务商账号及其密钥",
        "en": "Manage provider accounts and their secrets",
    },
    "settings_perm_users_manage": {"zh": "管理成员", "en": "Manage users"},
    "settings_perm_keys_manage": {"zh": "管理 API 密钥", "en": "Manage API keys"},
    "settings_perm_audit_read": {"zh": "查看操作日志", "en": "Read the audit log"},
    # --- API keys -----------------------------------------------------------------------------
    "settings_prefix": {"zh": "前缀", "en": "Prefix"},
    "settings_created_by": {"zh": "创建人", "en": "Created by"},
    "settings_last_used": {"zh": "最近使用", "en": "Last used"},
    "settings_revoked": {"zh": "已吊销", "en": "Revoked"},
    "settings_key_active": {"zh": "有效", "en": "Active"},
    "settings_revoke": {"zh": "吊销", "en": "Revoke"},
    "settings_confirm_revoke": {
        "zh": "确定吊销密钥 {name}？使用它的程序将立即无法访问。",
        "en": "Revoke the key {name}? Programs using it lose access at once.",
    },
    "settings_key_revoked": {"zh": "已吊销密钥 {name}。", "en": "Revoked the key {name}."},
    "settings_new_key": {"zh": "新建 API 密钥", "en": "New API key"},
    "settings_new_key_shown": {"zh": "新密钥（{name}）", "en": "New key ({name})"},
    "settings_new_key_once": {
        "zh": "请立即复制并妥善保存。此密钥只显示这一次，系统只保存它的哈希，离开或刷新本页后无法再次查看。",
        "en": "Copy it now and keep it safe. It is shown this once; only its hash is stored, so it cannot "
        "be shown again after you leave or reload this page.",
    },
    "settings_key_usage": {
        "zh": "调用方式：请求头 Authorization: Bearer <密钥>",
        "en": "Use it as the header Authorization: Bearer <key>",
    },
    "settings_copy": {"zh": "复制", "en": "Copy"},
    "settings_copied": {"zh": "已复制", "en": "Copied"},
    "settings_err_key_name": {"zh": "密钥名称需为 1–200 个字符。", "en": "A key name is 1–200 characters."},
    # --- audit --------------------------------------------------------------------------------
    "settings_audit_at": {"zh": "时间（北京时间）", "en": "Time (Beijing)"},
    "settings_audit_actor": {"zh": "操作人", "en": "Actor"},
    "settings_audit_action": {"zh": "动作", "en": "Action"},
    "settings_audit_target_type": {"zh": "对象类型", "en": "Target type"},
    "settings_audit_target_id": {"zh": "对象 ID", "en": "Target id"},
    "settings_audit_details": {"zh": "详情", "en": "Details"},
    "settings_audit_any": {"zh": "全部", "en": "any"},
    "settings_audit_filter": {"zh": "筛选", "en": "Filter"},
    "settings_audit_clear": {"zh": "清除筛选", "en": "Clear filters"},
    "settings_audit_older": {"zh": "更早的记录 →", "en": "Older entries →"},
    "settings_audit_newest": {"zh": "← 回到最新", "en": "← Newest"},
    "settings_audit_actor_hint": {
        "zh": "与列表中“操作人”一栏的写法相同",
        "en": "e.g. user:alice, key:sk_AbCdEfG",
    },
    "settings_audit_none": {"zh": "没有符合条件的记录。", "en": "No entries match."},
}

#: Channel kinds' names (siyu.store.models.CHANNEL_KINDS), for the channel list and form.
KIND_NAMES: dict[str, dict[str, str]] = {
    "wecom": {"zh": "企业微信", "en": "WeCom"},
    "wechat_group": {"zh": "微信群", "en": "WeChat group"},
    "official_account": {"zh": "公众号", "en": "Official account"},
    "mini_program": {"zh": "小程序", "en": "Mini program"},
    "app": {"zh": "App", "en": "App"},
    "sms": {"zh": "短信", "en": "SMS"},
    "email": {"zh": "邮件", "en": "Email"},
    "store": {"zh": "门店", "en": "Store"},
    "douyin": {"zh": "抖音", "en": "Douyin"},
    "taobao": {"zh": "淘宝 / 天猫", "en": "Taobao / Tmall"},
    "kuaishou": {"zh": "快手", "en": "Kuaishou"},
    "xiaohongshu": {"zh": "小红书", "en": "Xiaohongshu"},
    "weibo": {"zh": "微博", "en": "Weibo"},
    "ads": {"zh": "广告投放", "en": "Ads"},
    "other": {"zh": "其他", "en": "Other"},
}
TEXT.update({f"settings_kind_{k}": v for k, v in KIND_NAMES.items()})
