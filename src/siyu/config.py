"""Settings from the environment (``SIYU_*``).

Every process (CLI, API, worker, tests) builds one :class:`Settings`; nothing else reads the
environment, so a setting is documented in one place (``docs/configuration.md``, checked by a
test against the fields below).
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from siyu.brand import check_zone
from siyu.store.private import private_dir, tighten

#: Per-contact identifier limits (Segment Unify style). A merge or attach that would exceed
#: one drops the lowest-priority incoming identifier instead.
DEFAULT_IDENTIFIER_LIMITS: dict[str, int] = {
    "customer_no": 1,
    "phone": 1,
    "email": 3,
    "wechat_unionid": 1,
    "wechat_openid": 10,
    "wecom_external_userid": 3,
    "douyin_openid": 3,
    "taobao_nick": 3,
    "app_device_id": 10,
}


#: The global frequency caps when SIYU_FREQUENCY_CAPS is not set (docs/journeys.md, "Default
#: frequency caps"): WeCom lets a customer receive at most one 群发 a day from a company, and
#: Chinese carriers and SMS platforms expect marketing SMS to a number at most about once a day;
#: three marketing touches a week across channels is what operators consider not spamming.
DEFAULT_FREQUENCY_CAPS: tuple[dict[str, Any], ...] = (
    {"channel": "sms", "per": "day", "max": 1},
    {"channel": "wecom_private", "per": "day", "max": 1},
    {"channel": "any", "per": "week", "max": 3},
)


#: Where WeChat and WeCom serve avatars and contact-way QR codes: the only hosts a poster fetches
#: images from unless SIYU_POSTER_IMAGE_HOSTS says otherwise (docs/referrals-posters.md).
DEFAULT_POSTER_IMAGE_HOSTS: tuple[str, ...] = ("*.qpic.cn", "*.qlogo.cn", "*.weixin.qq.com")


class Settings(BaseSettings):
    """Runtime configuration. Field names map to ``SIYU_<NAME>`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="SIYU_", extra="ignore")

    data_dir: Path = Field(
        default=Path("./siyu-data"),
        description="Directory for the embedded stores (SQLite, DuckDB, key file, dead letters).",
    )
    database_url: str | None = Field(
        default=None,
        description="System-of-record URL; default is SQLite at DATA_DIR/siyu.db. "
        "Production: postgresql+psycopg://user@host/db.",
    )
    warehouse_path: Path | None = Field(
        default=None, description="DuckDB warehouse file; default DATA_DIR/warehouse.duckdb."
    )
    secret_key: str | None = Field(
        default=None,
        description="Base64 of 32 random bytes: the PII master key. Without it a key file is "
        "created on first run at DATA_DIR/secret.key. Comma-separate several keys to rotate: "
        "the first encrypts, all decrypt.",
    )
    default_region: str = Field(
        default="CN", description="Region for phone numbers written without a country code."
    )
    identifier_limits: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_IDENTIFIER_LIMITS),
        description="JSON object: maximum identifiers of each type on one contact.",
    )
    never_merge_customer_nos: bool = Field(
        default=True,
        description="Never merge automatically two contacts that both carry a customer_no.",
    )
    blocked_identifier_values: list[str] = Field(
        default_factory=list,
        description="JSON list of extra regular expressions; matching identifier values are ignored.",
    )
    pii_key_aliases: dict[str, list[str]] | None = Field(
        default=None,
        description='JSON object {"phone": [...], "email": [...]}: keys (any case, with or without '
        "_ - . or spaces) whose values are phone numbers or email addresses, replacing the built-in "
        "list (phone, mobile, mobile_phone, phoneNumber, tel, 手机, 手机号, 电话, email, e-mail, 邮箱, …).",
    )
    dead_letter_retention_days: float = Field(
        default=30,
        gt=0,
        description="Days a rejected-lines file of an import is kept (encrypted) before it is purged.",
    )
    warehouse_batch_size: int = Field(
        default=50_000,
        description="Events per micro-batch fed from the system of record to the warehouse.",
    )
    warehouse_feed_interval_s: float = Field(
        default=2.0, description="Seconds between warehouse feeds inside `siyu serve`."
    )
    warehouse_wait_s: float = Field(
        default=30.0,
        ge=0,
        description="Seconds a request or command waits for the warehouse while `siyu serve`'s "
        "background process holds it.",
    )
    layers_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between runs of the tagging rules and the recompute of dynamic "
        "segments inside `siyu serve`.",
    )
    retention_interval_s: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds between runs of the retention policies inside `siyu serve` (the policies "
        "themselves are brand settings: `siyu retention show`).",
    )
    max_batch_calls: int = Field(default=1000, description="Most calls accepted in one POST /v1/batch.")
    max_call_bytes: int = Field(
        default=32 * 1024,
        ge=1024,
        description="Largest call (one batch entry, one import line) in bytes of JSON; a larger call "
        "is rejected by its index or line (Segment's limit is 32 KiB).",
    )
    max_call_identifiers: int = Field(
        default=50,
        ge=1,
        description="Most identifier values in one call (userId, anonymousId, the identifiers "
        "object and identify traits together); a call with more is rejected by its index or line.",
    )
    max_property_depth: int = Field(
        default=32,
        ge=2,
        le=200,
        description="Deepest nesting of objects and lists inside a call's properties, traits or "
        "context; a deeper call is rejected by its index or line.",
    )
    max_future_hours: float = Field(
        default=24,
        gt=0,
        description="Hours an event's time may lie ahead of the server's clock (after correcting "
        "the client's clock with sentAt); a call further in the future is rejected.",
    )
    timezone: str | None = Field(
        default=None,
        description="The brand's time zone (IANA name, default Asia/Shanghai): dashboard days and "
        "today, analytics periods, times on every page and in exports, and the zone of contacts "
        "without a `timezone` trait. Overrides the one set in the console.",
    )
    default_timezone: str | None = Field(
        default=None,
        description="Older name of TIMEZONE (the contacts' default zone), still honoured when "
        "TIMEZONE is not set.",
    )
    quiet_hours: str = Field(
        default="22:00-08:00",
        description="Default quiet hours (local HH:MM-HH:MM, at most 20 h; empty turns them off) for "
        "journeys that do not set their own; a message due inside is held to the end.",
    )
    frequency_caps: list[dict[str, Any]] = Field(
        default_factory=lambda: [dict(c) for c in DEFAULT_FREQUENCY_CAPS],
        description="JSON list of global frequency caps on top of each journey's (transactional "
        "messages are exempt). The default: at most 1 SMS and 1 WeCom private message per contact "
        "per day and 3 messages per week across channels; `[]` turns global caps off, e.g. "
        '[{"channel": "any", "per": "day", "max": 3}, {"channel": "sms", "per": "week", "max": 2}].',
    )
    journey_max_sends_per_enrolment: int = Field(
        default=50,
        ge=1,
        description="Most messages one contact gets from one pass through a journey, for journeys "
        "that set no `limits.sends_per_enrolment`; over it the contact exits (`send_limit`).",
    )
    journey_max_sends_per_contact: int = Field(
        default=200,
        ge=1,
        description="Most messages one contact gets from one journey over all its enrolments "
        "(re-entry), for journeys that set no `limits.sends_per_contact`.",
    )
    marketing_consent_default: bool = Field(
        default=False,
        description="Whether a contact with no consent record for marketing on a channel may be sent "
        "marketing messages there (PIPL: keep false unless consent was collected elsewhere).",
    )
    worker_batch_size: int = Field(
        default=1000, gt=0, description="Due journey steps a worker claims in one transaction."
    )
    worker_idle_s: float = Field(
        default=1.0, gt=0, description="Seconds a journey worker sleeps when nothing is due."
    )
    outbox_retry_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds before a message that failed temporarily is tried again; doubles with "
        "each attempt (at most an hour, six attempts).",
    )
    outbox_lease_s: float = Field(
        default=120.0,
        gt=0,
        description="Seconds a claimed outbox message belongs to one worker; after that another worker "
        "asks the provider whether it went out before sending it.",
    )
    receipt_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="Seconds before the receipt poller asks a provider about the same WeCom task "
        "(or pulls a provider's statuses) again.",
    )
    receipt_calls_per_pass: int = Field(
        default=300,
        gt=0,
        description="WeCom tasks the receipt poller asks about in one pass, per provider; the next "
        "pass goes on where this one stopped.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL customers reach this server at; tracked short links are "
        "PUBLIC_URL/l/CODE, so it must be the public address (https in production).",
    )

    poster_font: Path | None = Field(
        default=None,
        description="CJK font file (.ttf/.ttc/.otf) referral posters are drawn with; default: the "
        "first Chinese font installed (fonts-wqy-microhei, which .ci/run installs).",
    )
    poster_image_hosts: list[str] = Field(
        default_factory=lambda: list(DEFAULT_POSTER_IMAGE_HOSTS),
        description="JSON list of host patterns (*.qpic.cn style) poster avatars and contact-way QR "
        "codes may be fetched from; other URLs are not fetched (the poster falls back).",
    )
    poster_fetch_timeout_s: float = Field(
        default=3,
        gt=0,
        le=60,
        description="Seconds a poster waits for an avatar or QR image before drawing a fallback.",
    )

    session_hours: float = Field(
        default=12,
        gt=0,
        description="Hours a console sign-in lasts without activity before it must be renewed.",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed sign-ins allowed for one username from one client address within "
        "LOGIN_WINDOW_S before its further attempts are refused (HTTP 429); colleagues behind "
        "the same address are not affected.",
    )
    login_max_failures_shared: int = Field(
        default=100,
        ge=1,
        description="Failed sign-ins allowed from one client address over all usernames, and for "
        "one username over all addresses, within LOGIN_WINDOW_S (the ceiling against guessing "
        "many usernames, or one from many addresses).",
    )
    login_window_s: float = Field(
        default=900, gt=0, description="Seconds over which failed sign-ins are counted (and the lock lasts)."
    )
    secure_cookies: bool = Field(
        default=False,
        description="Mark the console's session cookie Secure (set true behind https).",
    )

    @field_validator("pii_key_aliases")
    @classmethod
    def _pii_key_aliases(cls, v: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        unknown = sorted(set(v or {}) - {"phone", "email"})
        if unknown:
            raise ValueError(f"pii_key_aliases: keys must be phone or email, not {', '.join(unknown)}")
        return v

    @field_validator("timezone", "default_timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        return check_zone(v) if v is not None and v.strip() else None

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, v: str) -> str:
        if v.strip() and not re.fullmatch(
            r"\s*([01]?\d|2[0-3]):[0-5]\d\s*-\s*([01]?\d|2[0-3]):[0-5]\d\s*", v
        ):
            raise ValueError(f"quiet_hours: expected HH:MM-HH:MM (e.g. 22:00-08:00) or empty, not {v!r}")
        return v

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'siyu.db').resolve()}"

    @cached_property
    def resolved_warehouse_path(self) -> Path:
        return (self.warehouse_path or self.data_dir / "warehouse.duckdb").resolve()

    @property
    def key_file(self) -> Path:
        return self.data_dir / "secret.key"

    @property
    def dead_letter_dir(self) -> Path:
        return self.data_dir / "dead-letters"

    def ensure_data_dir(self) -> None:
        """Create the data directory private (0700), narrowing anything already in it."""
        private_dir(self.data_dir)
        tighten(self.data_dir)
