"""The Python API: ``import siyu; s = siyu.open()``.

A thin interface like the CLI and REST API: each method opens a unit of work, calls the
capability, commits, and returns plain data.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from siyu import brand
from siyu.client.analytics import AnalyticsClient
from siyu.client.auth import ApiKeysClient, UsersClient
from siyu.client.community import CommunityClient
from siyu.client.content import ContentClient
from siyu.client.coupons import CouponsClient
from siyu.client.distribution import DistributionClient
from siyu.client.events import EventsClient
from siyu.client.journeys import JourneysClient, ProvidersClient
from siyu.client.layers import RfmClient, SegmentsClient, StagesClient, TagsClient
from siyu.client.lists import ContactsClient
from siyu.client.loyalty import LoyaltyClient
from siyu.client.loyalty_engage import EngageClient
from siyu.client.orders import OrdersClient
from siyu.client.privacy import PrivacyClient
from siyu.client.referral_insights import ReferralInsightsClient
from siyu.client.referral_posters import ReferralPostersClient
from siyu.client.referrals import ReferralsClient
from siyu.client.retention import AuditClient, RetentionClient
from siyu.client.spend import ScoresClient, SpendClient
from siyu.client.wecom import StaffClient, WeComClient
from siyu.client.wecom_inflow import CorpTagsClient, WeComCallbacksClient
from siyu.commerce.consumer import OrderConsumer
from siyu.config import Settings
from siyu.consent.service import ConsentService
from siyu.context import AppContext
from siyu.distribution.binding import BindingConsumer
from siyu.distribution.consumer import CommissionConsumer
from siyu.ingest import dead_letters, jobs
from siyu.ingest.files import FileImporter, ImportReport, Progress
from siyu.ingest.messages import IngestLimits, MessageValidator
from siyu.ingest.service import BatchResult, IngestService, ingest_in_transaction, validate_all
from siyu.profiles import views
from siyu.referrals.consumer import ReferralConsumer
from siyu.sources.schemas import ChannelCreate, EntryCodeCreate, SourceCreate
from siyu.sources.service import SourcesService
from siyu.stats import overview
from siyu.warehouse.store import FeedResult, Warehouse


class Siyu:
    def __init__(self, context: AppContext) -> None:
        self.ctx = context
        self.tags = TagsClient(context)
        self.segments = SegmentsClient(context)
        self.stages = StagesClient(context)
        self.rfm = RfmClient(context)
        self.events = EventsClient(context)
        self.journeys = JourneysClient(context)
        self.providers = ProvidersClient(context)
        self.analytics = AnalyticsClient(context)
        self.spend = SpendClient(context)
        self.scores = ScoresClient(context)
        self.users = UsersClient(context)
        self.api_keys = ApiKeysClient(context)
        self.privacy = PrivacyClient(context)
        self.retention = RetentionClient(context)
        self.audit = AuditClient(context)
        self.content = ContentClient(context)
        self.contacts = ContactsClient(context)
        self.wecom = WeComClient(context)
        self.staff = StaffClient(context)
        self.community = CommunityClient(context)
        self.wecom_callbacks = WeComCallbacksClient(context)
        self.corp_tags = CorpTagsClient(context)
        self.loyalty = LoyaltyClient(context)
        self.engage = EngageClient(context)  # check-ins, tasks, catalogue, birthdays
        self.coupons = CouponsClient(context)
        self.referrals = ReferralsClient(context)
        self.distribution = DistributionClient(context)
        self.orders = OrdersClient(context, self)
        self.referral_insights = ReferralInsightsClient(context)  # stats, leaderboard, tree, review
        self.referral_posters = ReferralPostersClient(context)

    # --- lifecycle --------------------------------------------------------------------------
    def timezone(self) -> dict[str, Any]:
        """The brand's time zone and where it comes from (``{"timezone": "Asia/Shanghai",
        "source": "default"|"stored"|"environment", "stored": …, "pinned": …}``)."""
        with self.ctx.db.session() as s:
            return brand.describe(s, self.ctx.settings)

    def set_timezone(self, name: str, actor: str = "python") -> dict[str, Any]:
        """Store the brand's time zone (an IANA name; ``ZoneError`` otherwise). SIYU_TIMEZONE,
        when set, still wins: the answer says so (``source``)."""
        with self.ctx.db.session() as s:
            out = brand.change(s, self.ctx.settings, name, actor)
        self.ctx.forget_timezone()
        return out

    def migrate(self) -> None:
        self.ctx.db.upgrade()

    def close(self) -> None:
        self.ctx.close()

    def __enter__(self) -> Siyu:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ingest_service(self, session: Any) -> IngestService:
        # Order events become orders in the ingest transaction, whichever path they came by;
        # a referral_code on any call attributes its contact (after the orders it may carry).
        return IngestService(
            session,
            self.ctx.profiles(session),
            # bindings and commissions read the orders the order consumer booked, so they come
            # after it; a visit and its order in one batch are bound before commissions are paid
            consumers=[
                OrderConsumer(self.ctx.timezone),
                ReferralConsumer(),
                BindingConsumer(),
                CommissionConsumer(),
            ],
        )

    # --- ingest -----------------------------------------------------------------------------
    def batch(self, calls: list[dict[str, Any]], write_key: str | None = None) -> BatchResult:
        """Ingest Segment-spec calls; committed when this returns."""
        source = None
        if write_key:
            with self.ctx.db.session() as s:
                source = SourcesService(s).source_by_write_key(write_key)
                if source is not None:
                    s.expunge(source)
        validator = MessageValidator.from_settings(self.ctx.parser, self.ctx.settings)
        valid, rejected = validate_all(validator, calls)
        return ingest_in_transaction(self.ctx.db, self.ingest_service, valid, rejected, source)

    def identify(
        self,
        identifiers: dict[str, Any],
        traits: dict[str, Any] | None = None,
        timestamp: datetime | str | None = None,
        **extra: Any,
    ) -> BatchResult:
        call = {"type": "identify", "identifiers": identifiers, "traits": traits or {}, **extra}
        if timestamp is not None:
            call["timestamp"] = timestamp if isinstance(timestamp, str) else timestamp.isoformat()
        return self.batch([call])

    def track(
        self,
        event: str,
        identifiers: dict[str, Any],
        properties: dict[str, Any] | None = None,
        timestamp: datetime | str | None = None,
        message_id: str | None = None,
        **extra: Any,
    ) -> BatchResult:
        call: dict[str, Any] = {
            "type": "track",
            "event": event,
            "identifiers": identifiers,
            "properties": properties or {},
            **extra,
        }
        if timestamp is not None:
            call["timestamp"] = timestamp if isinstance(timestamp, str) else timestamp.isoformat()
        if message_id is not None:
            call["messageId"] = message_id
        return self.batch([call])

    def import_file(
        self,
        path: str | Path,
        kind: str,
        fmt: str | None = None,
        mapping: dict[str, str] | None = None,
        write_key: str | None = None,
        progress: Progress | None = None,
        batch_size: int = 5000,
    ) -> ImportReport:
        """Import a CSV, XLSX or JSONL file of events or contacts (see docs/ingest.md)."""
        source = None
        if write_key:
            with self.ctx.db.session() as s:
                source = SourcesService(s).source_by_write_key(write_key)
        importer = self._importer(batch_size)
        settings = self.ctx.settings
        dead_letters.purge(settings.dead_letter_dir, settings.dead_letter_retention_days)
        return importer.run(Path(path), kind, fmt, mapping, source, progress)

    def import_preview(
        self, path: str | Path, kind: str, fmt: str | None = None, mapping: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Check a file as :meth:`import_file` would and show how its columns map, importing
        nothing (``siyu import contacts FILE --dry-run``)."""
        return self._importer().dry_run(Path(path), kind, fmt, mapping)

    def _importer(self, batch_size: int = 5000) -> FileImporter:
        return FileImporter(
            self.ctx.db,
            self.ingest_service,
            self.ctx.settings.dead_letter_dir,
            self.ctx.parser,
            batch_size,
            # a time without an offset in a file is the brand's local time (docs/configuration.md)
            replace(IngestLimits.from_settings(self.ctx.settings), naive_zone=self.ctx.timezone()),
            keyring=self.ctx.keyring,
        )

    def import_rejected(
        self,
        job_id: int,
        limit: int | None = None,
        offset: int = 0,
        reveal: bool = False,
        actor: str = "python",
    ) -> dict[str, Any]:
        """An import's rejected lines, decrypted from its dead-letter file; phones and emails
        masked unless ``reveal`` (audited)."""
        return jobs.rejected(self.ctx, job_id, limit, offset, reveal, actor)

    # --- profiles ---------------------------------------------------------------------------
    def contact(self, query: str, reveal: bool = False, actor: str = "python") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            profiles = self.ctx.profiles(s)
            cid = views.find_contact_id(profiles, self.ctx.parser, query)
            return views.profile(s, profiles, cid, reveal=reveal, actor=actor)

    def set_consent(
        self,
        query: str,
        purpose: str,
        granted: bool,
        channel: str = "*",
        source: str = "python",
        evidence: dict[str, Any] | None = None,
    ) -> None:
        with self.ctx.db.session() as s:
            cid = views.find_contact_id(self.ctx.profiles(s), self.ctx.parser, query)
            ConsentService(s).record(cid, purpose, channel, granted, source, evidence)

    # --- sources ----------------------------------------------------------------------------
    def create_channel(self, key: str, kind: str, name: str | None = None) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            ch = SourcesService(s).create_channel(ChannelCreate(key=key, kind=kind, name=name or key))
            return {"id": ch.id, "key": ch.key, "kind": ch.kind, "name": ch.name}

    def create_entry_code(
        self,
        channel: str,
        state: str,
        name: str | None = None,
        wecom_provider: str | None = None,
        wecom_staff: list[str] | None = None,
        acquisition_link: bool = False,
        skip_verify: bool = True,
        welcome_template: str | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """A plain entry code, or, with ``wecom_provider`` and ``wecom_staff``, a WeCom contact
        way (or 获客助手 link with ``acquisition_link``): see ``s.wecom.create_way``."""
        if wecom_provider or wecom_staff or acquisition_link:
            if not wecom_provider:
                raise ValueError("wecom_provider: required with wecom_staff / acquisition_link")
            return self.wecom.create_way(
                channel,
                state,
                wecom_provider,
                list(wecom_staff or []),
                kind="acquisition_link" if acquisition_link else "contact_way",
                name=name,
                skip_verify=skip_verify,
                welcome_template=welcome_template,
                tags=tags,
            )
        with self.ctx.db.session() as s:
            code = SourcesService(s).create_entry_code(
                EntryCodeCreate(channel=channel, state=state, name=name or state)
            )
            return {"id": code.id, "state": code.state, "channel_id": code.channel_id}

    def create_source(self, name: str, channel: str | None = None) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            src = SourcesService(s).create_source(SourceCreate(name=name, channel=channel))
            return {
                "id": src.id,
                "name": src.name,
                "write_key": src.write_key,
                "channel_id": src.channel_id,
            }

    # --- warehouse and stats ----------------------------------------------------------------
    def feed_warehouse(self, rebuild: bool = False) -> FeedResult:
        wh = Warehouse(self.ctx.settings.resolved_warehouse_path, wait_s=self.ctx.settings.warehouse_wait_s)
        try:
            if rebuild:
                return wh.rebuild(self.ctx.db)
            return wh.feed(self.ctx.db, self.ctx.settings.warehouse_batch_size)
        finally:
            wh.close()

    def stats(self) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return overview(s)


def open(
    data_dir: str | Path | None = None,
    database_url: str | None = None,
    migrate: bool = True,
    **settings: Any,
) -> Siyu:
    """Open siyu on a data directory (default ``SIYU_DATA_DIR`` or ``./siyu-data``)."""
    if data_dir is not None:
        settings["data_dir"] = Path(data_dir)
    if database_url is not None:
        settings["database_url"] = database_url
    client = Siyu(AppContext.from_settings(Settings(**settings)))
    if migrate:
        client.migrate()
    return client
