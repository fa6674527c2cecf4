"""Sync of staff and existing customers from the emulator: exact contacts and owners under
injected rate limits, unionid matching, full vs incremental, progress."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from tests.wecom.ways_env import PROVIDER, Env, ways_env

from siyu.context import AppContext
from siyu.profiles.identifiers import Identifier
from siyu.store.models import Contact, ContactFollow, Touch, WeComStaff

T0 = 1_780_000_000


@pytest.fixture
def env(ctx: AppContext) -> Iterator[Env]:
    with ways_env(ctx, staff=()) as e:
        yield e


def seed(env: Env, customers: int, staff: int, shared_every: int = 10, seed_: int = 7) -> dict[str, set[str]]:
    """``customers`` across ``staff``; every ``shared_every``-th customer has a second owner.
    Returns the expected owners (external_userid → staff userids)."""
    rng = random.Random(seed_)
    owners: dict[str, set[str]] = {}
    for i in range(customers):
        ext = f"wm{i:07d}"
        first = f"u{i % staff:03d}"
        users = {first} | ({f"u{rng.randrange(staff):03d}"} if i % shared_every == 0 else set())
        for u in users:
            env.world.add_follow(u, ext, T0 + i, state="spring" if i % 3 == 0 else "", unionid=f"un{i}")
        owners[ext] = users
    return owners


def db_owners(ctx: AppContext) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    with ctx.db.session() as s:
        for ext, staff in s.execute(
            select(ContactFollow.external_userid, ContactFollow.staff_userid).where(
                ContactFollow.deleted_at.is_(None)
            )
        ):
            out.setdefault(ext, set()).add(staff)
    return out


def live_contacts(ctx: AppContext) -> int:
    with ctx.db.session() as s:
        return int(s.scalar(select(func.count(Contact.id)).where(Contact.merged_into_id.is_(None))) or 0)


def test_sync_10k_across_200_staff_with_rate_limits(env: Env) -> None:
    expected = seed(env, 10_000, 200)
    env.world.inject_faults(every=7, errcode=45009)  # one call in seven is refused
    progress: list[dict] = []
    run = env.siyu.wecom.sync(PROVIDER, on_progress=progress.append)
    assert run["status"] == "done", run["error"]
    assert env.world.faults_injected > 0 and run["rate_limited"] == env.world.faults_injected
    assert live_contacts(env.ctx) == 10_000 == run["contacts_created"]
    assert db_owners(env.ctx) == expected
    assert run["follows_seen"] == sum(len(v) for v in expected.values())
    assert [p["staff_done"] for p in progress] == sorted(p["staff_done"] for p in progress)
    assert progress[-1]["staff_done"] == progress[-1]["staff_total"] == 200
    with env.ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(WeComStaff)) == 200
        # each contact is found by its unionid as well as its external_userid
        profiles = env.ctx.profiles(s)
        by_ext = profiles.resolve(Identifier("wecom_external_userid", "wm0000042"))
        assert by_ext is not None and profiles.resolve(Identifier("wechat_unionid", "un42")) == by_ext


def test_a_second_full_sync_changes_nothing_then_closes_what_went(env: Env) -> None:
    expected = seed(env, 300, 5)
    env.siyu.wecom.sync(PROVIDER)
    again = env.siyu.wecom.sync(PROVIDER)
    assert (again["follows_written"], again["contacts_created"], again["follows_closed"]) == (0, 0, 0)
    gone = next(iter(expected))
    for u in list(expected[gone]):
        env.world.remove_follow(u, gone)
    env.world.add_follow("u000", "wmNEW", T0 + 9999)
    incremental = env.siyu.wecom.sync(PROVIDER, mode="incremental")
    assert (incremental["follows_written"], incremental["follows_closed"]) == (1, 0)
    full = env.siyu.wecom.sync(PROVIDER)
    assert full["follows_closed"] == len(expected[gone])
    with env.ctx.db.session() as s:
        by = s.scalars(select(ContactFollow.deleted_by).where(ContactFollow.external_userid == gone)).all()
    assert by and set(by) == {"sync"}
    assert live_contacts(env.ctx) == 301


def test_an_existing_contact_is_matched_by_unionid(env: Env) -> None:
    with env.ctx.db.session() as s:
        known = env.ctx.profiles(s).identify([Identifier("wechat_unionid", "un-old")]).contact_id
    env.world.add_follow("u1", "wmOLD", T0, unionid="un-old")
    env.world.add_follow("u1", "wmFRESH", T0, name="小王")
    env.world.add_follow("u1", "wmPHONE", T0, name="李四13800138000")
    env.siyu.wecom.sync(PROVIDER)
    assert live_contacts(env.ctx) == 3
    with env.ctx.db.session() as s:
        owner = s.scalar(select(ContactFollow.contact_id).where(ContactFollow.external_userid == "wmOLD"))
        fresh = s.scalar(select(ContactFollow.contact_id).where(ContactFollow.external_userid == "wmFRESH"))
        phone = s.scalar(select(ContactFollow.contact_id).where(ContactFollow.external_userid == "wmPHONE"))
        profiles = env.ctx.profiles(s)
        traits = {a.name: a.value for a in profiles.repo.attributes(fresh).values()}
        masked = {a.name: a.value for a in profiles.repo.attributes(phone).values()}
        old = {a.name: a.value for a in profiles.repo.attributes(known).values()}
    assert owner == known
    assert traits["name"] == traits["wecom_name"] == "小王" and traits["wecom_contact_type"] == "wechat"
    assert "13800138000" not in str(masked) and masked["name"].startswith("李四")
    assert old["wecom_name"] == "wmOLD"  # a known contact gains the traits too


def test_a_sync_that_keeps_being_refused_fails_in_words_and_keeps_its_progress(env: Env) -> None:
    seed(env, 50, 2)
    env.world.inject_faults(every=1, errcode=45009)
    run = env.siyu.wecom.sync(PROVIDER)
    assert run["status"] == "failed" and "45009" in run["error"] and "per-minute" in run["error"]
    assert env.siyu.wecom.sync_runs(PROVIDER)[0]["status"] == "failed"


def test_a_new_contacts_first_touch_is_the_code_of_its_earliest_follow(env: Env) -> None:
    code = env.siyu.create_entry_code("wecom-main", "poster")
    env.world.add_follow("u1", "wmP", T0 + 50, state="")
    env.world.add_follow("u2", "wmP", T0, state="poster")  # the earlier relation came through the code
    env.siyu.wecom.sync(PROVIDER)
    with env.ctx.db.session() as s:
        contact = s.scalars(select(Contact)).one()
        touches = s.scalars(select(Touch).where(Touch.contact_id == contact.id)).all()
    assert contact.first_entry_code_id == code["id"]
    assert [(t.entry_code_id, t.is_first) for t in touches] == [(code["id"], True)]


def test_without_directory_access_the_follow_user_list_gives_the_staff(env: Env) -> None:
    seed(env, 200, 4)
    env.world.directory_forbidden = True  # a customer-contact secret that may not read user/list
    run = env.siyu.wecom.sync(PROVIDER)
    assert run["status"] == "done" and run["follows_seen"] == sum(
        1 for f in env.world.follows.values() for _ in f
    )
    assert {s["userid"] for s in env.siyu.staff.list()} == set(env.world.users)


def test_a_sync_killed_with_its_process_is_interrupted_and_a_live_one_is_not_doubled(env: Env) -> None:
    """A run row left ``running`` by a killed process blocks nothing: after STALE_AFTER without a
    beat it reads as interrupted and the next sync records it as failed; a sync still beating
    refuses a second one for the same provider (two would double the corp's API calls)."""
    from datetime import timedelta

    from siyu.store.models import WeComSyncRun, utcnow
    from siyu.wecom.sync import STALE_AFTER, SyncError, open_run

    seed(env, 20, 2)
    live = open_run(env.ctx, PROVIDER, "full")
    with pytest.raises(SyncError, match="is running"):
        env.siyu.wecom.sync(PROVIDER)
    with env.ctx.db.session() as s:  # the process that opened it dies: no beat from now on
        row = s.get(WeComSyncRun, live["id"])
        assert row is not None
        row.beat_at = row.started_at = utcnow() - STALE_AFTER - timedelta(seconds=1)
        s.commit()
    assert env.siyu.wecom.sync_runs(PROVIDER)[0]["status"] == "interrupted"
    run = env.siyu.wecom.sync(PROVIDER)
    assert run["status"] == "done" and run["id"] != live["id"]
    with env.ctx.db.session() as s:
        old = s.get(WeComSyncRun, live["id"])
        assert old is not None and old.status == "failed" and "interrupted" in (old.error or "")
