"""`siyu users …` and `siyu api-keys …` through the real Typer app: create, list, change, and
the clear errors for bad input (nothing half-made)."""

from __future__ import annotations

import pytest
from tests.cli.conftest import Cli, cli_env

from siyu.auth.service import AuthService
from siyu.context import AppContext

PW = "a long cli password"


@pytest.fixture
def cli(ctx: AppContext) -> Cli:
    return Cli(cli_env(ctx.settings, SIYU_PASSWORD=PW))


def test_users_create_list_and_change(cli: Cli, ctx: AppContext) -> None:
    made = cli.json("users", "create", "mei", "--role", "operator", "--name", "运营小美")
    assert (made["username"], made["role"], made["name"], made["disabled"]) == (
        "mei",
        "operator",
        "运营小美",
        False,
    )
    assert "password" not in str(made) and PW not in str(made)
    out = cli("users", "create", "lin", "--role", "analyst").stdout
    assert "lin" in out and "analyst" in out
    assert [(u["username"], u["role"]) for u in cli.json("users", "list")] == [
        ("mei", "operator"),
        ("lin", "analyst"),
    ]
    assert cli.json("users", "set", "lin", "--role", "viewer", "--disabled")["disabled"] is True
    with ctx.db.session() as s:  # the password from SIYU_PASSWORD works, and only for enabled users
        assert AuthService(s).authenticate("mei", PW, "cli-test", 5, 900) is not None
        assert AuthService(s).authenticate("lin", PW, "cli-test", 5, 900) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "create", "x y", "--role", "viewer"], "username"),
        (["users", "create", "ok-name", "--role", "god"], "role"),
        (["users", "create", "ok-name", "--role", "viewer", "--password", "short"], "password"),
    ],
)
def test_bad_user_input_is_refused_with_the_field(cli: Cli, args: list[str], message: str) -> None:
    assert message in cli.fails(*args, code=2)
    assert cli.json("users", "list") == []


def test_api_keys_create_shows_the_key_once_and_revoke_stops_it(cli: Cli, ctx: AppContext) -> None:
    made = cli.json("api-keys", "create", "reporting", "--role", "analyst")
    secret = made["key"]
    assert secret.startswith("sk_") and made["prefix"] == secret[:10]
    listed = cli.json("api-keys", "list")
    assert [(k["name"], k["role"], k["revoked_at"]) for k in listed] == [("reporting", "analyst", None)]
    assert secret not in str(listed)
    printed = cli("api-keys", "create", "etl", "--role", "viewer").stdout
    assert "sk_" in printed and "only now" in printed
    with ctx.db.session() as s:
        assert AuthService(s).key_principal(secret) is not None
    assert cli.json("api-keys", "revoke", str(made["id"]))["revoked_at"]
    with ctx.db.session() as s:
        assert AuthService(s).key_principal(secret) is None
    assert "no API key" in cli.fails("api-keys", "revoke", "999")


def test_the_cli_revokes_any_key_with_the_databases_authority(cli: Cli, ctx: AppContext) -> None:
    """The granting rule binds people acting through REST and the console (they have a role);
    whoever runs the CLI can open the database and acts as its owner, as with `api-keys create`."""
    made = cli.json("api-keys", "create", "owner-etl", "--role", "owner")
    assert cli.json("api-keys", "revoke", str(made["id"]))["revoked_at"]
    with ctx.db.session() as s:
        assert AuthService(s).key_principal(made["key"]) is None
