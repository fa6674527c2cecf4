"""Cost of validating one call (no database): the per-call limits run on every call of ingest.

    python benchmarks/validation.py [--calls 50000] [--rounds 7]

Validates ``--calls`` calls shaped as analytics-python sends them (context with library and
page, properties with a nested list) ``--rounds`` times and keeps the fastest round, so a busy
machine's noise counts as little as possible. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from typing import Any

from siyu.ingest.messages import MessageValidator
from siyu.ingest.service import validate_all
from siyu.profiles.identifiers import IdentifierParser


def sdk_call(i: int) -> dict[str, Any]:
    return {
        "integrations": {},
        "anonymousId": None,
        "timestamp": "2024-05-01T08:00:00.123+00:00",
        "context": {
            "library": {"name": "analytics-python", "version": "2.3.4"},
            "page": {"path": "/", "url": "https://shop.example.cn/"},
        },
        "type": "track",
        "userId": f"U{i % 1000}",
        "messageId": str(uuid.uuid4()),
        "event": "Order Completed",
        "properties": {
            "order_id": f"O{i}",
            "revenue": 99.5,
            "currency": "CNY",
            "items": [{"sku": "A", "n": 1}],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    calls = [sdk_call(i) for i in range(args.calls)]
    validator = MessageValidator(IdentifierParser("CN", []))
    best = float("inf")
    for _ in range(args.rounds):
        start = time.perf_counter()
        valid, rejected = validate_all(validator, calls)
        best = min(best, time.perf_counter() - start)
        assert len(valid) == args.calls and not rejected
    print(json.dumps({"calls": args.calls, "us_per_call": round(best / args.calls * 1e6, 2)}))


if __name__ == "__main__":
    main()
