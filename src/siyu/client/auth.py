"""Python API for console users and API keys: ``s.users`` and ``s.api_keys``.

The Python API and the CLI run with the database's own authority (whoever can open the
database can do anything), so they act as ``actor`` without a role check; the REST API and the
console check roles.
"""

from __future__ import annotations

import secrets
from typing import Any

from siyu.auth.schemas import key_dict as _key
from siyu.auth.schemas import user_dict as _user
from siyu.auth.service import AuthService
from siyu.context import AppContext


class UsersClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def create(
        self,
        username: str,
        password: str,
        role: str,
        name: str = "",
        language: str = "zh",
        actor: str = "python",
    ) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return _user(AuthService(s).create_user(username, password, role, actor, name, language))

    def list(self) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return [_user(u) for u in AuthService(s).users()]

    def update(
        self,
        username: str,
        role: str | None = None,
        disabled: bool | None = None,
        password: str | None = None,
        actor: str = "python",
    ) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return _user(AuthService(s).update_user(username, actor, role, disabled, password))

    def ensure_first_owner(self, actor: str = "setup") -> tuple[str, str] | None:
        """On a database without users, create the owner ``owner`` with a random password and
        return (username, password) so the first run can print how to sign in; else None."""
        with self.ctx.db.session() as s:
            service = AuthService(s)
            if service.user_count():
                return None
            password = secrets.token_urlsafe(12)
            service.create_user("owner", password, "owner", actor, name="Owner")
            return "owner", password


class ApiKeysClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def create(self, name: str, role: str, actor: str = "python") -> dict[str, Any]:
        """The new key's record plus ``key``, the key itself: shown this once, stored hashed."""
        with self.ctx.db.session() as s:
            key, secret = AuthService(s).create_api_key(name, role, actor)
            return {**_key(key), "key": secret}

    def list(self) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return [_key(k) for k in AuthService(s).api_keys()]

    def revoke(self, key_id: int, actor: str = "python") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return _key(AuthService(s).revoke_api_key(key_id, actor))
