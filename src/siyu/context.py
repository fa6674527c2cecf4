"""The runtime context every capability receives: settings, system of record, PII keyring and
identifier parser. Built once per process by an interface (CLI, API, Python client, tests)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy.orm import Session

from siyu.brand import brand_timezone, env_timezone, set_brand_timezone
from siyu.config import Settings
from siyu.profiles.detect import PiiDetector
from siyu.profiles.identifiers import IdentifierParser
from siyu.profiles.pii import Keyring, load_keys
from siyu.profiles.service import ProfileService, ResolutionRules
from siyu.store.engine import Database
from siyu.store.private import private_umask

#: Seconds a process keeps the stored brand time zone before reading it again (another worker
#: may have changed it in the console; a page must not query for it every time).
ZONE_TTL_S = 5.0


@dataclass
class AppContext:
    settings: Settings
    _zone: tuple[float, str] | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> AppContext:
        settings = settings or Settings()
        private_umask()  # every file this process writes from now on is 0600 (docs/security.md)
        settings.ensure_data_dir()
        return cls(settings)

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.resolved_database_url)

    @cached_property
    def keyring(self) -> Keyring:
        return Keyring(load_keys(self.settings.secret_key, self.settings.key_file))

    @cached_property
    def parser(self) -> IdentifierParser:
        aliases = self.settings.pii_key_aliases
        return IdentifierParser(
            self.settings.default_region,
            self.settings.blocked_identifier_values,
            PiiDetector(aliases) if aliases is not None else None,
        )

    @cached_property
    def rules(self) -> ResolutionRules:
        return ResolutionRules(
            limits=dict(self.settings.identifier_limits),
            never_merge_customer_nos=self.settings.never_merge_customer_nos,
        )

    def timezone(self, session: Session | None = None) -> str:
        """The brand's time zone (``siyu.brand``): the environment's, else the stored setting,
        read at most every ZONE_TTL_S seconds."""
        pinned = env_timezone(self.settings)
        if pinned:
            return pinned
        if self._zone is not None and time.monotonic() - self._zone[0] < ZONE_TTL_S:
            return self._zone[1]
        if session is not None:
            zone = brand_timezone(session, self.settings)
        else:
            with self.db.session() as own:
                zone = brand_timezone(own, self.settings)
        self._zone = (time.monotonic(), zone)
        return zone

    def set_timezone(self, session: Session, name: str) -> str:
        """Store the brand zone (the caller commits); this process sees it at once."""
        zone = set_brand_timezone(session, name)
        self._zone = (time.monotonic(), zone)
        return zone

    def forget_timezone(self) -> None:
        """Read the stored zone again on next use (after it changed)."""
        self._zone = None

    def profiles(self, session: Session) -> ProfileService:
        return ProfileService(session, self.keyring, self.rules, self.parser.pii)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()
