"""Console text shared by every page (layout, sign-in, errors)."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "app_name": {"zh": "私域运营台", "en": "siyu console"},
    "nav_dashboard": {"zh": "概览", "en": "Dashboard"},
    "nav_contacts": {"zh": "客户", "en": "Contacts"},
    "nav_imports": {"zh": "导入", "en": "Imports"},
    "nav_segments": {"zh": "分群", "en": "Segments"},
    "nav_journeys": {"zh": "SOP 旅程", "en": "Journeys"},
    "nav_content": {"zh": "内容库", "en": "Content"},
    "nav_analytics": {"zh": "分析", "en": "Analytics"},
    "nav_settings": {"zh": "设置", "en": "Settings"},
    "sign_in": {"zh": "登录", "en": "Sign in"},
    "sign_out": {"zh": "退出", "en": "Sign out"},
    "username": {"zh": "用户名", "en": "Username"},
    "password": {"zh": "密码", "en": "Password"},
    "language": {"zh": "语言", "en": "Language"},
    "switch_language": {"zh": "English", "en": "中文"},
    "times_in_zone": {"zh": "本页时间均为{zone}", "en": "Times on this page are {zone}"},
    "login_failed": {
        "zh": "用户名或密码不正确。请检查后重试；忘记密码请联系管理员重置。",
        "en": "Wrong username or password. Check them and try again; if you forgot it, ask an admin to reset it.",
    },
    "login_throttled": {
        "zh": "登录失败次数过多，已暂时锁定。请在 {seconds} 秒后重试。",
        "en": "Too many failed sign-ins; locked for now. Try again in {seconds} seconds.",
    },
    "session_expired": {
        "zh": "页面已过期（安全校验失败）。请刷新页面后重试。",
        "en": "This page has expired (security check failed). Reload the page and try again.",
    },
    "forbidden": {
        "zh": "你的角色（{role}）没有此权限（{permission}）。如需使用，请联系管理员调整角色。",
        "en": "Your role ({role}) lacks the permission {permission}. Ask an admin to change your role if you need it.",
    },
    "not_found": {
        "zh": "没有找到：{what}。请检查输入，或返回列表重新选择。",
        "en": "Not found: {what}. Check what you entered, or go back to the list and pick again.",
    },
    "invalid_input": {
        "zh": "输入有误：{what}。请修改后重新提交。",
        "en": "Invalid input: {what}. Correct it and submit again.",
    },
    "server_error": {
        "zh": "出错了：{what}。请稍后重试；如果一再发生，请把这段信息发给管理员。",
        "en": "Something went wrong: {what}. Try again shortly; if it keeps happening, send this message to an admin.",
    },
    "error_title": {"zh": "出错了", "en": "Something went wrong"},
    "back": {"zh": "返回", "en": "Back"},
    "coming_soon": {
        "zh": "即将推出：{what}。当前可用的功能已在上方列出。",
        "en": "Coming: {what}. What already works is shown above.",
    },
    "signed_in_as": {"zh": "当前用户", "en": "Signed in as"},
    "role": {"zh": "角色", "en": "Role"},
    "saved": {"zh": "已保存。", "en": "Saved."},
    "search": {"zh": "搜索", "en": "Search"},
    "export_csv": {"zh": "导出 CSV", "en": "Export CSV"},
    "none_yet": {"zh": "暂无数据。", "en": "Nothing here yet."},
    "loading": {"zh": "加载中…", "en": "Loading…"},
}
