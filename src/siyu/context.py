"""The runtime context every capability receives: settings, system of record, PII keyring and
identifier parser. Built once per process by an interface (CLI, API, Python client, tests)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.profiles.detect import PiiDetector
from siyu.profiles.identifiers import IdentifierParser
from siyu.profiles.pii import Keyring, load_keys
from siyu.profiles.service import ProfileService, ResolutionRules
from siyu.store.engine import Database
from siyu.store.private import private_umask


@dataclass
class AppContext:
    settings: Settings

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

    def profiles(self, session: Session) -> ProfileService:
        return ProfileService(session, self.keyring, self.rules, self.parser.pii)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()
