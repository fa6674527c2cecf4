"""What stored codes read as on a page: identifier types, stages, RFM segment names, statuses,
exit reasons, step kinds, triggers, operators, channels. One table per kind of code, so a page
never shows ``send_limit`` or ``wechat_unionid``; templates write ``{{ e.exit_reason | label('exit_reason') }}``
and handlers call ``label("stage", code, lang)``. A code missing from its table is shown as it is
(it is then the brand's own name, e.g. an RFM segment it named itself), and the zh crawler test
(tests/console/test_zh_pages.py) fails if it is a code.

Kept apart from the page texts (``TEXT``) because these are keyed by the stored value, not by a
text key, and several pages (and later ones) share them."""

from __future__ import annotations

import re
from typing import Any

Table = dict[str, dict[str, str]]


def _t(**pairs: tuple[str, str]) -> Table:
    return {code: {"zh": zh, "en": en} for code, (zh, en) in pairs.items()}


LABELS: dict[str, Table] = {
    "identifier": _t(
        customer_no=("会员号", "Member number"),
        phone=("手机号", "Phone"),
        email=("邮箱", "Email"),
        wechat_unionid=("微信 UnionID", "WeChat UnionID"),
        wecom_external_userid=("企业微信客户 ID", "WeCom external contact ID"),
        wechat_openid=("微信 OpenID", "WeChat OpenID"),
        douyin_openid=("抖音 OpenID", "Douyin OpenID"),
        taobao_nick=("淘宝昵称", "Taobao nickname"),
        app_device_id=("App 设备号", "App device ID"),
    ),
    "stage": _t(
        acquisition=("获客", "Acquisition"),
        retention=("留存", "Retention"),
        conversion=("转化", "Conversion"),
        repurchase=("复购", "Repurchase"),
        advocacy=("推荐", "Advocacy"),
        dormant=("沉睡", "Dormant"),
        churned=("流失", "Churned"),
    ),
    # The default RFM map's names (rfm.schemas.DEFAULT_RULES); names a brand gives its own
    # rules are shown as written.
    "rfm": {
        "Champions": {"zh": "重要价值客户", "en": "Champions"},
        "Loyal": {"zh": "忠诚客户", "en": "Loyal"},
        "Potential Loyalist": {"zh": "潜力客户", "en": "Potential Loyalist"},
        "New": {"zh": "新客户", "en": "New"},
        "Promising": {"zh": "有望客户", "en": "Promising"},
        "Need Attention": {"zh": "需关注客户", "en": "Need Attention"},
        "About To Sleep": {"zh": "即将沉睡客户", "en": "About To Sleep"},
        "Can't Lose Them": {"zh": "重要挽留客户", "en": "Can't Lose Them"},
        "At Risk": {"zh": "流失风险客户", "en": "At Risk"},
        "Lost": {"zh": "已流失客户", "en": "Lost"},
    },
    "journey_status": _t(
        draft=("草稿", "Draft"),
        active=("运行中", "Active"),
        paused=("已暂停", "Paused"),
        archived=("已归档", "Archived"),
    ),
    "enrolment_status": _t(
        active=("进行中", "In progress"),
        completed=("已完成", "Completed"),
        exited=("已退出", "Exited"),
        converted=("已转化", "Converted"),
    ),
    "exit_reason": _t(
        end=("走完全部步骤", "Reached the end"),
        goal=("达成目标", "Reached the goal"),
        left_segment=("离开分群", "Left the segment"),
        send_limit=("发送次数达到上限", "Send limit reached"),
        step_removed=("所在步骤已删除", "Its step was removed"),
        merged=("客户已合并", "Contact merged"),
        erased=("客户已删除", "Contact erased"),
        exit=("退出步骤", "Exit step"),
    ),
    "outbox_status": _t(
        pending=("待发送", "Pending"),
        sending=("发送中", "Sending"),
        sent=("已发送", "Sent"),
        delivered=("已送达", "Delivered"),
        failed=("失败", "Failed"),
        fallback=("已转短信", "Fell back to SMS"),
        retry=("待重试", "Retrying"),
        held=("暂缓", "Held"),
        cancelled=("已取消", "Cancelled"),
    ),
    "import_status": _t(
        running=("导入中", "Running"),
        done=("已完成", "Done"),
        failed=("失败", "Failed"),
    ),
    # A journey step's outcome (journeys.report.OUTCOMES), per step on the journey page.
    "outcome": _t(
        entered=("进入", "Entered"),
        queued=("已排队发送", "Queued"),
        held_quiet=("免打扰时段暂缓", "Held (quiet hours)"),
        skipped_quiet=("免打扰跳过", "Skipped (quiet hours)"),
        skipped_cap=("频次上限跳过", "Skipped (frequency cap)"),
        skipped_consent=("未授权跳过", "Skipped (no consent)"),
        skipped_no_address=("无联系方式跳过", "Skipped (no address)"),
        skipped_at_send=("发送前复核跳过", "Skipped at send time (consent, do-not-contact or quiet hours)"),
        send_limit=("发送次数达到上限", "Send limit reached"),
        failed=("失败", "Failed"),
        converted=("已转化", "Converted"),
        exited=("已退出", "Exited"),
        completed=("已完成", "Completed"),
        event=("等到事件", "Event arrived"),
        timeout=("等待超时", "Timed out"),
    ),
    "step_kind": _t(
        wait=("等待", "Wait"),
        wait_until=("等到指定时间", "Wait until"),
        wait_for=("等待事件", "Wait for an event"),
        branch=("条件分支", "Branch"),
        split=("A/B 分流", "A/B split"),
        send=("发送消息", "Send"),
        webhook=("调用 Webhook", "Webhook"),
        wecom_tags=("同步企业微信标签", "Sync WeCom tags"),
        add_tag=("打标签", "Add tag"),
        remove_tag=("移除标签", "Remove tag"),
        set_stage=("设置阶段", "Set stage"),
        set_attribute=("设置属性", "Set attribute"),
        award_points=("发放积分", "Award points"),
        issue_coupon=("发放优惠券", "Issue a coupon"),
        exit=("退出", "Exit"),
    ),
    "trigger": _t(
        segment_entered=("进入分群", "Entered a segment"),
        event=("发生事件", "Did an event"),
        tag_added=("被打上标签", "Tagged"),
        stage_changed=("阶段变化", "Stage changed"),
        date=("日期（如生日）", "A date (e.g. birthday)"),
        broadcast=("群发给分群", "Broadcast to a segment"),
        list=("手动加入", "Added by hand"),
    ),
    "operator": _t(
        eq=("等于", "equals"),
        ne=("不等于", "does not equal"),
        lt=("小于", "less than"),
        lte=("小于等于", "at most"),
        gt=("大于", "greater than"),
        gte=("大于等于", "at least"),
        in_=("属于", "is one of"),
        not_in=("不属于", "is none of"),
        contains=("包含", "contains"),
        is_set=("有值", "is set"),
        not_set=("无值", "is not set"),
        between=("介于", "between"),
        before=("早于", "before"),
        after=("晚于", "after"),
        within_last_days=("在最近 N 天内", "within the last N days"),
        within_next_days=("在未来 N 天内", "within the next N days"),
        anniversary_within_days=("周年日在未来 N 天内", "anniversary within N days"),
        any=("任一", "any"),
        all=("全部", "all"),
        none=("都没有", "none"),
        and_=("并且", "and"),
        or_=("或者", "or"),
    ),
    # Message channels (channels.base.MESSAGE_CHANNELS) and the kinds of acquisition channels.
    "channel": _t(
        wecom=("企业微信", "WeCom"),
        wecom_private=("企业微信私聊", "WeCom 1:1"),
        wecom_group=("企业微信群", "WeCom group"),
        wecom_moment=("企业微信朋友圈", "WeCom Moments"),
        wecom_welcome=("企业微信欢迎语", "WeCom welcome"),
        wecom_tag=("企业微信标签", "WeCom tags"),
        sms=("短信", "SMS"),
        smart_sms=("智能短信（5G 卡片）", "Smart SMS (5G card)"),
        email=("邮件", "Email"),
        webhook=("Webhook", "Webhook"),
        wechat_group=("微信群", "WeChat group"),
        official_account=("公众号", "Official account"),
        mini_program=("小程序", "Mini-program"),
        app=("App", "App"),
        store=("门店", "Store"),
        douyin=("抖音", "Douyin"),
        xiaohongshu=("小红书", "Xiaohongshu"),
        taobao=("淘宝", "Taobao"),
        ads=("广告", "Ads"),
        other=("其它", "Other"),
    ),
    "provider": _t(
        wecom=("企业微信", "WeCom"),
        aliyun_sms=("阿里云短信", "Alibaba Cloud SMS"),
        tencent_sms=("腾讯云短信", "Tencent Cloud SMS"),
        smart_sms=("智能短信平台", "Smart SMS platform"),
        smtp=("邮件（SMTP）", "Email (SMTP)"),
        webhook=("Webhook", "Webhook"),
    ),
    "purpose": _t(
        marketing=("营销", "Marketing"),
        service=("服务通知", "Service"),
        analytics=("分析", "Analytics"),
    ),
    "tag_source": _t(
        manual=("手动", "Manual"),
        rule=("规则", "Rule"),
        keyword=("关键词", "Keyword"),
        journey=("旅程", "Journey"),
        segment=("分群", "Segment"),
        merge=("合并", "Merge"),
        wecom=("企业微信", "WeCom"),
        console=("运营台", "Console"),
        python=("Python 接口", "Python API"),
        api=("API", "API"),
        cli=("命令行", "CLI"),
        test=("测试", "Test"),
        demo=("演示数据", "Demo"),
        **{"import": ("导入", "Import")},
    ),
    "wecom_change": _t(
        add_external_contact=("客户添加员工", "Customer added"),
        edit_external_contact=("编辑客户", "Customer edited"),
        add_half_external_contact=("客户申请添加（待通过）", "Customer add pending"),
        del_external_contact=("员工删除客户", "Staff deleted customer"),
        del_follow_user=("客户删除员工（流失）", "Customer deleted staff (churn)"),
        transfer_fail=("客户继承失败", "Transfer failed"),
        create=("创建", "Created"),
        update=("更新", "Updated"),
        delete=("删除", "Deleted"),
        dismiss=("解散", "Dismissed"),
        shuffle=("重新排序", "Reordered"),
    ),
    "wecom_event": _t(
        change_external_contact=("客户变更", "Customer change"),
        change_external_chat=("客户群变更", "Group change"),
        change_external_tag=("企业标签变更", "Corp tag change"),
    ),
    "callback_status": _t(
        pending=("待处理", "Pending"),
        done=("已处理", "Done"),
        unhandled=("无需处理", "Not handled"),
        failed=("失败", "Failed"),
    ),
    "wecom_add_way": _t(
        **{
            "0": ("未知来源", "Unknown"),
            "1": ("扫描二维码", "Scanned a QR code"),
            "2": ("搜索手机号", "Phone search"),
            "3": ("名片分享", "Business card"),
            "4": ("群聊", "Group chat"),
            "5": ("手机通讯录", "Phone contacts"),
            "6": ("微信联系人", "WeChat contacts"),
            "8": ("第三方应用", "Third-party app"),
            "9": ("搜索邮箱", "Email search"),
            "10": ("视频号", "Channels"),
            "11": ("日程参与人", "Schedule"),
            "12": ("会议参与人", "Meeting"),
            "13": ("微信好友", "WeChat friend"),
            "14": ("智慧硬件", "Smart device"),
            "15": ("上门服务", "Home service"),
            "16": ("获客链接", "Acquisition link"),
            "17": ("定制", "Custom"),
            "18": ("需求回复", "Request reply"),
            "201": ("内部成员共享", "Shared by a colleague"),
            "202": ("管理员分配", "Assigned by admin"),
        }
    ),
    "consent_state": _t(
        granted=("已授权", "Granted"),
        withdrawn=("已撤回", "Withdrawn"),
        unknown=("未知", "Unknown"),
        not_granted=("未授权", "Not granted"),
    ),
    "tag_action": _t(added=("添加", "Added"), removed=("移除", "Removed")),
    "event_type": _t(
        track=("行为", "Track"),
        identify=("识别", "Identify"),
        page=("浏览页面", "Page"),
        screen=("浏览屏幕", "Screen"),
        group=("加入组织", "Group"),
        alias=("关联身份", "Alias"),
    ),
}
# Codes that are Python keywords are written with a trailing underscore above.
for _table in LABELS.values():
    for _code in [c for c in _table if c.endswith("_") and not c.endswith("__")]:
        _table[_code[:-1]] = _table.pop(_code)


def label(table: str, code: Any, lang: str) -> str:
    """``code`` as a reader of ``lang`` reads it; a code not in ``table`` is shown as it is."""
    if code is None or code == "":
        return "—"
    known = LABELS[table].get(str(code))
    if known is None:
        return str(code)
    return known.get(lang, known["zh"])


def known(table: str, code: Any) -> bool:
    return str(code) in LABELS[table]


_STAGE_RULE = re.compile(r"^rules\[(\d+)\]: ")
_MERGE_SHARED = re.compile(r"^identify shares (\w+)$")


def reason(kind: str, text: Any, lang: str) -> str:
    """Why something happened, from the reason a capability stored: a stage change's
    (``rules[2]: retention`` → 第 3 条规则) or a merge's (``identify shares phone`` → 手机号相同).
    Free text a person typed (a manual stage change's reason) is shown as written."""
    if not text:
        return "—"
    text = str(text)
    zh = lang == "zh"
    if kind == "stage":
        rule = _STAGE_RULE.match(text)
        if rule:
            n = int(rule.group(1)) + 1
            return f"第 {n} 条规则" if zh else f"rule {n}"
        if text.startswith("default: "):
            return "默认阶段" if zh else "default stage"
        if text == "manual":
            return "手动设置" if zh else "set by hand"
    if kind == "merge":
        shared = _MERGE_SHARED.match(text)
        if shared:
            what = label("identifier", shared.group(1), lang)
            return f"{what}相同" if zh else f"same {what}"
        if text == "manual":
            return "手动合并" if zh else "merged by hand"
    return text
