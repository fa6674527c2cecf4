"""del_external_contact (the staff member deleted the customer) and transfer_fail."""

from __future__ import annotations

import time

from sqlalchemy import select
from tests.wecom.conftest import Inflow
from tests.wecom.test_inflow_end_to_end import wait_done

from siyu.store.models import ContactFollow, Event


def test_staff_deletes_and_transfer_fails(inflow: Inflow) -> None:
    emu, ctx = inflow.emu, inflow.client.ctx
    emu.customer_adds("wangwu", "wmDEL", state="shop-9", welcome=False)
    emu.customer_adds("wangwu", "wmMOVE", welcome=False)
    wait_done(inflow, 2)
    emu.staff_deletes_customer("wangwu", "wmDEL")
    emu.push(
        {
            "ToUserName": emu.corp_id,
            "FromUserName": "sys",
            "CreateTime": int(time.time()),
            "MsgType": "event",
            "Event": "change_external_contact",
            "ChangeType": "transfer_fail",
            "FailReason": "customer_refused",
            "UserID": "wangwu",
            "ExternalUserID": "wmMOVE",
        }
    )
    wait_done(inflow, 4)
    with ctx.db.session() as s:
        follows = {f.external_userid: f for f in s.scalars(select(ContactFollow))}
        assert follows["wmDEL"].deleted_by == "staff" and follows["wmMOVE"].deleted_at is None
        events = {e.event: e for e in s.scalars(select(Event).where(Event.event != "Contact Added"))}
    assert set(events) == {"Contact Deleted", "Contact Transfer Failed"}
    assert events["Contact Deleted"].properties == {"provider": "wecom", "staff": "wangwu", "state": "shop-9"}
    assert events["Contact Transfer Failed"].properties["reason"] == "customer_refused"
    assert inflow.client.stats()["wecom_lost"] == 0  # a staff deletion is not churn
