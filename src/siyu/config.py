"""Settings from the environment (``SIYU_*``).

Every process (CLI, API, worker, tests) builds one :class:`Settings`; nothing else reads the
environment, so a setting is documented in one place (``docs/configuration.md``, checked by a
test against the fields below).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    max_batch_calls: int = Field(default=1000, description="Most calls accepted in one POST /v1/batch.")

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
        self.data_dir.mkdir(parents=True, exist_ok=True)
