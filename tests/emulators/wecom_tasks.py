"""WeCom tasks on record, for the receipt poller's tests and benchmark: ``n`` 1:1 tasks sent by
siyu (outbox ``sent``) that the emulator holds unconfirmed by the staff member."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert
from tests.emulators.wecom import WeComEmulator

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.store.models import OutboxMessage, utcnow

STAFF = "zhangsan"


def seed_open_tasks(
    ctx: AppContext,
    emu: WeComEmulator,
    n: int,
    receipt_rate_per_s: float,
    sent_ago: timedelta = timedelta(hours=1),
    **config: Any,
) -> list[str]:
    """Adds provider ``wecom`` (the poller's own call budget ``receipt_rate_per_s``), one
    contact and ``n`` open tasks; returns their msgids."""
    s = Siyu(ctx)
    s.providers.add(
        "wecom",
        "wecom",
        {
            "corp_id": emu.corp_id,
            "base_url": emu.base_url,
            "default_sender": STAFF,
            "receipt_rate_per_s": receipt_rate_per_s,
            **config,
        },
        {"corp_secret": emu.corp_secret},
    )
    s.identify({"phone": "+8613800138001"})
    cid = s.contact("+8613800138001")["id"]
    at = utcnow() - sent_ago
    rows, msgids = [], []
    for i in range(n):
        customer = f"wm{i:06d}"
        emu.add_customer(STAFF, customer)
        msgid = emu.add_task(STAFF, [customer], f"task {i}")
        msgids.append(msgid)
        rows.append(
            {
                "key": f"t{i}",
                "contact_id": cid,
                "channel": "wecom_private",
                "provider": "wecom",
                "content": {"text": f"task {i}"},
                "status": "sent",
                "attempts": 1,
                "next_attempt_at": at,
                "provider_message_id": f"{msgid}:{customer}",
                "local_day": at.date().isoformat(),
                "local_week": "2026-W49",
                "created_at": at,
                "sent_at": at,
                "transactional": False,
            }
        )
    with ctx.db.session() as session:
        session.execute(insert(OutboxMessage.__table__), rows)
    return msgids
