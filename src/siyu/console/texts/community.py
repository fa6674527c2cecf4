"""Console text for customer groups (客户群), group live codes (群活码) and the community pyramid."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "nav_groups": {"zh": "客户群", "en": "Groups"},
    "groups_title": {"zh": "客户群", "en": "Customer groups"},
    "groups_intro": {
        "zh": "企业微信客户群与成员（每次群变更事件后与企业微信核对）。健康分见群详情；金字塔每天更新。",
        "en": "WeCom customer groups and their members (checked against WeCom after every group "
        "event). Health scores are on each group's page; the pyramid is updated daily.",
    },
    "groups_none": {
        "zh": "还没有客户群。配置企业微信账号后，用“同步客户群”读取。",
        "en": "No customer groups yet. With a WeCom provider configured, use “Sync groups”.",
    },
    "groups_sync": {"zh": "同步客户群", "en": "Sync groups"},
    "groups_synced": {
        "zh": "已同步 {groups} 个群：新入群 {joined} 人，退群 {left} 人。",
        "en": "Synced {groups} groups: {joined} joined, {left} left.",
    },
    "groups_name": {"zh": "群名称", "en": "Group"},
    "groups_owner": {"zh": "群主", "en": "Owner"},
    "groups_members": {"zh": "成员数", "en": "Members"},
    "groups_health": {"zh": "健康分", "en": "Health"},
    "groups_created": {"zh": "建群时间", "en": "Created"},
    "groups_back": {"zh": "返回客户群", "en": "Back to groups"},
    "groups_member_list": {"zh": "群成员", "en": "Members"},
    "groups_member": {"zh": "成员", "en": "Member"},
    "groups_contact": {"zh": "客户", "en": "Contact"},
    "groups_joined_at": {"zh": "入群时间", "en": "Joined"},
    "groups_join_scene": {"zh": "入群方式", "en": "Joined by"},
    "groups_scene_1": {"zh": "直接邀请", "en": "Direct invitation"},
    "groups_scene_2": {"zh": "邀请链接", "en": "Invitation link"},
    "groups_scene_3": {"zh": "扫码", "en": "QR code"},
    "groups_scene_unknown": {"zh": "未知", "en": "Unknown"},
    "groups_came_through": {"zh": "来源活码", "en": "Live code"},
    "groups_role": {"zh": "社群角色", "en": "Community role"},
    "groups_staff": {"zh": "员工", "en": "Staff"},
    "groups_left_count": {"zh": "累计退群 {n} 人", "en": "{n} have left"},
    "groups_health_title": {"zh": "群健康", "en": "Group health"},
    "groups_health_formula": {
        "zh": "健康分 = 40% 发言占比（7天内发言成员 ÷ 成员，30% 即满分）+ 30% 入群占比（入群 ÷ 入群与退群）"
        "+ 30% 活跃天数（近14天有消息的天数）。",
        "en": "Health = 40% speakers (members who spoke in 7 days ÷ members; 30% scores full) + 30% joins "
        "÷ (joins + leaves) + 30% days with messages in the last 14.",
    },
    "groups_growth_7d": {"zh": "7天净增", "en": "Net growth, 7 days"},
    "groups_joins_7d": {"zh": "7天入群", "en": "Joined, 7 days"},
    "groups_leaves_7d": {"zh": "7天退群", "en": "Left, 7 days"},
    "groups_spoke_7d": {"zh": "7天发言占比", "en": "Spoke, 7 days"},
    "groups_silent_days": {"zh": "近14天沉默天数", "en": "Silent days of 14"},
    "groups_chart_members": {"zh": "成员数", "en": "Members"},
    "groups_chart_messages": {"zh": "群消息", "en": "Messages"},
    "groups_no_messages": {
        "zh": "还没有群消息事件。品牌的会话存档或群机器人把群消息发给 siyu 后，这里显示发言与沉默。事件名：",
        "en": "No group message events yet. Once the brand's chat archive or group bot sends them to "
        "siyu, speaking and silence show here. Event name:",
    },
    # the pyramid
    "pyramid_title": {"zh": "社群金字塔（1% / 9% / 90%）", "en": "Community pyramid (1% / 9% / 90%)"},
    "pyramid_intro": {
        "zh": "按近30天的社群活跃度（群消息与入群）排名：前1%为种子用户，其后9%为KOC，其余为成员。"
        "并列时先达到的在前，再按客户编号。角色以标签“社群角色/…”保存，人群条件可用。",
        "en": "Ranked by community activity over 30 days (group messages and joins): the top 1% are "
        "seed users, the next 9% KOC, the rest members. Ties go to whoever got there first, then "
        "to the lower contact id. Roles are kept as the tags “社群角色/…” and in segment conditions.",
    },
    "pyramid_none": {"zh": "还没有排名（每天自动计算一次）。", "en": "Not ranked yet (ranked once a day)."},
    "pyramid_rank_now": {"zh": "立即排名", "en": "Rank now"},
    "pyramid_ranked": {"zh": "已排名 {n} 位客户。", "en": "Ranked {n} contacts."},
    "role_seed": {"zh": "种子用户", "en": "Seed user"},
    "role_koc": {"zh": "KOC", "en": "KOC"},
    "role_member": {"zh": "成员", "en": "Member"},
    "pyramid_people": {"zh": "{n} 人", "en": "{n} people"},
    # group live codes
    "join_ways_title": {"zh": "群活码", "en": "Group live codes"},
    "join_ways_intro": {
        "zh": "一个二维码对应最多5个群；群人数到达换群阈值（默认480，上限500）时自动换下，群满时企业微信可自动建新群。",
        "en": "One QR code for up to 5 groups; a group reaching the swap threshold (480 by default, "
        "500 at most) is swapped out automatically, and WeCom can open a new group when all are full.",
    },
    "join_ways_none": {"zh": "还没有群活码。", "en": "No group live codes yet."},
    "join_ways_name": {"zh": "名称", "en": "Name"},
    "join_ways_groups": {"zh": "当前群", "en": "Current groups"},
    "join_ways_joins": {"zh": "入群人数", "en": "Joins"},
    "join_ways_threshold": {"zh": "换群阈值", "en": "Swap at"},
    "join_ways_qr": {"zh": "二维码", "en": "QR code"},
    "join_ways_history": {"zh": "换群记录", "en": "History"},
    "join_ways_added": {"zh": "加入", "en": "Added"},
    "join_ways_removed": {"zh": "换下", "en": "Removed"},
    "join_ways_reason_full": {"zh": "人数已满", "en": "Full"},
    "join_ways_reason_operator": {"zh": "手动更换", "en": "Changed by hand"},
    "join_ways_reason_deleted": {"zh": "活码已删除", "en": "Code deleted"},
    "join_ways_reason_dismissed": {"zh": "群已解散", "en": "Group dismissed"},
    "join_ways_create": {"zh": "新建群活码", "en": "New group live code"},
    "join_ways_chat_ids": {"zh": "群（每行一个群ID，最多5个）", "en": "Groups (one chat id a line, up to 5)"},
    "join_ways_room_base_name": {"zh": "自动建群名称", "en": "Name of new groups"},
    "join_ways_created": {"zh": "已创建群活码。", "en": "Group live code created."},
    "join_ways_swap_now": {"zh": "立即检查换群", "en": "Swap full groups now"},
    "join_ways_swapped": {"zh": "{n} 个活码换了群。", "en": "{n} codes changed groups."},
    "join_ways_link": {"zh": "群活码", "en": "Group live codes"},
    # group SOP
    "gsop_title": {"zh": "群SOP", "en": "Group SOP"},
    "gsop_intro": {
        "zh": "按建群、活码入群或定时给客户群发消息（每群每月不超过当月天数条）。计划用命令行创建：",
        "en": "Group messages timed from a group's creation, from joining a live code, or on a schedule "
        "(each group at most as many a month as the month has days). Plans are created on the command line:",
    },
    "gsop_none": {"zh": "还没有群SOP。", "en": "No group SOP yet."},
    "gsop_trigger": {"zh": "触发", "en": "Trigger"},
    "gsop_trigger_group_created": {"zh": "新建群后", "en": "After a group is created"},
    "gsop_trigger_joined_code": {"zh": "进入活码后", "en": "After joining a live code"},
    "gsop_trigger_schedule": {"zh": "定时", "en": "On a schedule"},
    "gsop_steps": {"zh": "步骤", "en": "Steps"},
    "gsop_sent": {"zh": "已发送", "en": "Sent"},
    "gsop_due": {"zh": "待发送", "en": "Due"},
    "gsop_limited": {"zh": "超出月度上限", "en": "Over the monthly limit"},
}
