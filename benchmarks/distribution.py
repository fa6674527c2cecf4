"""What distribution costs the order path: ``Order Completed`` calls per second through
``s.batch`` with distribution off and on (every buyer bound to a promoter who is bound to
another, so each order books two commission rows), on a fresh SQLite installation.

    python benchmarks/distribution.py [--orders 2000] [--batch 500]

Checks the ledger invariant (pending + frozen + settled = earned − reversed) after each run.
Last line: one JSON object with every figure."""

from __future__ import annotations

import argparse
import base64
import json
import os
import tempfile
import time

import siyu

T0 = "2026-06-01T04:00:00+00:00"


def phone(n: int) -> str:
    return f"1390{n:07d}"


def run(orders: int, batch: int, enabled: bool) -> float:
    os.environ["SIYU_DATA_DIR"] = tempfile.mkdtemp(prefix="siyu-dist-bench-")
    s = siyu.open()
    try:
        s.migrate()
        s.distribution.set_settings({"enabled": True})
        codes = []
        for who in (1, 2):
            s.identify({"phone": phone(who)})
            codes.append(s.distribution.approve(s.distribution.apply(phone(who))["code"])["code"])
        s.distribution.bind(phone(2), codes[0])

        def visit(i: int) -> dict[str, object]:
            props = {"promoter_code": codes[1]}
            return {
                "type": "track",
                "event": "Visit",
                "identifiers": {"phone": phone(1000 + i)},
                "properties": props,
                "timestamp": "2026-05-01T00:00:00+00:00",
            }

        s.batch([visit(i) for i in range(orders)])
        s.distribution.set_settings({"enabled": enabled})
        calls = [
            {
                "type": "track",
                "event": "Order Completed",
                "identifiers": {"phone": phone(1000 + i)},
                "properties": {"order_id": f"B{i}", "total": "100.00"},
                "timestamp": T0,
            }
            for i in range(orders)
        ]
        start = time.perf_counter()
        for k in range(0, orders, batch):
            s.batch(calls[k : k + batch])
        elapsed = time.perf_counter() - start
        assert s.distribution.verify()["ok"]
        booked = len(s.distribution.commissions(limit=10 * orders))
        assert booked == (2 * orders if enabled else 0), booked
        return orders / elapsed
    finally:
        s.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    os.environ.setdefault("SIYU_SECRET_KEY", base64.b64encode(os.urandom(32)).decode())
    figures = {
        "orders": args.orders,
        "orders_per_s_off": round(run(args.orders, args.batch, False)),
        "orders_per_s_on": round(run(args.orders, args.batch, True)),
    }
    for k, v in figures.items():
        print(f"{k}: {v}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
