"""WeCom customer sync: 100k customers across 200 staff from the local emulator, with injected
45009 rate limits, ending with exactly that many contacts and the right owners.

    python benchmarks/wecom_sync.py [--customers 100000] [--staff 200] [--fault-every 50]
        [--database-url postgresql+psycopg://…] [--rate 5000]

Figures: ``sync_s`` (the whole sync: staff, every ``batch/get_by_user`` page, identity
resolution, follows), ``customers_per_s``, ``api_calls``, ``rate_limited`` (45009 answers the
client backed off from), ``contacts`` and ``owners_ok`` (every customer's open follows name
exactly its owners in the emulator), and ``second_sync_s`` (a full sync with nothing to change).
``--rate`` is the provider's client rate (calls/s; WeCom allows 10,000 a minute per API, about
166/s: the default here is the emulator's speed, not WeCom's). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.emulators.wecom import WeComEmulator  # noqa: E402
from tests.emulators.wecom_ways import ways  # noqa: E402

from siyu.client import Siyu  # noqa: E402
from siyu.config import Settings  # noqa: E402
from siyu.context import AppContext  # noqa: E402
from siyu.store.models import Contact, ContactFollow  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--staff", type=int, default=200)
    p.add_argument("--fault-every", type=int, default=50, help="one call in N answers 45009")
    p.add_argument("--rate", type=float, default=5000.0)
    p.add_argument("--database-url", default=None)
    args = p.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    if args.database_url:  # a schema of its own, dropped after, so runs never see each other
        admin = create_engine(args.database_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        out = run(args, schema)
    finally:
        if args.database_url:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    print(json.dumps(out))


def run(args: argparse.Namespace, schema: str) -> dict[str, object]:
    url = args.database_url
    if url:
        url += f"{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=url or f"sqlite:///{tmp}/siyu.db",
            secret_key=base64.b64encode(b"b" * 32).decode(),
        )
        ctx = AppContext.from_settings(settings)
        ctx.db.upgrade()
        emu = WeComEmulator()
        world = ways(emu)
        owners: dict[str, set[str]] = {}
        for i in range(args.customers):
            ext = f"wm{i:08d}"
            users = {f"u{i % args.staff:03d}"} | ({f"u{(i * 7) % args.staff:03d}"} if i % 10 == 0 else set())
            for u in users:
                world.add_follow(u, ext, 1_780_000_000 + i, unionid=f"un{i}")
            owners[ext] = users
        world.inject_faults(args.fault_every, 45009)
        with emu.running():
            s = Siyu(ctx)
            config = {"corp_id": emu.corp_id, "base_url": emu.base_url, "rate_per_s": args.rate}
            s.providers.add("wecom", "wecom", {**config, "backoff_s": 0.01}, {"corp_secret": emu.corp_secret})
            started = time.perf_counter()
            run = s.wecom.sync("wecom")
            sync_s = time.perf_counter() - started
            started = time.perf_counter()
            again = s.wecom.sync("wecom")
            second_s = time.perf_counter() - started
        found: dict[str, set[str]] = {}
        with ctx.db.session() as session:
            contacts = session.scalar(select(func.count(Contact.id)).where(Contact.merged_into_id.is_(None)))
            for ext, staff in session.execute(
                select(ContactFollow.external_userid, ContactFollow.staff_userid).where(
                    ContactFollow.deleted_at.is_(None)
                )
            ):
                found.setdefault(ext, set()).add(staff)
        ctx.close()
    return {
        "customers": args.customers,
        "staff": args.staff,
        "database": "postgresql" if args.database_url else "sqlite",
        "status": run["status"],
        "sync_s": round(sync_s, 2),
        "customers_per_s": round(args.customers / sync_s),
        "api_calls": run["api_calls"],
        "rate_limited": run["rate_limited"],
        "contacts": contacts,
        "owners_ok": found == owners,
        "second_sync_s": round(second_s, 2),
        "second_sync_written": again["follows_written"],
    }


if __name__ == "__main__":
    main()
