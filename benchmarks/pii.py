"""Cost of finding phones and emails in ingested payloads (``siyu.profiles.detect``).

    python benchmarks/pii.py [--calls 200000] [--repeat 5]

Times ``PiiDetector.scrub`` per payload in CPU time (``time.process_time``: the figures hold on
a shared, loaded machine), the median of ``--repeat`` runs over ``--calls`` payloads of each
kind:

* ``clean_us``: a typical track call's properties without PII (the pre-check decides);
* ``pii_us``: properties with a phone under an alias, a nested email and a number;
* ``validate_us``: a whole identify call through ``MessageValidator.validate`` with aliased
  traits (what ingest pays per call, PII included).

Last line: one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from siyu.ingest.messages import MessageValidator
from siyu.profiles.detect import PiiDetector
from siyu.profiles.identifiers import IdentifierParser

CLEAN = {"product_id": "SKU-1024", "price": 199.0, "currency": "CNY", "category": "sports footwear",
         "ts": 1733541234567, "channel": "app", "coupon": None}
WITH_PII = {"Mobile_Phone": 13912345678, "receiver": {"e-mail": "zhang.san@example.com"},
            "note": "call 139-1234-5678 after 6pm", "price": 199.0}
IDENTIFY = {"type": "identify", "userId": "C1", "messageId": "m1",
            "traits": {"name": "张三", "手机号": "13912345678", "EMAIL": "Zhang@Example.com", "city": "上海"}}


def per_call_us(fn: Callable[[], Any], calls: int, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(calls):
            fn()
        runs.append((time.process_time() - start) / calls * 1e6)
    return round(statistics.median(runs), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    detector = PiiDetector()
    validator = MessageValidator(IdentifierParser())
    figures = {
        "calls": args.calls,
        "clean_us": per_call_us(lambda: detector.scrub(CLEAN), args.calls, args.repeat),
        "pii_us": per_call_us(lambda: detector.scrub(WITH_PII), args.calls, args.repeat),
        "validate_us": per_call_us(lambda: validator.validate(IDENTIFY), args.calls // 4, args.repeat),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
