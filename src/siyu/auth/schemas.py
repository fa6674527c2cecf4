"""Users and API keys as plain data for every interface (never a password hash or key hash)."""

from __future__ import annotations

from typing import Any

from siyu.store.models import ApiKey, User


def user_dict(u: User) -> dict[str, Any]:
    return {
        "username": u.username,
        "name": u.name,
        "role": u.role,
        "language": u.language,
        "disabled": u.disabled,
        "created_at": u.created_at.isoformat(),
        "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
    }


def key_dict(k: ApiKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "name": k.name,
        "prefix": k.prefix,
        "role": k.role,
        "created_by": k.created_by,
        "created_at": k.created_at.isoformat(),
        "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
        "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
    }
