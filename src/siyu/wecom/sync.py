"""Sync staff and existing customers from WeCom, full or incremental, with progress.

WeCom has no "changed since" query for customers: ``batch/get_by_user`` (92994) lists every
customer of up to 100 staff per call, ≤ 100 records a page, cursor-paged. So both modes read the
whole list; they differ in what they write:

* ``full``: every relation is written (new ones inserted, changed ones updated) and the open
  relations WeCom no longer lists are closed (``deleted_by`` ``sync``: gone, we do not know who
  ended it: the callbacks say so when they arrive);
* ``incremental``: only relations siyu does not know yet are written (the callbacks keep known
  ones current); nothing is closed.

The sync is a task: it owns its units of work and commits every ``batch`` records, so the
progress row (``wecom_sync_runs``) is visible while it runs and a failure keeps what was done.
Rate limits: the provider's client rate (``rate_per_s``; WeCom allows 10,000 calls a minute per
API) and ``WeComApi``'s backoff on 45009/45033, counted in ``rate_limited``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from siyu.channels.http import ProviderError
from siyu.channels.wecom_api import WeComApi, WeComError
from siyu.context import AppContext
from siyu.store.bulk import analyze
from siyu.store.dialect import chunked
from siyu.store.models import ContactFollow, WeComSyncRun, utcnow
from siyu.wecom.provider import EC, in_words, provider_api
from siyu.wecom.resolve import BulkResolver, open_follow_keys, write_follows
from siyu.wecom.staff import staff_userids, sync_staff

MODES = ("full", "incremental")
#: A running sync saves progress at least every batch (seconds apart); one silent this long was
#: killed with its process, and is shown and recorded as interrupted.
STALE_AFTER = timedelta(minutes=10)
USERS_PER_CALL = 100  # batch/get_by_user: userid_list ≤ 100
PAGE_LIMIT = 100  # batch/get_by_user: limit ≤ 100


class SyncError(ValueError):
    pass


def _stale(run: WeComSyncRun) -> bool:
    last = run.beat_at or run.started_at
    return run.status == "running" and last is not None and utcnow() - last > STALE_AFTER


def describe(run: WeComSyncRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "provider_key": run.provider_key,
        "mode": run.mode,
        "status": "interrupted" if _stale(run) else run.status,
        "staff_total": run.staff_total,
        "staff_done": run.staff_done,
        "follows_seen": run.follows_seen,
        "follows_written": run.follows_written,
        "follows_closed": run.follows_closed,
        "contacts_created": run.contacts_created,
        "api_calls": run.api_calls,
        "rate_limited": run.rate_limited,
        "error": run.error,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


def run_sync(
    ctx: AppContext,
    provider_key: str,
    mode: str = "full",
    batch: int = 5000,
    api: WeComApi | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    run_id: int | None = None,
) -> dict[str, Any]:
    """Sync and return the finished run (``status`` ``done`` or ``failed`` with ``error``);
    ``run_id``: carry on a run opened by :func:`open_run`."""
    with ctx.db.session() as s:
        own_api = api is None
        api = api or provider_api(s, ctx.keyring, provider_key)
    if run_id is None:
        run_id = open_run(ctx, provider_key, mode)["id"]
    calls0, limited0 = api.calls, api.rate_limited
    progress: dict[str, int] = {}

    def save(**changes: Any) -> dict[str, Any]:
        progress.update({k: v for k, v in changes.items() if isinstance(v, int)})
        with ctx.db.session() as s:
            row = s.get(WeComSyncRun, run_id)
            assert row is not None
            for key, value in changes.items():
                setattr(row, key, value)
            row.beat_at = utcnow()
            row.api_calls, row.rate_limited = api.calls - calls0, api.rate_limited - limited0
            out = describe(row)
        if on_progress:
            on_progress(out)
        return out

    try:
        with ctx.db.session() as s:
            sync_staff(s, api, provider_key, full=mode == "full")
            staff = staff_userids(s, provider_key)
        save(staff_total=len(staff))
        seen = _customers(ctx, api, provider_key, mode, staff, batch, save)
        closed = _close_missing(ctx, provider_key, staff, seen) if mode == "full" else 0
        return save(follows_closed=closed, status="done", finished_at=utcnow())
    except (WeComError, ProviderError) as exc:
        message = in_words(exc) if isinstance(exc, WeComError) else str(exc)
        return save(status="failed", error=message[:2000], finished_at=utcnow())
    except Exception as exc:
        save(status="failed", error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=utcnow())
        raise
    finally:
        if own_api:
            api.close()


def open_run(ctx: AppContext, provider_key: str, mode: str) -> dict[str, Any]:
    """The progress row of a sync about to start (checked: the provider and the mode)."""
    if mode not in MODES:
        raise SyncError(f"mode: one of {', '.join(MODES)}")
    with ctx.db.session() as s:
        provider_api(s, ctx.keyring, provider_key).close()  # a bad provider fails here, in words
        for other in s.scalars(
            select(WeComSyncRun).where(
                WeComSyncRun.provider_key == provider_key, WeComSyncRun.status == "running"
            )
        ):
            if not _stale(other):  # two syncs of one corp would double its API calls and rows
                raise SyncError(
                    f"provider: a sync of {provider_key!r} is running (run {other.id}, started "
                    f"{other.started_at.isoformat()}); wait for it to finish"
                )
            other.status, other.finished_at = "failed", utcnow()
            other.error = "interrupted: its process stopped (no progress for 10 minutes)"
        run = WeComSyncRun(provider_key=provider_key, mode=mode, beat_at=utcnow())
        s.add(run)
        s.flush()
        return describe(run)


def _customers(
    ctx: AppContext,
    api: WeComApi,
    provider_key: str,
    mode: str,
    staff: list[str],
    batch: int,
    save: Callable[..., dict[str, Any]],
) -> set[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    pending: list[tuple[dict[str, Any], dict[str, Any]]] = []
    totals = {"follows_seen": 0, "follows_written": 0, "contacts_created": 0}

    analysed = {"at": 0}

    def flush(staff_done: int) -> None:
        if (
            pending
            and ctx.db.engine.dialect.name == "postgresql"
            and totals["follows_seen"] >= 2 * analysed["at"]
        ):
            # The planner plans from an empty table's statistics until told otherwise: without
            # this the lookups of a big first sync turn into sequential scans (minutes at 100k).
            analyze(ctx.db.engine, ("contacts", "identities", "contact_follows", "touches"))
            analysed["at"] = max(totals["follows_seen"], batch)
        if pending:
            with ctx.db.session() as s:
                if mode == "incremental":  # known relations are the callbacks' to keep current
                    known = open_follow_keys(s, provider_key, [str(e["external_userid"]) for e, _ in pending])
                    pending[:] = [
                        (e, f) for e, f in pending if (str(f["userid"]), f["_external_userid"]) not in known
                    ]
                resolver = BulkResolver(s, ctx, provider_key)
                contacts = resolver.resolve(pending)
                rows = [(contacts[str(e["external_userid"])], f) for e, f in pending]
                totals["follows_written"] += write_follows(
                    s, provider_key, rows, only_new=mode == "incremental"
                )
                totals["contacts_created"] += resolver.created
            pending.clear()
        save(staff_done=staff_done, **totals)

    for start in range(0, len(staff), USERS_PER_CALL):
        users = staff[start : start + USERS_PER_CALL]
        cursor = ""
        while True:
            body: dict[str, Any] = {"userid_list": users, "limit": PAGE_LIMIT}
            if cursor:
                body["cursor"] = cursor
            data = api.call("POST", f"{EC}/batch/get_by_user", body)
            for item in data.get("external_contact_list") or []:
                external, follow = item.get("external_contact") or {}, item.get("follow_info") or {}
                ext = str(external.get("external_userid") or "")
                if not ext or not follow.get("userid"):
                    continue
                follow = {**follow, "_external_userid": ext}
                seen.add((str(follow["userid"]), ext))
                pending.append((external, follow))
                totals["follows_seen"] += 1
            cursor = str(data.get("next_cursor") or "")
            if len(pending) >= batch:
                flush(start)
            if not cursor:
                break
    flush(len(staff))
    return seen


def _close_missing(ctx: AppContext, provider_key: str, staff: list[str], seen: set[tuple[str, str]]) -> int:
    """Open relations of the synced staff that WeCom no longer lists."""
    now = utcnow()
    closed = 0
    with ctx.db.session() as s:
        for chunk in chunked(staff):
            rows = s.execute(
                select(ContactFollow.id, ContactFollow.staff_userid, ContactFollow.external_userid).where(
                    ContactFollow.provider_key == provider_key,
                    ContactFollow.staff_userid.in_(chunk),
                    ContactFollow.deleted_at.is_(None),
                )
            ).all()
            gone = [
                {"id": i, "deleted_at": now, "deleted_by": "sync"} for i, u, e in rows if (u, e) not in seen
            ]
            if gone:
                s.execute(update(ContactFollow), gone)
                closed += len(gone)
    return closed


def last_runs(ctx: AppContext, provider_key: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    with ctx.db.session() as s:
        q = select(WeComSyncRun).order_by(WeComSyncRun.id.desc()).limit(limit)
        if provider_key:
            q = q.where(WeComSyncRun.provider_key == provider_key)
        return [describe(r) for r in s.scalars(q)]
