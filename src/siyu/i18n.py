"""User-facing text in English and Simplified Chinese.

The language comes from ``SIYU_LANG`` (``en`` or ``zh``), else from ``LANG``/``LC_ALL``
(``zh_CN.UTF-8`` → zh), else English. Messages are looked up by key so a missing translation is
a test failure, not a silent English fallback.
"""

from __future__ import annotations

import os
from typing import Any

MESSAGES: dict[str, dict[str, str]] = {
    "password_prompt": {"en": "Password: ", "zh": "密码："},
    "password_again": {"en": "Password again: ", "zh": "再次输入密码："},
    "password_mismatch": {"en": "The two passwords differ.", "zh": "两次输入的密码不一致。"},
    "user_created": {
        "en": "User {username} created with role {role}.",
        "zh": "已创建用户 {username}，角色 {role}。",
    },
    "user_updated": {
        "en": "User {username} updated (role {role}).",
        "zh": "已更新用户 {username}（角色 {role}）。",
    },
    "api_key_created": {
        "en": "API key {name} ({role}) created. It is shown only now; store it safely:\n{key}",
        "zh": "已创建接口密钥 {name}（{role}）。密钥只显示这一次，请妥善保存：\n{key}",
    },
    "api_key_revoked": {"en": "API key {prefix}… revoked.", "zh": "接口密钥 {prefix}… 已吊销。"},
    "wecom_cb_id": {"en": "ID", "zh": "编号"},
    "wecom_cb_received": {"en": "Received", "zh": "收到时间"},
    "wecom_cb_event": {"en": "Event", "zh": "事件"},
    "wecom_cb_status": {"en": "Status", "zh": "状态"},
    "wecom_cb_attempts": {"en": "Attempts", "zh": "处理次数"},
    "wecom_cb_error": {"en": "Last error", "zh": "最近错误"},
    "wecom_cb_none": {"en": "No callbacks received.", "zh": "尚未收到回调。"},
    "wecom_cb_retried": {
        "en": "{n} callback(s) queued again; processed: {done}.",
        "zh": "已重新排队 {n} 条回调；处理结果：{done}。",
    },
    "wecom_cb_processed": {"en": "Processed: {done}.", "zh": "处理结果：{done}。"},
    "wecom_cb_setup": {
        "en": "Paste into WeCom's admin (API receive settings):\n  URL: {url}\n  Token set: {token}\n  EncodingAESKey set: {key}",
        "zh": "请填入企业微信管理后台（接收事件服务器）：\n  URL：{url}\n  Token 已设置：{token}\n  EncodingAESKey 已设置：{key}",
    },
    "wecom_tags_synced": {
        "en": "Corp tags synced: {groups} groups, {tags} tags ({created} new, {deleted} deleted).",
        "zh": "企业标签已同步：{groups} 个标签组，{tags} 个标签（新增 {created}，已删除 {deleted}）。",
    },
    "retention_policy": {"en": "Policy", "zh": "策略"},
    "retention_keep": {"en": "Kept for", "zh": "保留期限"},
    "retention_events": {"en": "Events", "zh": "行为事件"},
    "retention_events_rule": {"en": "Events: {event}", "zh": "行为事件：{event}"},
    "retention_contacts": {"en": "Inactive contacts", "zh": "不活跃联系人"},
    "retention_outbox": {"en": "Message bodies after delivery", "zh": "已送达消息的正文"},
    "retention_audit": {"en": "Audit log entries", "zh": "审计日志"},
    "retention_off": {"en": "kept (off)", "zh": "不删除（未开启）"},
    "retention_days": {"en": "{n} days", "zh": "{n}天"},
    "retention_years": {"en": "{n} years", "zh": "{n}年"},
    "retention_last_run": {"en": "Last run finished at {at}.", "zh": "上次执行完成于 {at}。"},
    "retention_never_run": {"en": "Not run yet.", "zh": "尚未执行过。"},
    "retention_saved": {"en": "Retention policies saved.", "zh": "保留策略已保存。"},
    "retention_removed": {"en": "Removed", "zh": "已删除"},
    "retention_would_remove": {"en": "Would remove", "zh": "将删除"},
    "retention_bad_number": {
        "en": "{option}: {value!r} is not a whole number or off.",
        "zh": "{option}：{value!r} 不是整数，也不是 off。",
    },
    "retention_bad_rule": {
        "en": "--events #{index}: {value!r} is not NAME=DAYS (e.g. 'Page Viewed=90', '*=730').",
        "zh": "--events 第 {index} 项：{value!r} 不是“事件名=天数”（例如 'Page Viewed=90'、'*=730'）。",
    },
    "audit_intact": {
        "en": "The audit log is intact: {entries} entries verified.",
        "zh": "审计日志完整：已校验 {entries} 条。",
    },
    "audit_problem_changed": {
        "en": "entry #{id} was changed after it was written",
        "zh": "第 #{id} 条记录在写入后被修改",
    },
    "audit_problem_missing_before": {
        "en": "entries before #{id} (chain position {seq}) were deleted",
        "zh": "第 #{id} 条（链上第 {seq} 条）之前的记录被删除",
    },
    "audit_problem_relinked": {
        "en": "the entry before #{id} was replaced",
        "zh": "第 #{id} 条之前的一条记录被替换",
    },
    "audit_problem_missing_after": {
        "en": "the newest entries (up to chain position {seq}) were deleted",
        "zh": "最新的记录被删除（链上原有 {seq} 条）",
    },
    "audit_problem_checkpoint": {
        "en": "the retention checkpoint was changed",
        "zh": "保留策略的检查点被修改",
    },
    "audit_broken": {
        "en": "The audit log was tampered with; first broken entry #{id}: {what}",
        "zh": "审计日志已被篡改，第一处损坏在 #{id}：{what}",
    },
    "first_login": {
        "en": "First run: sign in at {url} as {username} with password {password} (shown once; change it with `siyu users set {username} --password`).",
        "zh": "首次运行：请在 {url} 用账号 {username}、密码 {password} 登录（只显示一次；用 `siyu users set {username} --password` 修改）。",
    },
    "journey_state": {
        "en": "Journey {key}: {status} (version {version}).",
        "zh": "旅程 {key}：{status}（第 {version} 版）。",
    },
    "journey_waiting": {
        "en": "Journey {key}, step {step}: {total} waiting.",
        "zh": "旅程 {key} 的步骤 {step}：{total} 人停留。",
    },
    "journey_totals": {
        "en": "Journey {key}: {enrolled} enrolled, {active} in progress, {converted} converted ({rate}).",
        "zh": "旅程 {key}：共进入 {enrolled} 人，进行中 {active} 人，转化 {converted} 人（{rate}）。",
    },
    "journey_variant": {
        "en": "Split {split}, variant {variant}: {entered} entered, {sent} sent, {clicked} clicked, {converted} converted.",
        "zh": "分流 {split} 的 {variant} 组：进入 {entered}，发送 {sent}，点击 {clicked}，转化 {converted}。",
    },
    "journey_enrolled": {
        "en": "{enrolled} enrolled from {rows} rows ({matched} matched a contact, {missing} did not).",
        "zh": "名单 {rows} 行，匹配到 {matched} 人，新加入 {enrolled} 人（{missing} 行未找到联系人）。",
    },
    "provider_added": {"en": "Provider {key} ({kind}) added.", "zh": "已添加服务商 {key}（{kind}）。"},
    "provider_deleted": {"en": "Provider {key} deleted.", "zh": "已删除服务商 {key}。"},
    "worker_round": {
        "en": "{enrolled} enrolled, {steps} steps run, {queued} messages queued, {sent} sent, {failed} failed.",
        "zh": "新进入 {enrolled} 人，执行 {steps} 步，生成消息 {queued} 条，发送 {sent} 条，失败 {failed} 条。",
    },
    "worker_running": {
        "en": "Journey worker running; Ctrl-C stops it.",
        "zh": "旅程执行器运行中，按 Ctrl-C 停止。",
    },
    "migrated": {
        "en": "Database is at the latest schema ({rev}).",
        "zh": "数据库已升级到最新结构（{rev}）。",
    },
    "imported": {
        "en": "{accepted} accepted, {duplicates} duplicates, {rejected} rejected ({lines} lines).",
        "zh": "接收 {accepted} 条，重复 {duplicates} 条，拒绝 {rejected} 条（共 {lines} 行）。",
    },
    "dead_letter": {
        "en": "Rejected records were written to {path} (encrypted); read them with `siyu import rejected {job}`.",
        "zh": "被拒绝的记录已写入 {path}（已加密）；用 `siyu import rejected {job}` 查看。",
    },
    "dead_letter_purged": {
        "en": "The rejected lines of import {job} were purged (past SIYU_DEAD_LETTER_RETENTION_DAYS).",
        "zh": "导入任务 {job} 被拒绝的行已按保留期限清除。",
    },
    "rejected_line": {
        "en": "line {line}, {field}: {reason}",
        "zh": "第 {line} 行，{field}：{reason}",
    },
    "more_errors": {"en": "… and {n} more", "zh": "……另有 {n} 条"},
    "import_note": {
        "en": "row {line}, {field}: {reason}",
        "zh": "第 {line} 行，{field}：{reason}",
    },
    "import_columns": {"en": "How the columns map", "zh": "列映射"},
    "import_column": {"en": "column", "zh": "列"},
    "import_field": {"en": "field", "zh": "字段"},
    "import_how": {"en": "why", "zh": "依据"},
    "import_how_given": {"en": "--map", "zh": "--map 指定"},
    "import_how_identifier": {"en": "identifier name", "zh": "标识名称"},
    "import_how_alias": {"en": "known header", "zh": "常用表头"},
    "import_how_own": {"en": "its own name", "zh": "沿用列名"},
    "import_how_skipped": {"en": "skipped", "zh": "跳过"},
    "import_dry_run": {
        "en": "Dry run: {valid} rows would be imported, {rejected} rejected ({lines} rows); nothing was written.",
        "zh": "预检：可导入 {valid} 行，拒绝 {rejected} 行（共 {lines} 行）；未写入任何数据。",
    },
    "import_all_rejected": {
        "en": "Nothing was imported: all {lines} rows were rejected.",
        "zh": "未导入任何数据：全部 {lines} 行均被拒绝。",
    },
    "not_found": {"en": "Not found: {what}", "zh": "未找到：{what}"},
    "error": {"en": "Error: {what}", "zh": "错误：{what}"},
    "source_created": {
        "en": "Source {name} created. Write key (use as the HTTP basic-auth user): {key}",
        "zh": "已创建数据源 {name}。写入密钥（作为 HTTP Basic 认证用户名）：{key}",
    },
    "channel_created": {
        "en": "Channel {key} ({kind}) created.",
        "zh": "已创建渠道 {key}（{kind}）。",
    },
    "entry_code_created": {"en": "Entry code {state} created.", "zh": "已创建活码 {state}。"},
    "demo_done": {
        "en": "Demo brand ready: {contacts} contacts, {events} events, {merges} merges in {seconds:.1f}s.",
        "zh": "演示品牌已生成：{contacts} 位联系人，{events} 条事件，{merges} 次合并，用时 {seconds:.1f} 秒。",
    },
    "serving": {
        "en": "siyu is serving at http://{host}:{port} (API docs at /docs). Press Ctrl+C to stop.",
        "zh": "siyu 已启动：http://{host}:{port}（API 文档 /docs）。按 Ctrl+C 停止。",
    },
    "warehouse_fed": {
        "en": "Warehouse: {events} events, {contacts} contacts and {merges} merges shipped.",
        "zh": "数据仓库：已同步 {events} 条事件、{contacts} 位联系人、{merges} 次合并。",
    },
    "keys_rotated": {
        "en": "Re-encrypted {count} identifiers with the first configured key.",
        "zh": "已用第一个密钥重新加密 {count} 个标识。",
    },
    "consent_recorded": {"en": "Consent recorded.", "zh": "已记录授权。"},
    "contact_corrected": {"en": "Contact #{id} corrected.", "zh": "已更正联系人 #{id}。"},
    "contact_deleted": {
        "en": "Deleted: receipt {deletion_id} at {at}, {total} rows, warehouse {warehouse}, sha256 {digest}",
        "zh": "已删除：回执 {deletion_id}，时间 {at}，共 {total} 行，数仓 {warehouse}，sha256 {digest}",
    },
    "copy_written": {"en": "Copy written to {path}.", "zh": "副本已写入 {path}。"},
    "dnc_removed": {"en": "Do-not-contact entry {id} removed.", "zh": "已移除勿扰条目 {id}。"},
    "profile_first_channel": {"en": "first channel", "zh": "首次来源渠道"},
    "profile_tags": {"en": "tags", "zh": "标签"},
    "profile_events": {"en": "events", "zh": "行为数"},
    "profile_touches": {"en": "Touches", "zh": "触点"},
    "profile_recent": {"en": "Recent events (latest {n})", "zh": "近期行为（最近 {n} 条）"},
    "profile_trait_history": {"en": "Trait history (traits that changed)", "zh": "属性变更历史"},
    "profile_col_at": {"en": "time (UTC)", "zh": "时间（UTC）"},
    "profile_col_channel": {"en": "channel", "zh": "渠道"},
    "profile_col_first": {"en": "first", "zh": "首次"},
    "profile_col_event": {"en": "event", "zh": "事件"},
    "profile_col_properties": {"en": "properties", "zh": "属性"},
    "profile_col_trait": {"en": "trait", "zh": "属性"},
    "profile_col_previous": {"en": "was", "zh": "原值"},
    "profile_col_value": {"en": "became", "zh": "新值"},
    "demo_already": {
        "en": "The demo brand is already loaded ({contacts} contacts); added {tags} tags, {segments} segments, "
        "{templates} templates and {journeys} journeys that were missing.",
        "zh": "演示品牌已存在（{contacts} 位联系人）；补充了缺少的标签 {tags} 个、人群 {segments} 个、模板 {templates} 个、旅程 {journeys} 个。",
    },
    "demo_exists": {
        "en": "Data already present ({contacts} contacts); demo data not loaded again.",
        "zh": "已有数据（{contacts} 位联系人），不再重复生成演示数据。",
    },
    "importing": {"en": "Importing", "zh": "正在导入"},
    "segment_created": {
        "en": "Segment {key} created with {members} members.",
        "zh": "人群 {key} 已创建，共 {members} 人。",
    },
    "segment_preview": {
        "en": "{count} contacts match; sample: {sample}",
        "zh": "符合条件 {count} 人；样本：{sample}",
    },
    "segment_recomputed": {
        "en": "{key}: {mode} recompute, {members} members (+{entered} / -{exited}) in {seconds}s",
        "zh": "{key}：{mode} 重算，{members} 人（进入 {entered}，退出 {exited}），用时 {seconds} 秒",
    },
    "segment_deleted": {"en": "Segment {key} deleted.", "zh": "人群 {key} 已删除。"},
    "segment_updated": {
        "en": "Segment {key} saved as version {version}: {members} members.",
        "zh": "人群 {key} 已保存为第 {version} 版：{members} 人。",
    },
    "segment_exported": {
        "en": "{rows} members of {key} written to {output}.",
        "zh": "已将人群 {key} 的 {rows} 位成员导出到 {output}。",
    },
    "tag_created": {"en": "Tag {key} created.", "zh": "标签 {key} 已创建。"},
    "tag_group_created": {"en": "Tag group {name} created.", "zh": "标签组 {name} 已创建。"},
    "tags_applied": {
        "en": "{key}: added to {added} contacts, reinforced on {reinforced}.",
        "zh": "{key}：新打标 {added} 人，加权 {reinforced} 人。",
    },
    "tags_removed": {"en": "{key}: removed from {removed} contacts.", "zh": "{key}：已从 {removed} 人移除。"},
    "tags_imported": {
        "en": "{rows} rows: {applied} applied, {rejected} rejected.",
        "zh": "共 {rows} 行：应用 {applied} 行，拒绝 {rejected} 行。",
    },
    "tag_rule_created": {"en": "Tagging rule {name} created.", "zh": "打标规则 {name} 已创建。"},
    "tag_rules_ran": {
        "en": "{events} events read, {matched} rule matches.",
        "zh": "读取 {events} 条事件，规则命中 {matched} 次。",
    },
    "stages_assigned": {
        "en": "{evaluated} contacts classified, {changed} changed stage.",
        "zh": "已分类 {evaluated} 人，其中 {changed} 人阶段变化。",
    },
    "stage_of": {"en": "Contact {contact}: {stage}", "zh": "联系人 {contact}：{stage}"},
    "stage_set": {"en": "Stage set to {stage}.", "zh": "阶段已设为 {stage}。"},
    "rfm_computed": {
        "en": "RFM scores for {contacts} customers ({changed} changed).",
        "zh": "已计算 {contacts} 位顾客的 RFM（{changed} 人变化）。",
    },
    "rfm_none": {"en": "No orders, no RFM scores.", "zh": "无订单，没有 RFM。"},
    "template_created": {
        "en": "Template {key} ({channel}) created.",
        "zh": "已创建模板 {key}（{channel}）。",
    },
    "template_updated": {
        "en": "Template {key} ({channel}) updated.",
        "zh": "已更新模板 {key}（{channel}）。",
    },
    "template_deleted": {"en": "Template {key} deleted.", "zh": "已删除模板 {key}。"},
    "material_created": {"en": "Material {key} ({kind}) created.", "zh": "已创建素材 {key}（{kind}）。"},
    "render_error": {"en": "Render problem: {what}", "zh": "渲染问题：{what}"},
    "material_deleted": {"en": "Material {key} deleted.", "zh": "已删除素材 {key}。"},
    "file_uploaded": {
        "en": "Uploaded {name} ({size} bytes) as file {id}.",
        "zh": "已上传 {name}（{size} 字节），文件编号 {id}。",
    },
    "sms_count": {
        "en": "{chars} characters with the signature: {parts} part(s) ({per_part} per part), {left} left.",
        "zh": "含签名共 {chars} 字：计 {parts} 条（每条 {per_part} 字），本条还可写 {left} 字。",
    },
    "spend_imported": {
        "en": "{rows} rows: {inserted} new, {updated} updated, {unchanged} unchanged, {rejected} rejected.",
        "zh": "共 {rows} 行：新增 {inserted} 行，更新 {updated} 行，未变 {unchanged} 行，拒绝 {rejected} 行。",
    },
    "spend_none": {"en": "No spend imported yet.", "zh": "尚未导入投放花费。"},
    "churn_summary": {
        "en": "Churn risk as of {as_of}: {at_risk} of {scored} contacts at or above {threshold}; holdout AUC {auc}.",
        "zh": "截至 {as_of} 的流失风险：{scored} 位联系人中 {at_risk} 位不低于 {threshold}；留出集 AUC {auc}。",
    },
    "wecom_way_updated": {"en": "Entry code {state} updated.", "zh": "已更新活码 {state}。"},
    "wecom_way_deleted": {
        "en": "Entry code {state} deleted at WeCom; its figures stay.",
        "zh": "已在企业微信删除活码 {state}；其数据保留。",
    },
    "wecom_sync_done": {
        "en": "Sync {status}: {staff_total} staff, {follows_seen} customer relations, {contacts_created} new "
        "contacts, {follows_closed} closed, {rate_limited} rate-limit answers.",
        "zh": "同步{status}：{staff_total} 名员工，{follows_seen} 条客户关系，新建 {contacts_created} 位联系人，"
        "关闭 {follows_closed} 条，限频 {rate_limited} 次。",
    },
    "wecom_sync_progress": {
        "en": "{staff_done}/{staff_total} staff, {follows_seen} relations",
        "zh": "{staff_done}/{staff_total} 名员工，{follows_seen} 条客户关系",
    },
    "wecom_link_customers": {
        "en": "{customers} customers through the link: {attributed} attributed now, {pending} not synced yet.",
        "zh": "经链接添加 {customers} 位客户：本次归因 {attributed} 位，{pending} 位尚未同步。",
    },
    "staff_transfer_done": {
        "en": "{waiting} transfers accepted by WeCom (the customers have 24 h to object), {failed} refused.",
        "zh": "企业微信已受理 {waiting} 位客户的转接（客户 24 小时内可拒绝），{failed} 位被拒绝。",
    },
    "churn_no_auc": {"en": "n/a ({reason})", "zh": "无（{reason}）"},
    "churn_stored": {
        "en": "Scores stored: {inserted} new, {updated} updated, {deleted} removed, {unchanged} unchanged.",
        "zh": "评分已保存：新增 {inserted}，更新 {updated}，删除 {deleted}，未变 {unchanged}。",
    },
}


def language() -> str:
    lang = os.environ.get("SIYU_LANG") or os.environ.get("LC_ALL") or os.environ.get("LANG") or "en"
    return "zh" if lang.lower().startswith("zh") else "en"


def t(message: str, /, *, lang: str | None = None, **params: Any) -> str:
    """The text of ``message`` in the user's language. Positional-only, so a parameter may be
    called ``key`` or ``message``."""
    return MESSAGES[message][lang or language()].format(**params)
