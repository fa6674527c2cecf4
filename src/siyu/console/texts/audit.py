"""How the audit log's stored codes read: actions (``channel.created`` → 创建渠道), target types
(``entry_code`` → 活码) and the keys of an entry's details (``state`` → 渠道参数).

An action is ``<object>.<verb>``; most read as the verb's label before the object's
(创建 + 渠道), the rest are listed whole in ``ACTIONS``. A request the console or the API logged
(``POST /console/segments/preview``) reads as its method's verb (提交) and the path as code. An
action, object or verb in no table is shown as it is, so the zh crawler names it."""

from __future__ import annotations

import json
import re
from typing import Any

from markupsafe import Markup, escape

Table = dict[str, tuple[str, str]]

#: object → (zh, en); also the target types.
OBJECTS: Table = {
    "user": ("用户", "user"),
    "role": ("角色", "role"),
    "api_key": ("API 密钥", "API key"),
    "channel": ("渠道", "channel"),
    "subscription": ("周期购订阅", "subscription"),
    "subscription_plan": ("周期购计划", "subscription plan"),
    "entry_code": ("活码", "entry code"),
    "source": ("数据源", "source"),
    "journey": ("旅程", "journey"),
    "segment": ("分群", "segment"),
    "tag": ("标签", "tag"),
    "tag_group": ("标签组", "tag group"),
    "tag_rule": ("打标签规则", "tag rule"),
    "template": ("内容模板", "template"),
    "material": ("素材", "material"),
    "provider": ("服务商账号", "provider account"),
    "contact": ("客户", "contact"),
    "identity": ("身份标识", "identifier"),
    "consent": ("授权", "consent"),
    "dnc": ("免打扰名单", "do-not-contact entry"),
    "event": ("事件", "event"),
    "event_definition": ("事件名称", "event label"),
    "message": ("消息", "message"),
    "points": ("积分", "points"),
    "spend": ("投放花费", "spend"),
    "link": ("短链", "link"),
    "stage": ("生命周期阶段", "stage"),
    "import": ("导入", "import"),
    "export": ("导出", "export"),
    "retention": ("数据保留策略", "retention policy"),
    "settings": ("设置", "settings"),
    "brand": ("品牌", "brand"),
    "job": ("任务", "job"),
    "http": ("网络请求", "request"),
    "customer_group": ("客户群", "customer group"),
    "group_join_way": ("群活码", "group live code"),
    "referral_campaign": ("裂变活动", "referral campaign"),
    "referral_participant": ("裂变参与者", "referral participant"),
    "group_message": ("群发消息", "group message"),
    "group_sop": ("群SOP", "group SOP"),
    "loyalty_programme": ("积分规则", "points rules"),
    "loyalty_tier": ("会员等级", "tier"),
    "upgrade_coupon": ("升级礼券", "upgrade coupon"),
    # engagement (siyu.loyalty.tasks / catalogue / checkins)
    "loyalty_task": ("会员任务", "loyalty task"),
    "catalogue_item": ("积分商城商品", "catalogue item"),
    "checkin_settings": ("签到奖励设置", "check-in rewards"),
}
#: verb → (zh, en), the zh verb read before the object.
VERBS: Table = {
    "created": ("创建", "created"),
    "updated": ("修改", "updated"),
    "deleted": ("删除", "deleted"),
    "started": ("启动", "started"),
    "paused": ("暂停", "paused"),
    "resumed": ("恢复", "resumed"),
    "archived": ("归档", "archived"),
    "revoked": ("吊销", "revoked"),
    "applied": ("批量打上", "applied"),
    "added": ("添加", "added"),
    "removed": ("移除", "removed"),
    "granted": ("授予", "granted"),
    "withdrawn": ("撤回", "withdrawn"),
    "corrected": ("更正", "corrected"),
    "merged": ("合并", "merged"),
    "dropped": ("移除", "dropped"),
    "imported": ("导入", "imported"),
    "exported": ("导出", "exported"),
    "awarded": ("发放", "awarded"),
    "delivered": ("送达", "delivered"),
    "failed": ("失败", "failed"),
    "clicked": ("点击", "clicked"),
    "entered": ("进入", "entered"),
    "exited": ("离开", "exited"),
    "changed": ("变更", "changed"),
    "enrolled": ("加入", "enrolled"),
    "run": ("运行", "run"),
    "sent": ("发送", "sent"),
}
#: Actions that do not read as verb + object.
ACTIONS: Table = {
    "distribution.settings_changed": ("修改分销设置", "distribution settings changed"),
    "distribution.promoter_applied": ("申请成为推广员", "promoter application"),
    "distribution.promoter_approved": ("通过推广员审核", "promoter approved"),
    "distribution.promoter_rejected": ("拒绝推广员申请", "promoter rejected"),
    "distribution.promoter_account": ("设置推广员分账账户", "promoter payout account set"),
    "subscription.cancelled": ("取消周期购订阅", "subscription cancelled"),
    "subscription.failed": ("记录周期购扣款失败", "subscription payment failed"),
    "login": ("登录", "signed in"),
    "login.failed": ("登录失败", "sign-in failed"),
    "logout": ("退出登录", "signed out"),
    "keys.rotated": ("轮换加密密钥", "encryption keys rotated"),
    "pii.exported": ("导出个人信息", "personal data exported"),
    "pii.revealed": ("查看个人信息明文", "personal data revealed"),
    "rfm.rules_set": ("设置 RFM 分层规则", "RFM rules set"),
    "rfm.config_set": ("修改 RFM 设置", "RFM settings changed"),
    "stages.rules_set": ("设置生命周期规则", "stage rules set"),
    "journey.step_exported": ("导出步骤名单", "step list exported"),
    "segment.entered": ("进入分群", "entered a segment"),
    "segment.exited": ("离开分群", "left a segment"),
    "stage.changed": ("阶段变化", "stage changed"),
    "link.clicked": ("点击短链", "clicked a link"),
    "message.delivered": ("消息送达", "message delivered"),
    "message.failed": ("消息发送失败", "message failed"),
    "tag.applied": ("批量打标签", "tag applied"),
    "retention.policies_set": ("设置数据保留策略", "retention policies set"),
    "material_file.uploaded": ("上传素材文件", "material file uploaded"),
    "stage.set": ("手动设置生命周期阶段", "stage set by hand"),
    "wecom.transfer_requested": ("申请转接客户", "customer transfer requested"),
    "referral_participant.joined": ("加入裂变活动", "joined a referral campaign"),
    "referral_campaign.active": ("启动裂变活动", "referral campaign activated"),
    "referral_campaign.paused": ("暂停裂变活动", "referral campaign paused"),
    "referral_campaign.ended": ("结束裂变活动", "referral campaign ended"),
}
#: detail key → (zh, en)
DETAILS: Table = {
    "key": ("标识", "key"),
    "name": ("名称", "name"),
    "username": ("用户名", "username"),
    "role": ("角色", "role"),
    "state": ("渠道参数", "state"),
    "kind": ("类型", "kind"),
    "added": ("新增", "added"),
    "removed": ("移除", "removed"),
    "source": ("来源", "source"),
    "status": ("状态码", "status"),
    "client": ("客户端地址", "client"),
    "fields": ("修改的字段", "fields"),
    "version": ("版本", "version"),
    "count": ("数量", "count"),
    "rows": ("行数", "rows"),
    "contacts": ("客户数", "contacts"),
    "masked": ("已脱敏", "masked"),
    "format": ("格式", "format"),
    "reason": ("原因", "reason"),
    "channel": ("渠道", "channel"),
    "journey": ("旅程", "journey"),
    "segment": ("分群", "segment"),
    "step": ("步骤", "step"),
    "template": ("模板", "template"),
    "language": ("语言", "language"),
    "active": ("启用", "active"),
    "started": ("启动", "started"),
    "label": ("名称", "label"),
    "ip": ("IP", "IP"),
    "config_id": ("企业微信配置 ID", "WeCom config id"),
    "takeover": ("接替员工", "taken over by"),
    "customers": ("客户数", "customers"),
    "accepted": ("已受理", "accepted"),
}
REQUEST = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) (/\S*)$")
#: A logged request's method → (zh, en).
METHODS: Table = {
    "GET": ("查看", "view"),
    "POST": ("提交", "submit"),
    "PUT": ("修改", "change"),
    "PATCH": ("修改", "change"),
    "DELETE": ("删除", "delete"),
}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def target(code: Any, lang: str) -> str:
    """A target type as its reader reads it; unknown ones as they are."""
    if not code:
        return ""
    known = OBJECTS.get(str(code))
    return _pick(known, lang) if known else str(code)


def action(code: Any, lang: str) -> Markup:
    """An audit action as HTML in ``lang`` (a logged request keeps its method and path as code)."""
    text = str(code or "")
    request = REQUEST.match(text)
    if request:
        word = _pick(METHODS[request.group(1)], lang)
        return Markup('{} <code translate="no">{}</code>').format(word, request.group(2))
    if text in ACTIONS:
        return escape(_pick(ACTIONS[text], lang))
    noun, _, verb = text.partition(".")
    if noun in OBJECTS and verb in VERBS:
        if lang == "zh":
            obj = OBJECTS[noun][0]
            return escape(VERBS[verb][0] + (" " if obj[0].isascii() else "") + obj)  # 创建 API 密钥
        obj = OBJECTS[noun][1]
        return escape(f"{obj[0].upper()}{obj[1:]} {VERBS[verb][1]}")
    return escape(text)


def is_request(code: Any) -> bool:
    """A logged request (its path is code, not words)."""
    return bool(REQUEST.match(str(code or "")))


def _value(value: Any, lang: str) -> Markup:
    if isinstance(value, bool):
        return escape(("是" if value else "否") if lang == "zh" else ("yes" if value else "no"))
    if isinstance(value, int | float):
        return escape(f"{value:,}" if isinstance(value, int) else f"{value:g}")
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        shown = "、".join(map(str, value)) if lang == "zh" else ", ".join(map(str, value))
        return Markup('<span translate="no">{}</span>').format(shown)
    if isinstance(value, dict | list):
        return Markup('<code translate="no">{}</code>').format(json.dumps(value, ensure_ascii=False))
    return Markup('<span translate="no">{}</span>').format(str(value))


def details(data: Any, lang: str) -> Markup:
    """An entry's details as ``label：value`` pairs: values are data (``translate="no"``), keys
    read by their label; a key in no table stays as code (it names a field of the record)."""
    if not data:
        return Markup("")
    if not isinstance(data, dict):
        return _value(data, lang)
    sep = Markup("：") if lang == "zh" else Markup(": ")
    parts = []
    for key, value in data.items():
        known = DETAILS.get(str(key))
        name = escape(_pick(known, lang)) if known else Markup('<code translate="no">{}</code>').format(key)
        parts.append(name + sep + _value(value, lang))
    return Markup(" · ").join(parts)
