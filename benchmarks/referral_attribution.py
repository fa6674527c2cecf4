"""Referral attribution through the WeCom callback path: adds per second.

    python benchmarks/referral_attribution.py [--seeds 200] [--adds 3000] [--database-url URL]

A 任务宝 campaign with ``--seeds`` participants, each with their own contact way at the local
WeCom emulator (tests/emulators). Then ``--adds`` ``add_external_contact`` callbacks, each a new
customer adding the staff member through a participant's ``State``, are stored in the callback
inbox and processed as the receiver's workers process them after decryption: the handler
registry (the customer handler fetches the customer from the emulator and resolves the
contact, then the referral handler attributes, scores and announces), one transaction per
callback. The baseline is the same number of adds with a ``State`` that is nobody's code, in
the same run: ``ratio`` = attributions/s ÷ plain adds/s is what attribution costs on top of
booking the add.

Figures: ``attributions_per_s``, ``plain_adds_per_s``, ``ratio``, ``referrals`` (edges
written, must equal ``--adds``). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import func, select  # noqa: E402
from tests.emulators.wecom_inflow import WeComInflowEmulator  # noqa: E402
from tests.emulators.wecom_ways import ways  # noqa: E402

from siyu.client import Siyu  # noqa: E402
from siyu.config import Settings  # noqa: E402
from siyu.context import AppContext  # noqa: E402
from siyu.referrals.service import ReferralService  # noqa: E402
from siyu.store.models import Referral, utcnow  # noqa: E402
from siyu.store.models.contacts import Contact  # noqa: E402
from siyu.wecom.callbacks import inbox  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=200)
    p.add_argument("--adds", type=int, default=3000)
    p.add_argument("--database-url", default=None)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=args.database_url or f"sqlite:///{tmp}/siyu.db",
            secret_key=base64.b64encode(b"r" * 32).decode(),
        )
        ctx = AppContext.from_settings(settings)
        ctx.db.upgrade()
        print(json.dumps(run(ctx, args.seeds, args.adds)))


def _deliver(ctx: AppContext, events: list[dict[str, Any]]) -> float:
    with ctx.db.session() as s:
        inbox.store(s, [inbox.row_for("wecom", e, utcnow()) for e in events])
    started = time.perf_counter()
    while ids := inbox.due(ctx, limit=100_000):
        for i in ids:
            inbox.process_one(ctx, i)
    return time.perf_counter() - started


def run(ctx: AppContext, seeds: int, adds: int) -> dict[str, Any]:
    client = Siyu(ctx)
    emu = WeComInflowEmulator()
    ways(emu).add_user("zhangsan", "张三")
    with emu.running():
        config = {"corp_id": emu.corp_id, "base_url": emu.base_url, "retries": 1, "backoff_s": 0.01}
        secrets = {
            "corp_secret": emu.corp_secret,
            "callback_token": emu.callback_token,
            "encoding_aes_key": emu.encoding_aes_key,
        }
        client.providers.add("wecom", "wecom", config | {"rate_per_s": 100_000}, secrets)
        with ctx.db.session() as s:
            svc = ReferralService(s, ctx)
            svc.create(
                {
                    "key": "bench",
                    "name": "任务宝",
                    "kind": "task",
                    "target": {"staff": ["zhangsan"]},
                    "rewards": [{"invites": 3, "gift": "保温杯"}],
                }
            )
            svc.move("bench", "activate")
        with ctx.db.session() as s:
            people = [Contact() for _ in range(seeds)]
            s.add_all(people)
            s.flush()
            ids = [c.id for c in people]
        states = []
        for cid in ids:
            with ctx.db.session() as s:
                svc = ReferralService(s, ctx)
                states.append(svc.join(svc.get("bench"), cid).state or "")
        now = int(time.time())

        def events(prefix: str, state_of: Any) -> list[dict[str, Any]]:
            out = []
            for i in range(adds):
                e = emu.customer_adds(
                    "zhangsan", f"{prefix}{i}", state=state_of(i), welcome=False, push=False
                )
                out.append(e | {"CreateTime": now - adds + i})
            return out

        plain_s = _deliver(ctx, events("wmplain", lambda i: "nobody"))
        referred_s = _deliver(ctx, events("wmref", lambda i: states[i % seeds]))
    with ctx.db.session() as s:
        edges = int(s.scalar(select(func.count()).select_from(Referral)) or 0)
    return {
        "database": ctx.db.dialect,
        "seeds": seeds,
        "adds": adds,
        "attributions_per_s": round(adds / referred_s),
        "plain_adds_per_s": round(adds / plain_s),
        "ratio": round(plain_s / referred_s, 3),
        "referrals": edges,
    }


if __name__ == "__main__":
    main()
