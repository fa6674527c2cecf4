"""Users, passwords, sessions, API keys and the sign-in throttle. Never commits: the request,
the CLI command or the client method that calls it owns the transaction."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.auth.roles import ROLES, Permission, allows, can_grant
from siyu.config import Settings
from siyu.store.models import ApiKey, LoginFailure, User, UserSession, utcnow

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
#: Verified against when the username does not exist, so a miss costs the same time as a hit
#: and response timing does not tell which usernames exist.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{1,99}$")
KEY_PREFIX = "sk_"
MIN_PASSWORD = 10


class AuthError(Exception):
    """Bad input to a user/key operation; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class AuthNotFound(AuthError):
    pass


class AuthForbidden(AuthError):
    """The caller's role may not act on this user or key: the granting rule (you may act only
    on a role whose permissions you hold) applies to changing and revoking as to creating."""

    def __init__(self, field: str, message: str, target_role: str) -> None:
        super().__init__(field, message)
        self.target_role = target_role


class LoginThrottled(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in user or an API key. ``actor`` is what the audit log shows."""

    actor: str
    role: str
    user_id: int | None = None
    key_id: int | None = None
    username: str | None = None
    language: str | None = None
    session_id: int | None = None
    csrf_token: str | None = None

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AuthError("role", f"unknown role {role!r}; one of {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AuthError("password", f"must be at least {MIN_PASSWORD} characters")


class AuthService:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- users --------------------------------------------------------------------------------
    def users(self) -> list[User]:
        return list(self.session.scalars(select(User).order_by(User.id)))

    def user_count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(User)) or 0)

    def user(self, username: str) -> User:
        user = self.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise AuthNotFound("username", f"no user {username!r}")
        return user

    def create_user(
        self,
        username: str,
        password: str,
        role: str,
        actor: str,
        name: str = "",
        language: str = "zh",
        granter_role: str | None = None,
    ) -> User:
        if not _USERNAME.match(username):
            raise AuthError("username", "2–100 letters, digits or . _ @ + -, starting with a letter or digit")
        _check_role(role)
        _check_password(password)
        if granter_role is not None and not can_grant(granter_role, role):
            raise AuthError("role", f"a {granter_role} cannot create a {role}")
        if language not in ("zh", "en"):
            raise AuthError("language", "zh or en")
        if self.session.scalar(select(User.id).where(User.username == username)) is not None:
            raise AuthError("username", f"{username!r} already exists")
        user = User(
            username=username, name=name, role=role, language=language, password_hash=_HASHER.hash(password)
        )
        self.session.add(user)
        self.session.flush()
        audit.record(
            self.session, actor, "user.created", "user", user.id, {"username": username, "role": role}
        )
        return user

    def update_user(
        self,
        username: str,
        actor: str,
        role: str | None = None,
        disabled: bool | None = None,
        password: str | None = None,
        granter_role: str | None = None,
    ) -> User:
        user = self.user(username)
        changes: dict[str, object] = {}
        if granter_role is not None and not can_grant(granter_role, user.role):
            raise AuthForbidden("role", f"a {granter_role} cannot change a {user.role}", user.role)
        if role is not None and role != user.role:
            _check_role(role)
            if granter_role is not None and not can_grant(granter_role, role):
                raise AuthError("role", f"a {granter_role} cannot grant {role}")
            if user.role == "owner" and self._owners() == 1:
                raise AuthError("role", "the last owner cannot be demoted")
            changes["role"] = [user.role, role]
            user.role = role
        if disabled is not None and disabled != user.disabled:
            if disabled and user.role == "owner" and self._owners() == 1:
                raise AuthError("disabled", "the last owner cannot be disabled")
            user.disabled = disabled
            changes["disabled"] = disabled
        if password is not None:
            _check_password(password)
            user.password_hash = _HASHER.hash(password)
            changes["password"] = "changed"
        if "role" in changes or disabled or password is not None:
            # A changed role, a disabled account or a new password ends every open session.
            self.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        if changes:
            audit.record(self.session, actor, "user.updated", "user", user.id, changes)
        return user

    def _owners(self) -> int:
        stmt = select(func.count()).select_from(User).where(User.role == "owner", User.disabled.is_(False))
        return int(self.session.scalar(stmt) or 0)

    # --- sign-in ------------------------------------------------------------------------------
    def throttle_check(self, limits: list[tuple[str, int]], window_s: float) -> None:
        """Raises LoginThrottled when any key has reached its limit of failures in the window."""
        since = utcnow() - timedelta(seconds=window_s)
        for key, max_failures in limits:
            stmt = select(func.count(), func.min(LoginFailure.at)).where(
                LoginFailure.key == key, LoginFailure.at > since
            )
            count, oldest = self.session.execute(stmt).one()
            if count >= max_failures:
                retry = int((oldest + timedelta(seconds=window_s) - utcnow()).total_seconds()) + 1
                raise LoginThrottled(max(retry, 1))

    def authenticate(
        self,
        username: str,
        password: str,
        client: str,
        max_failures: int,
        window_s: float,
        shared_max_failures: int | None = None,
    ) -> User | None:
        """The user when the password is right; ``None`` otherwise. Raises LoginThrottled before
        checking anything once guessing went on too long, counted three ways:

        * this username from this address: ``max_failures`` (one person's typos lock only them);
        * this address over all usernames and this username over all addresses:
          ``shared_max_failures`` (default 20 × ``max_failures``), so colleagues behind one office
          address keep signing in while one of them is locked, yet guessing many usernames from one
          address, or one username from many addresses, is still stopped.
        """
        name, client = username.lower()[:100], client[:64]  # keys and audit columns are bounded
        shared = shared_max_failures if shared_max_failures is not None else 20 * max_failures
        keys = [f"pair:{name}|{client}", f"user:{name}", f"ip:{client}"]
        self.throttle_check([(keys[0], max_failures), (keys[1], shared), (keys[2], shared)], window_s)
        user = self.session.scalar(select(User).where(User.username == username))
        try:
            ok = _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None or user.disabled:
            for key in keys:
                self.session.add(LoginFailure(key=key))
            audit.record(
                self.session, f"ip:{client}", "login.failed", "user", None, {"username": username[:100]}
            )
            return None
        if _HASHER.check_needs_rehash(user.password_hash):
            user.password_hash = _HASHER.hash(password)
        # The user's own failures are forgiven; the address's count stays (others' guesses).
        self.session.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys[:2])))
        user.last_login_at = utcnow()
        audit.record(self.session, f"user:{user.username}", "login", "user", user.id, {"client": client})
        return user

    def start_session(self, user: User, hours: float) -> str:
        """A new session with a fresh token and CSRF token; the caller sets the cookie. Always a
        new token, never one the browser brought along (no session fixation)."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        self.session.add(
            UserSession(
                token_hash=_sha256(token),
                user_id=user.id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=hours),
            )
        )
        self.session.flush()
        return token

    def sign_in(
        self, username: str, password: str, client: str, brought: str | None, settings: Settings
    ) -> tuple[str, User] | None:
        """A new session token and its user when the password is right, else None (raises
        LoginThrottled). A session the browser brought along is ended either way and never
        promoted to signed-in: the token is always new (no session fixation)."""
        user = self.authenticate(
            username.strip(),
            password,
            client,
            settings.login_max_failures,
            settings.login_window_s,
            settings.login_max_failures_shared,
        )
        if brought is not None:
            self.end_session(brought)
        if user is None:
            return None
        return self.start_session(user, settings.session_hours), user

    def session_principal(self, token: str, hours: float) -> Principal | None:
        row = self.session.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == _sha256(token))
        ).first()
        if row is None:
            return None
        sess, user = row
        now = utcnow()
        if sess.expires_at <= now or user.disabled:
            self.session.delete(sess)
            return None
        if (now - sess.last_seen_at).total_seconds() > 60:  # sliding expiry, written at most once a minute
            sess.last_seen_at = now
            sess.expires_at = now + timedelta(hours=hours)
        return Principal(
            actor=f"user:{user.username}",
            role=user.role,
            user_id=user.id,
            username=user.username,
            language=user.language,
            session_id=sess.id,
            csrf_token=sess.csrf_token,
        )

    def end_session(self, token: str) -> None:
        self.session.execute(delete(UserSession).where(UserSession.token_hash == _sha256(token)))

    def set_language(self, user_id: int, language: str) -> None:
        if language not in ("zh", "en"):
            raise AuthError("language", "zh or en")
        user = self.session.get(User, user_id)
        if user is not None:
            user.language = language

    # --- API keys -----------------------------------------------------------------------------
    def api_keys(self) -> list[ApiKey]:
        return list(self.session.scalars(select(ApiKey).order_by(ApiKey.id)))

    def create_api_key(
        self, name: str, role: str, actor: str, granter_role: str | None = None
    ) -> tuple[ApiKey, str]:
        """The key row and the key itself, which is shown this once and never again."""
        name = name.strip()
        if not name or len(name) > 200:
            raise AuthError("name", "1–200 characters")
        _check_role(role)
        if granter_role is not None and not can_grant(granter_role, role):
            raise AuthError("role", f"a {granter_role} cannot create a {role} key")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(name=name, role=role, prefix=secret[:10], key_hash=_sha256(secret), created_by=actor)
        self.session.add(key)
        self.session.flush()
        audit.record(
            self.session,
            actor,
            "api_key.created",
            "api_key",
            key.id,
            {"name": name, "role": role, "prefix": key.prefix},
        )
        return key, secret

    def revoke_api_key(self, key_id: int, actor: str, granter_role: str | None = None) -> ApiKey:
        """``granter_role``: the caller's role when a person acts (REST, console); an admin
        cannot revoke an owner's key any more than create one. None: the database's own
        authority (Python API, CLI)."""
        key = self.session.get(ApiKey, key_id)
        if key is None:
            raise AuthNotFound("id", f"no API key {key_id}")
        if granter_role is not None and not can_grant(granter_role, key.role):
            raise AuthForbidden("role", f"a {granter_role} cannot revoke a {key.role} key", key.role)
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            audit.record(self.session, actor, "api_key.revoked", "api_key", key.id, {"prefix": key.prefix})
        return key

    def key_principal(self, secret: str) -> Principal | None:
        if not secret.startswith(KEY_PREFIX):
            return None
        key = self.session.scalar(select(ApiKey).where(ApiKey.key_hash == _sha256(secret)))
        if (
            key is None
            or key.revoked_at is not None
            or not hmac.compare_digest(key.key_hash, _sha256(secret))
        ):
            return None
        now = utcnow()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            key.last_used_at = now
        return Principal(actor=f"key:{key.prefix}", role=key.role, key_id=key.id)
