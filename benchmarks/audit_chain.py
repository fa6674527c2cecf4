"""What chaining the audit log costs, and how fast it verifies.

    python benchmarks/audit_chain.py [--database-url URL] [--commits 2000] [--threads 4]

* ``append_per_s``: committed transactions per second that each record one audit entry, from
  ``--threads`` threads at once (every commit chains its entry under the append lock);
* ``plain_per_s``: the same transactions writing a row of another table (``settings``), for
  comparison: the cost of the chain is the difference;
* ``verify_per_s``: entries verified per second by ``siyu.audit.chain.verify``.

Default database: a fresh SQLite file in a temporary directory. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from siyu.audit import chain
from siyu.audit import service as audit
from siyu.store.engine import Database
from siyu.store.settings import put_setting


def timed(db: Database, commits: int, threads: int, work: Callable[[Session, int, int], None]) -> float:
    """Transactions per second: ``threads`` threads, ``commits`` transactions in all."""
    per = commits // threads

    def run(k: int) -> None:
        for i in range(per):
            with db.session() as s:
                work(s, k, i)

    started = time.perf_counter()
    pool = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return per * threads / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        db = Database(url)
        db.upgrade()

        def record(s: Session, k: int, i: int) -> None:
            audit.record(s, f"bench{k}", "bench.append", "bench", i, {"k": k, "i": i})

        def plain(s: Session, k: int, i: int) -> None:
            put_setting(s, f"bench.{k}", {"i": i})

        plain_rate = timed(db, args.commits, args.threads, plain)
        append_rate = timed(db, args.commits, args.threads, record)
        started = time.perf_counter()
        with db.session() as s:
            result = chain.verify(s)
        verify_s = time.perf_counter() - started
        assert result.ok, result.broken
        db.dispose()
    print(
        json.dumps(
            {
                "database": url.split(":", 1)[0],
                "threads": args.threads,
                "commits": args.commits,
                "plain_per_s": round(plain_rate),
                "append_per_s": round(append_rate),
                "entries": result.entries,
                "verify_per_s": round(result.entries / verify_s),
            }
        )
    )


if __name__ == "__main__":
    main()
