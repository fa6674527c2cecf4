"""`siyu users …` and `siyu api-keys …`: console users and REST API keys.

The CLI acts with the database's own authority (whoever can open it can do anything), so these
commands need no sign-in; the audit log names the actor ``cli``.
"""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer

from siyu.auth.roles import ROLES
from siyu.auth.service import AuthError
from siyu.cli.common import JsonOpt, fail, open_client, out, print_json, print_table
from siyu.i18n import t

users_app = typer.Typer(no_args_is_help=True)  # its help: LAZY in cli/main.py
api_keys_app = typer.Typer(no_args_is_help=True)

RoleOpt = Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}. 角色。")]


def _password(given: str | None) -> str:
    """From --password, else SIYU_PASSWORD, else asked twice on the terminal (not echoed)."""
    if given:
        return given
    if env := os.environ.get("SIYU_PASSWORD"):
        return env
    first = getpass.getpass(t("password_prompt"))
    if getpass.getpass(t("password_again")) != first:
        raise fail(t("password_mismatch"), 2)
    return first


@users_app.command("create")
def users_create(
    username: str,
    role: RoleOpt = "operator",
    name: Annotated[str, typer.Option(help="Display name. 显示名。")] = "",
    language: Annotated[str, typer.Option(help="zh or en. 界面语言。")] = "zh",
    password: Annotated[
        str | None, typer.Option(help="Password (else SIYU_PASSWORD, else asked). 密码。")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a console user. 创建控制台用户。"""
    secret = _password(password)
    with open_client() as c:
        try:
            user = c.users.create(username, secret, role, name=name, language=language, actor="cli")
        except AuthError as exc:
            raise fail(str(exc), 2) from exc
    if as_json:
        print_json(user)
    else:
        out.print(t("user_created", username=username, role=role))


@users_app.command("list")
def users_list(as_json: JsonOpt = False) -> None:
    """Every console user. 列出用户。"""
    with open_client() as c:
        users = c.users.list()
    if as_json:
        print_json(users)
        return
    cols = ["username", "name", "role", "disabled", "last_login_at"]
    print_table(cols, [[u[k] for k in cols] for u in users])


@users_app.command("set")
def users_set(
    username: str,
    role: Annotated[str | None, typer.Option("--role", help="New role. 新角色。")] = None,
    disabled: Annotated[
        bool | None, typer.Option("--disabled/--enabled", help="Disable or enable sign-in. 停用/启用。")
    ] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Set a new password (asked). 重设密码。")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Change a user's role, disable them or set a new password. 修改用户。"""
    secret = _password(None) if password else None
    with open_client() as c:
        try:
            user = c.users.update(username, role=role, disabled=disabled, password=secret, actor="cli")
        except AuthError as exc:
            raise fail(str(exc), 2) from exc
    if as_json:
        print_json(user)
    else:
        out.print(t("user_updated", username=username, role=user["role"]))


@api_keys_app.command("create")
def keys_create(
    name: str,
    role: RoleOpt = "analyst",
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; it is shown this once. 创建接口密钥（只显示一次）。"""
    with open_client() as c:
        try:
            key = c.api_keys.create(name, role, actor="cli")
        except AuthError as exc:
            raise fail(str(exc), 2) from exc
    if as_json:
        print_json(key)
    else:
        out.print(t("api_key_created", name=name, role=role, key=key["key"]), soft_wrap=True)


@api_keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """API keys (prefix only). 列出接口密钥。"""
    with open_client() as c:
        keys = c.api_keys.list()
    if as_json:
        print_json(keys)
        return
    cols = ["id", "name", "prefix", "role", "last_used_at", "revoked_at"]
    print_table(cols, [[k[x] for x in cols] for k in keys])


@api_keys_app.command("revoke")
def keys_revoke(key_id: int, as_json: JsonOpt = False) -> None:
    """Revoke an API key at once. 吊销接口密钥。"""
    with open_client() as c:
        try:
            key = c.api_keys.revoke(key_id, actor="cli")
        except AuthError as exc:
            raise fail(str(exc), 1) from exc
    if as_json:
        print_json(key)
    else:
        out.print(t("api_key_revoked", prefix=key["prefix"]))
