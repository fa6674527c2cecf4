"""Community speed: reconciling a full group and ranking the pyramid.

    python benchmarks/community.py [--groups 100] [--members 200] [--messages 300000]

On a fresh SQLite database in a temporary directory (against the WeCom emulator):

* ``sync_s``: ``siyu groups sync`` of ``--groups`` groups of ``--members`` external members each
  (every member a new contact: identity resolution included), and ``sync_members_per_s``;
* ``reconcile_500_s``: one ``change_external_chat`` on a 500-member group whose member list
  changed by one (the groupchat/get call and the diff);
* ``rank_s``: the pyramid over ``--messages`` ``Group Message`` events in 30 days (every group
  and brand-wide, roles and role tags), and ``rank_events_per_s``.

Last line: one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.emulators.wecom import WeComEmulator
from tests.emulators.wecom_groups import world

import siyu
from siyu.channels.providers import ProviderService
from siyu.community.callbacks import handle_change_external_chat
from siyu.community.groups import GroupSync
from siyu.community.pyramid import PyramidService
from siyu.store.changes import emit_events
from siyu.store.models import CustomerGroup, GroupMember, utcnow


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--messages", type=int, default=300_000)
    args = parser.parse_args()
    figures: dict[str, float | int] = {
        "groups": args.groups,
        "members": args.members,
        "messages": args.messages,
    }
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("SIYU_SECRET_KEY", base64.b64encode(b"b" * 32).decode())
        client = siyu.open(data_dir=tmp)
        ctx = client.ctx
        emu = WeComEmulator()
        emu.per_minute_limit = 10**9
        with emu.running():
            with ctx.db.session() as s:
                ProviderService(s, ctx.keyring).create(
                    "wecom",
                    "wecom",
                    {"base_url": emu.base_url, "corp_id": emu.corp_id},
                    {"corp_secret": emu.corp_secret},
                )
            groups = world(emu)
            chats = []
            for g in range(args.groups):
                chat = groups.create_group(f"staff{g % 20}", f"群{g}", push=False)
                for m in range(args.members):
                    groups.join(chat, f"wm{g:04d}{m:04d}", unionid=f"un{g:04d}{m:04d}", push=False)
                chats.append(chat)
            start = time.perf_counter()
            with ctx.db.session() as s:
                GroupSync(s, ctx, "wecom").sync()
            figures["sync_s"] = round(time.perf_counter() - start, 3)
            figures["sync_members_per_s"] = round(args.groups * args.members / figures["sync_s"])
            big = groups.create_group("staff0", "大群", push=False)
            groups.fill(big, 498)
            with ctx.db.session() as s:
                GroupSync(s, ctx, "wecom").reconcile(big)
            groups.join(big, "wmLAST")
            event = groups.take_pushed()[-1]
            start = time.perf_counter()
            with ctx.db.session() as s:
                handle_change_external_chat(s, ctx, "wecom", event)
            figures["reconcile_500_s"] = round(time.perf_counter() - start, 4)
        rng = random.Random(16)
        with ctx.db.session() as s:
            members = s.execute(GroupMember.__table__.select().where(GroupMember.member_type == 2)).all()
            chat_of = dict(
                s.execute(
                    CustomerGroup.__table__.select().with_only_columns(
                        CustomerGroup.id, CustomerGroup.chat_id
                    )
                ).all()
            )
        now = utcnow()
        rows_by_day: dict[int, list] = {}
        pool = [
            (m.contact_id, chat_of[m.group_id])
            for m in members
            if m.contact_id and chat_of[m.group_id] in chats
        ]
        for i in range(args.messages):
            cid, chat = (
                pool[int(rng.paretovariate(1.2)) % len(pool)] if rng.random() < 0.5 else rng.choice(pool)
            )
            rows_by_day.setdefault(rng.randrange(30), []).append((f"gm{i}", cid, {"chat_id": chat}))
        with ctx.db.session() as s:
            for day, rows in rows_by_day.items():
                emit_events(s, "Group Message", rows, now - timedelta(days=day, hours=1))
        start = time.perf_counter()
        with ctx.db.session() as s:
            result = PyramidService(s).run(now)
        figures["rank_s"] = round(time.perf_counter() - start, 3)
        figures["rank_events_per_s"] = round(args.messages / figures["rank_s"])
        figures["ranked"] = result["ranked"]
        figures["seeds"] = result["roles"]["seed"]
        client.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
