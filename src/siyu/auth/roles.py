"""The permission matrix: five roles, each a fixed set of permissions.

Interfaces never test a role by name; they ask for a permission, and this table is the one
place that says which roles hold it (docs/roles.md is generated from it and a test checks the
two agree). Roles are sets rather than a strict ladder because the analyst is not "less than"
the operator: an analyst imports spend and stores scores, but never sends or edits journeys.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    DASHBOARD_READ = "dashboard.read"
    CONTACTS_READ = "contacts.read"  # profiles with PII masked
    CONTACTS_WRITE = "contacts.write"  # tag/untag, consent, stage by hand
    PII_REVEAL = "pii.reveal"  # one contact's identities in clear, audited
    PII_EXPORT = "pii.export"  # raw PII out of the system in bulk
    IMPORTS_WRITE = "imports.write"  # contact/event files
    SEGMENTS_READ = "segments.read"
    SEGMENTS_WRITE = "segments.write"
    TAGS_WRITE = "tags.write"  # tag definitions, groups and rules
    JOURNEYS_READ = "journeys.read"
    JOURNEYS_WRITE = "journeys.write"  # build, start, pause, enrol: anything that sends
    CONTENT_READ = "content.read"
    CONTENT_WRITE = "content.write"
    ANALYTICS_READ = "analytics.read"  # run analyses, export their CSV
    ANALYTICS_WRITE = "analytics.write"  # spend import, stored churn scores
    CHANNELS_READ = "channels.read"
    CHANNELS_MANAGE = "channels.manage"  # channels, entry codes, sources (write keys)
    PROVIDERS_MANAGE = "providers.manage"  # provider accounts and their secrets
    USERS_MANAGE = "users.manage"
    KEYS_MANAGE = "keys.manage"
    AUDIT_READ = "audit.read"


P = Permission

_VIEWER = {
    P.DASHBOARD_READ,
    P.CONTACTS_READ,
    P.SEGMENTS_READ,
    P.JOURNEYS_READ,
    P.CONTENT_READ,
    P.ANALYTICS_READ,
    P.CHANNELS_READ,
}
_ANALYST = _VIEWER | {P.ANALYTICS_WRITE}
_OPERATOR = _VIEWER | {
    P.CONTACTS_WRITE,
    P.PII_REVEAL,
    P.IMPORTS_WRITE,
    P.SEGMENTS_WRITE,
    P.TAGS_WRITE,
    P.JOURNEYS_WRITE,
    P.CONTENT_WRITE,
}
_ADMIN = (
    _OPERATOR
    | _ANALYST
    | {P.CHANNELS_MANAGE, P.PROVIDERS_MANAGE, P.USERS_MANAGE, P.KEYS_MANAGE, P.AUDIT_READ}
)
_OWNER = _ADMIN | {P.PII_EXPORT}

#: Role name → permissions. Order is from most to least powerful (lists and docs use it).
ROLES: dict[str, frozenset[Permission]] = {
    "owner": frozenset(_OWNER),
    "admin": frozenset(_ADMIN),
    "operator": frozenset(_OPERATOR),
    "analyst": frozenset(_ANALYST),
    "viewer": frozenset(_VIEWER),
}

ROLE_NAMES: dict[str, dict[str, str]] = {
    "owner": {"en": "Owner", "zh": "所有者"},
    "admin": {"en": "Admin", "zh": "管理员"},
    "operator": {"en": "Operator", "zh": "运营"},
    "analyst": {"en": "Analyst", "zh": "分析师"},
    "viewer": {"en": "Viewer", "zh": "只读"},
}


def allows(role: str, permission: Permission) -> bool:
    return permission in ROLES.get(role, frozenset())


def can_grant(granter: str, role: str) -> bool:
    """A user may hand out only roles whose permissions they hold themselves, so an admin
    cannot create an owner (or an owner-scoped key) and widen their own reach."""
    return role in ROLES and ROLES[role] <= ROLES.get(granter, frozenset())


def matrix_markdown() -> str:
    """The matrix as a Markdown table (docs/roles.md embeds it; a test keeps them equal)."""
    roles = list(ROLES)
    lines = ["| permission | " + " | ".join(roles) + " |", "|---|" + "---|" * len(roles)]
    for perm in Permission:
        marks = " | ".join("✔" if perm in ROLES[r] else "" for r in roles)
        lines.append(f"| `{perm.value}` | {marks} |")
    return "\n".join(lines) + "\n"

