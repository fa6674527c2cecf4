"""The auth capability on both databases: password hashing, sign-in and its throttle,
sessions, API keys and the guards around the last owner and role grants."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from siyu.auth.roles import ROLES, Permission, allows, can_grant
from siyu.auth.service import AuthError, AuthService, LoginThrottled
from siyu.context import AppContext
from siyu.store.models import ApiKey, AuditEntry, LoginFailure, User, UserSession, utcnow

PW = "a long enough password"


def make_user(ctx: AppContext, username: str = "ana", role: str = "operator") -> None:
    with ctx.db.session() as s:
        AuthService(s).create_user(username, PW, role, actor="test")


def test_password_is_stored_as_argon2id_only(ctx: AppContext) -> None:
    make_user(ctx)
    with ctx.db.session() as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "ana"))
    assert stored is not None and stored.startswith("$argon2id$") and PW not in stored
    assert login(ctx, "ana", PW) == "ana"
    assert login(ctx, "ana", PW + "x") is None


@pytest.mark.parametrize(
    ("username", "password", "role", "field"),
    [
        ("a", PW, "viewer", "username"),
        ("has space", PW, "viewer", "username"),
        ("bob", "short", "viewer", "password"),
        ("bob", PW, "superuser", "role"),
    ],
)
def test_bad_user_input_names_the_field(
    ctx: AppContext, username: str, password: str, role: str, field: str
) -> None:
    with ctx.db.session() as s, pytest.raises(AuthError) as err:
        AuthService(s).create_user(username, password, role, actor="test")
    assert err.value.field == field
    with ctx.db.session() as s:
        assert AuthService(s).user_count() == 0


def test_duplicate_username_is_refused(ctx: AppContext) -> None:
    make_user(ctx)
    with ctx.db.session() as s, pytest.raises(AuthError, match="already exists"):
        AuthService(s).create_user("ana", PW, "viewer", actor="test")


def login(
    ctx: AppContext,
    username: str,
    password: str,
    client: str = "10.0.0.1",
    max_failures: int = 3,
    shared: int | None = None,
):
    with ctx.db.session() as s:
        user = AuthService(s).authenticate(username, password, client, max_failures, 900, shared)
        return user.username if user else None


def test_throttle_locks_the_username_at_that_address_even_for_the_right_password(ctx: AppContext) -> None:
    make_user(ctx)
    for _ in range(3):
        assert login(ctx, "ana", "wrong password!") is None
    with pytest.raises(LoginThrottled) as locked:
        login(ctx, "ana", PW)
    assert 1 <= locked.value.retry_after_s <= 901
    # Her own typos lock her at that address only: from another address she signs in.
    assert login(ctx, "ana", PW, client="10.9.9.9") == "ana"
    # The failures age out of the window: signing in works again at the first address.
    with ctx.db.session() as s:
        s.execute(update(LoginFailure).values(at=utcnow() - timedelta(seconds=901)))
    assert login(ctx, "ana", PW) == "ana"


def test_one_persons_typos_do_not_lock_colleagues_behind_the_same_address(ctx: AppContext) -> None:
    """As the testers found it: one locked colleague locked the whole office, owner included."""
    make_user(ctx, "ana")
    make_user(ctx, "boss", "owner")
    for _ in range(10):
        with contextlib.suppress(LoginThrottled):
            assert login(ctx, "ana", "wrong password!") is None
    with pytest.raises(LoginThrottled):
        login(ctx, "ana", PW)
    assert login(ctx, "boss", PW) == "boss"  # same office address, not locked by ana's failures
    assert login(ctx, "boss", "one typo of mine") is None  # the owner's own typo…
    assert login(ctx, "boss", PW) == "boss"  # …does not lock anyone either


def test_many_usernames_from_one_address_reach_the_shared_ceiling(ctx: AppContext) -> None:
    make_user(ctx, "ana")
    make_user(ctx, "bo")
    for i in range(6):  # guessing usernames from one address: each name fails only once
        assert login(ctx, f"x{i}", "whatever-password", shared=6) is None
    with pytest.raises(LoginThrottled):
        login(ctx, "bo", PW, shared=6)  # the address is locked for everyone now
    assert login(ctx, "bo", PW, client="10.0.0.2", shared=6) == "bo"


def test_one_username_from_many_addresses_reaches_the_shared_ceiling(ctx: AppContext) -> None:
    make_user(ctx, "ana")
    for i in range(6):
        assert login(ctx, "ana", "whatever-password", client=f"10.1.0.{i}", shared=6) is None
    with pytest.raises(LoginThrottled):
        login(ctx, "ana", PW, client="10.1.0.99", shared=6)


def test_oversized_usernames_and_addresses_are_counted_not_failed(ctx: AppContext) -> None:
    assert login(ctx, "x" * 5000, "whatever-password", client="f" * 300) is None
    with ctx.db.session() as s:
        assert all(len(k) <= 200 for k in s.scalars(select(LoginFailure.key)))


def test_success_clears_the_username_failures_and_is_audited(ctx: AppContext) -> None:
    make_user(ctx)
    assert login(ctx, "ana", "wrong password!") is None
    assert login(ctx, "ana", PW) == "ana"
    with ctx.db.session() as s:
        assert s.scalar(select(LoginFailure.id).where(LoginFailure.key.like("%ana%"))) is None
        actions = [a for (a,) in s.execute(select(AuditEntry.action).order_by(AuditEntry.id))]
    assert actions == ["user.created", "login.failed", "login"]


def test_disabled_user_cannot_sign_in(ctx: AppContext) -> None:
    make_user(ctx, "ana", "operator")
    make_user(ctx, "own", "owner")
    with ctx.db.session() as s:
        AuthService(s).update_user("ana", "test", disabled=True)
    assert login(ctx, "ana", PW) is None


def test_sessions_expire_and_end_when_the_role_changes(ctx: AppContext) -> None:
    make_user(ctx, "ana", "operator")
    with ctx.db.session() as s:
        service = AuthService(s)
        token = service.start_session(service.user("ana"), hours=1)
    with ctx.db.session() as s:
        p = AuthService(s).session_principal(token, 1)
        assert p is not None and p.role == "operator" and p.csrf_token and p.actor == "user:ana"
        assert AuthService(s).session_principal(token + "x", 1) is None
    with ctx.db.session() as s:
        AuthService(s).update_user("ana", "test", role="viewer")
    with ctx.db.session() as s:
        assert AuthService(s).session_principal(token, 1) is None  # re-sign-in picks up the new role
        service = AuthService(s)
        token = service.start_session(service.user("ana"), hours=1)
    with ctx.db.session() as s:
        s.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    with ctx.db.session() as s:
        assert AuthService(s).session_principal(token, 1) is None


def test_session_tokens_are_stored_hashed(ctx: AppContext) -> None:
    make_user(ctx)
    with ctx.db.session() as s:
        service = AuthService(s)
        token = service.start_session(service.user("ana"), hours=1)
    with ctx.db.session() as s:
        stored = list(s.scalars(select(UserSession.token_hash)))
    assert stored and token not in stored and len(stored[0]) == 64


def test_the_last_owner_stays(ctx: AppContext) -> None:
    make_user(ctx, "own", "owner")
    with ctx.db.session() as s, pytest.raises(AuthError, match="last owner"):
        AuthService(s).update_user("own", "test", role="admin")
    with ctx.db.session() as s, pytest.raises(AuthError, match="last owner"):
        AuthService(s).update_user("own", "test", disabled=True)
    make_user(ctx, "own2", "owner")
    with ctx.db.session() as s:
        assert AuthService(s).update_user("own", "test", role="admin").role == "admin"


def test_admins_cannot_grant_more_than_they_hold(ctx: AppContext) -> None:
    assert can_grant("owner", "owner") and can_grant("admin", "operator") and can_grant("admin", "analyst")
    assert not can_grant("admin", "owner") and can_grant("operator", "viewer") is not False
    with ctx.db.session() as s, pytest.raises(AuthError, match="cannot create a owner"):
        AuthService(s).create_user("boss", PW, "owner", actor="test", granter_role="admin")
    with ctx.db.session() as s, pytest.raises(AuthError, match="cannot create a owner key"):
        AuthService(s).create_api_key("k", "owner", actor="test", granter_role="admin")


def test_api_keys_are_shown_once_stored_hashed_and_revocable(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        key, secret = AuthService(s).create_api_key("etl", "analyst", actor="test")
        key_id = key.id
    assert secret.startswith("sk_") and len(secret) > 40
    with ctx.db.session() as s:
        row = s.get(ApiKey, key_id)
        assert row is not None and secret not in (row.key_hash, row.prefix) and secret.startswith(row.prefix)
        p = AuthService(s).key_principal(secret)
        assert p is not None and p.role == "analyst" and p.actor == f"key:{row.prefix}"
        assert AuthService(s).key_principal(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    with ctx.db.session() as s:
        AuthService(s).revoke_api_key(key_id, actor="test")
    with ctx.db.session() as s:
        assert AuthService(s).key_principal(secret) is None


def test_the_matrix_keeps_its_promises() -> None:
    """The issue's examples, read straight off the matrix."""
    assert allows("analyst", Permission.ANALYTICS_READ) and allows("analyst", Permission.CONTACTS_READ)
    assert not allows("analyst", Permission.JOURNEYS_WRITE) and not allows("analyst", Permission.PII_REVEAL)
    assert allows("operator", Permission.JOURNEYS_WRITE) and not allows(
        "operator", Permission.CHANNELS_MANAGE
    )
    for perm in (Permission.CHANNELS_MANAGE, Permission.KEYS_MANAGE, Permission.USERS_MANAGE):
        assert {r for r in ROLES if allows(r, perm)} == {"owner", "admin"}
    assert {r for r in ROLES if allows(r, Permission.PII_EXPORT)} == {"owner"}
    assert not any(
        allows("viewer", p) for p in Permission if p.value.endswith((".write", ".manage", "reveal"))
    )
