"""A separate process spending points (run by test_concurrency.py): ``python spend_worker.py URL
CONTACT POINTS ID...`` spends POINTS once per external id, one transaction each, and prints
how many spends were made, refused for too few points, or failed otherwise."""

from __future__ import annotations

import json
import sys

from siyu.loyalty.ledger import InsufficientPoints, Ledger
from siyu.store.engine import Database


def main(url: str, contact: int, points: int, ids: list[str]) -> dict[str, object]:
    db = Database(url)
    done = {"spent": 0, "refused": 0, "errors": []}
    for ext in ids:
        try:
            with db.session() as s:
                Ledger(s).spend(contact, points, reason="race", external_id=ext)
            done["spent"] += 1  # type: ignore[operator]
        except InsufficientPoints:
            done["refused"] += 1  # type: ignore[operator]
        except Exception as exc:  # reported to the test, which requires none
            done["errors"].append(repr(exc)[:200])  # type: ignore[union-attr]
    db.engine.dispose()
    return done


if __name__ == "__main__":
    url, contact, points, *ids = sys.argv[1:]
    print(json.dumps(main(url, int(contact), int(points), ids)))
