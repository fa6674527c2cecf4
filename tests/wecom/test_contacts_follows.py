"""resolve_external and upsert_follow: the shared helpers the WeCom inflow, sync and groups use."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from siyu.context import AppContext
from siyu.store.models import ContactFollow, Identity
from siyu.wecom.contacts import ExternalContactError, resolve_external
from siyu.wecom.follows import FollowError, mark_deleted, upsert_follow


def test_resolve_external_by_external_userid_and_unionid(ctx: AppContext) -> None:
    with ctx.db.session() as session:
        first = resolve_external(
            session, ctx, "wecom", {"external_userid": "wmA", "unionid": "uA", "name": "小红", "gender": 2}
        )
        again = resolve_external(session, ctx, "wecom", {"external_userid": "wmA"})
        by_union = resolve_external(session, ctx, "wecom", {"external_userid": "wmB", "unionid": "uA"})
        other = resolve_external(session, ctx, "wecom", {"external_userid": "wmC"})
        attrs = ctx.profiles(session).repo.attributes(first)
        kinds = sorted(session.scalars(select(Identity.type).where(Identity.contact_id == first)))
        session.commit()
    assert first == again == by_union != other
    assert kinds == ["wechat_unionid", "wecom_external_userid", "wecom_external_userid"]
    assert attrs["wecom_name"].value == "小红" and attrs["name"].value == "小红"
    assert attrs["gender"].value == "female"


def test_resolve_external_refuses_a_contact_without_id(ctx: AppContext) -> None:
    with ctx.db.session() as session, pytest.raises(ExternalContactError, match="external_userid"):
        resolve_external(session, ctx, "wecom", {"name": "x"})


def test_upsert_follow_updates_and_reopens(ctx: AppContext) -> None:
    item = {
        "userid": "zhangsan",
        "remark": "VIP",
        "createtime": 1_700_000_000,
        "tags": [{"tag_id": "et1", "type": 1}, {"tag_id": "personal", "type": 2}],
        "state": "spring-poster",
        "add_way": 1,
    }
    with ctx.db.session() as session:
        cid = resolve_external(session, ctx, "wecom", {"external_userid": "wmA"})
        follow = upsert_follow(session, cid, "wecom", item, external_userid="wmA")
        assert follow.corp_tags == ["et1"] and follow.state == "spring-poster" and follow.add_way == 1
        assert (
            upsert_follow(session, cid, "wecom", {**item, "remark": "VVIP"}, external_userid="wmA").remark
            == "VVIP"
        )
        closed = mark_deleted(session, "wecom", "zhangsan", "wmA", "customer", follow.added_at)
        assert closed is not None and closed.deleted_by == "customer"
        upsert_follow(session, cid, "wecom", {**item, "createtime": 1_700_100_000}, external_userid="wmA")
        rows = list(session.scalars(select(ContactFollow)))
        count = session.scalar(select(func.count()).select_from(ContactFollow))
        session.commit()
    assert count == 1 and rows[0].remark == "VIP" and rows[0].deleted_at is None
    with ctx.db.session() as session, pytest.raises(FollowError, match="userid"):
        upsert_follow(session, cid, "wecom", {"remark": "x"}, external_userid="wmA")
