"""Corp tags ↔ siyu tags: full sync, incremental on change_external_tag, edit_external_contact
carrying staff-set corp tags onto the contact, and creating a missing corp tag."""

from __future__ import annotations

import time

from sqlalchemy import select
from tests.wecom.conftest import Inflow
from tests.wecom.test_inflow_end_to_end import wait_done

from siyu.store.models import WeComCorpTag
from siyu.wecom.client import wecom_api
from siyu.wecom.corp_tags import corp_tag_ids_for


def test_full_and_incremental_sync(inflow: Inflow) -> None:
    s, emu = inflow.client, inflow.emu
    vip = emu.add_corp_tag("客户等级", "VIP")
    slash = emu.add_corp_tag("渠道", "抖音/快手")
    assert s.corp_tags.sync("wecom") == {"groups": 2, "tags": 2, "created": 2, "deleted": 0}
    mapped = {m["tag_id"]: m["siyu_tag"] for m in s.corp_tags.list("wecom")}
    assert mapped == {vip: "客户等级/VIP", slash: "渠道/抖音／快手"}
    assert {t["key"] for t in s.tags.list()} >= {"客户等级/VIP", "渠道/抖音／快手"}

    # a tag created in WeCom's admin arrives as change_external_tag and is synced alone
    new = emu.add_corp_tag("客户等级", "SVIP")
    emu.push(
        {
            "ToUserName": emu.corp_id,
            "FromUserName": "sys",
            "CreateTime": int(time.time()),
            "MsgType": "event",
            "Event": "change_external_tag",
            "Id": new,
            "TagType": "tag",
            "ChangeType": "create",
        }
    )
    wait_done(inflow, 1)
    assert {m["tag_id"]: m["siyu_tag"] for m in s.corp_tags.list("wecom")}[new] == "客户等级/SVIP"

    # deleted in WeCom: the mapping is marked, the siyu tag stays
    emu.push(
        {
            "ToUserName": emu.corp_id,
            "FromUserName": "sys",
            "CreateTime": int(time.time()) + 1,
            "MsgType": "event",
            "Event": "change_external_tag",
            "Id": vip,
            "TagType": "tag",
            "ChangeType": "delete",
        }
    )
    wait_done(inflow, 2)
    deleted = {m["tag_id"]: m["deleted"] for m in s.corp_tags.list("wecom")}
    assert deleted[vip] and not deleted[new]
    assert "客户等级/VIP" in {t["key"] for t in s.tags.list()}


def test_missing_corp_tag_is_created_once(inflow: Inflow) -> None:
    s, emu = inflow.client, inflow.emu
    with s.ctx.db.session() as session:
        api = wecom_api(session, s.ctx, "wecom")
        first = corp_tag_ids_for(session, api, "wecom", ["渠道/地推", "无分组"])
        again = corp_tag_ids_for(session, api, "wecom", ["渠道/地推", "无分组"])
        rows = session.scalars(select(WeComCorpTag).order_by(WeComCorpTag.id)).all()
        assert [(r.group_name, r.name) for r in rows] == [("渠道", "地推"), ("siyu", "无分组")]
    assert first == again and len(set(first)) == 2
    names = {name for g in emu.tag_groups.values() for name in g["tags"].values()}
    assert names == {"地推", "无分组"}


def test_edit_external_contact_brings_staff_tags(inflow: Inflow) -> None:
    s, emu = inflow.client, inflow.emu
    vip = emu.add_corp_tag("客户等级", "VIP")
    s.corp_tags.sync("wecom")
    emu.customer_adds("lisi", "wmEDIT", welcome=False)
    wait_done(inflow, 1)
    with emu.lock:  # the staff member tags and remarks the customer in the WeCom app
        emu.follows[("lisi", "wmEDIT")]["tags"] = [{"tag_id": vip, "type": 1, "group_name": "客户等级"}]
        emu.follows[("lisi", "wmEDIT")]["remark"] = "老客户"
    emu.push(
        {
            "ToUserName": emu.corp_id,
            "FromUserName": "sys",
            "CreateTime": int(time.time()) + 5,
            "MsgType": "event",
            "Event": "change_external_contact",
            "ChangeType": "edit_external_contact",
            "UserID": "lisi",
            "ExternalUserID": "wmEDIT",
        }
    )
    wait_done(inflow, 2)
    shown = s.contact("wecom_external_userid:wmEDIT")
    assert "客户等级/VIP" in {t["key"] for t in shown["tags"]}
    assert shown["wecom_follows"][0]["remark"] == "老客户"
