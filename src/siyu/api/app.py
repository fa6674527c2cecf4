"""The FastAPI application: ingest, management API, OpenAPI docs at /docs, and (inside
``siyu serve``) the warehouse feeder running in the background."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from siyu import __version__
from siyu.analytics.base import AnalyticsError
from siyu.analytics.economics.spend import SpendImportError
from siyu.api import (
    analytics,
    auth,
    brand,
    community,
    content,
    coupons,
    distribution,
    events,
    ingest,
    journeys,
    layers,
    lists,
    loyalty,
    loyalty_engage,
    management,
    orders,
    privacy,
    referral_insights,
    referral_posters,
    referrals,
    retention,
    wecom_inflow,
    wecom_ways,
)
from siyu.api.errors import (
    error_response,
    field_problems,
    install_error_answers,
    install_openapi,
    wants_chinese,
)
from siyu.api.security import AuditWrites, authorise
from siyu.auth.service import AuthError, AuthForbidden, AuthNotFound
from siyu.background import LayerTasks
from siyu.brand import ZoneError
from siyu.channels.http import ProviderError as HttpProviderError
from siyu.channels.providers import ProviderConflict, ProviderError, ProviderNotFound
from siyu.client import Siyu
from siyu.client import open as open_client
from siyu.commerce.schemas import CommerceError, CommerceNotFound
from siyu.commerce.subscriptions import SubscriptionError
from siyu.community.wecom import CommunityError, CommunityNotFound
from siyu.consent.service import ConsentError
from siyu.console.app import install as install_console
from siyu.content.files import UploadRefused, UploadTooLarge
from siyu.content.schemas import ContentError
from siyu.content.service import ContentConflict, ContentNotFound
from siyu.coupons.errors import CouponConflict, CouponError, CouponNotFound
from siyu.distribution.profitsharing import ProfitSharingError
from siyu.distribution.settings import DistributionError, DistributionNotFound
from siyu.events.schemas import CatalogueError, CatalogueNotFound
from siyu.exports.tabular import ExportFormatError
from siyu.i18n_errors import explain_message
from siyu.ingest.dead_letters import PurgeDeadLetters
from siyu.ingest.jobs import ImportJobNotFound
from siyu.ingest.readers import ImportFileError
from siyu.journeys.schemas import JourneyDefinitionError
from siyu.journeys.service import JourneyConflict, JourneyError, JourneyNotFound
from siyu.journeys.worker import WorkerProcess
from siyu.loyalty.ledger import InsufficientPoints
from siyu.loyalty.programme import LoyaltyError, LoyaltyNotFound
from siyu.privacy.schemas import PrivacyError
from siyu.profiles.listing import ListError
from siyu.profiles.views import LookupError_
from siyu.referrals.metrics import CampaignNotFound
from siyu.referrals.posters import FontMissing, PosterError, PosterNotFound
from siyu.referrals.review import ReviewError, ReviewNotFound
from siyu.referrals.schemas import ReferralError, ReferralNotFound
from siyu.retention.service import RetentionError
from siyu.rfm.schemas import RfmSettingsError
from siyu.segments.schemas import SegmentDefinitionError
from siyu.segments.service import SegmentError, SegmentNotFound
from siyu.sources.service import SourceError
from siyu.stages.service import StageError
from siyu.tags.service import TagConflict, TagError, TagNotFound
from siyu.warehouse.feeder import FeederProcess
from siyu.warehouse.store import WarehouseBusy
from siyu.wecom.figures import FiguresNotFound
from siyu.wecom.provider import WeComUnavailable
from siyu.wecom.staff import StaffError, StaffNotFound
from siyu.wecom.sync import SyncError
from siyu.wecom.transfer import TransferError
from siyu.wecom.ways import WaysConflict, WaysError, WaysNotFound

#: Capability errors → HTTP status; the message is the capability's own, clear text.
ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (SourceError, 409),
    (ZoneError, 422),
    (LookupError_, 404),
    (ConsentError, 422),
    (PrivacyError, 422),
    (ImportFileError, 422),
    (ImportJobNotFound, 404),
    (SpendImportError, 422),
    (SegmentNotFound, 404),
    (ListError, 422),
    (ExportFormatError, 422),
    (SegmentError, 409),
    (TagNotFound, 404),
    (TagConflict, 409),
    (TagError, 422),
    (StageError, 422),
    (RfmSettingsError, 422),
    (ContentNotFound, 404),
    (ContentConflict, 409),
    (UploadTooLarge, 413),
    (UploadRefused, 415),
    (ContentError, 422),
    (JourneyNotFound, 404),
    (JourneyConflict, 409),
    (JourneyError, 422),
    (ProviderNotFound, 404),
    (ProviderConflict, 409),
    (ProviderError, 422),
    (WarehouseBusy, 503),
    (AuthNotFound, 404),
    (AuthForbidden, 403),
    (AuthError, 422),
    (CatalogueError, 422),
    (WaysNotFound, 404),
    (FiguresNotFound, 404),
    (WaysConflict, 409),
    (WaysError, 422),
    (WeComUnavailable, 422),
    (StaffNotFound, 404),
    (StaffError, 422),
    (CouponNotFound, 404),
    (CouponConflict, 409),
    (CouponError, 422),
    (SyncError, 422),
    (TransferError, 422),
    (CatalogueNotFound, 404),
    (RetentionError, 422),
    (CommunityNotFound, 404),
    (CommunityError, 422),
    (HttpProviderError, 502),
    (LoyaltyNotFound, 404),
    (CampaignNotFound, 404),
    (ReviewNotFound, 404),
    (ReviewError, 409),
    (InsufficientPoints, 409),
    (LoyaltyError, 422),
    (CommerceNotFound, 404),
    (SubscriptionError, 409),
    (CommerceError, 422),
    (DistributionNotFound, 404),
    (DistributionError, 422),
    (ProfitSharingError, 502),
    (PosterNotFound, 404),
    (FontMissing, 503),
    (PosterError, 422),
)


def _error_answers(app: FastAPI) -> None:
    for error, status in ERROR_STATUS:

        def answer(_request: Request, exc: Exception, status: int = status) -> JSONResponse:
            field = getattr(exc, "field", None)  # AuthError names its field
            error = getattr(exc, "message", None) if isinstance(field, str) else None
            return error_response(status, str(exc), path=field if error else None, error=error)

        app.add_exception_handler(error, answer)

    def invalid_analysis(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AnalyticsError)
        return error_response(422, str(exc), path=exc.field, error=exc.message)

    app.add_exception_handler(AnalyticsError, invalid_analysis)

    def invalid_definition(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SegmentDefinitionError | JourneyDefinitionError)
        if wants_chinese(request):  # the definition's own wording, in Chinese, with where
            message = explain_message(exc.message, "zh")
            return error_response(422, f"{exc.path}：{message}", path=exc.path, error=message)
        return error_response(422, str(exc), path=exc.path, error=exc.message)

    app.add_exception_handler(SegmentDefinitionError, invalid_definition)
    app.add_exception_handler(JourneyDefinitionError, invalid_definition)

    def invalid_coupon(request: Request, exc: Exception) -> JSONResponse:
        """A refused coupon template in Chinese when asked (the field stays as sent)."""
        assert isinstance(exc, CouponError)
        if wants_chinese(request) and exc.zh:
            detail = f"{exc.field}：{exc.zh}" if exc.field else exc.zh
            return error_response(422, detail, path=exc.field, error=exc.zh)
        return error_response(422, str(exc), path=exc.field, error=exc.message if exc.field else None)

    app.add_exception_handler(CouponError, invalid_coupon)  # its subclasses keep their 404 / 409

    def invalid_referral(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ReferralError)
        status = 404 if isinstance(exc, ReferralNotFound) else 422
        return error_response(status, str(exc), path=exc.field, errors=field_problems(exc.errors))

    app.add_exception_handler(ReferralError, invalid_referral)


def create_app(client: Siyu, feed_warehouse: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = client.ctx.settings
        feeder = (
            FeederProcess(
                settings.resolved_database_url,
                settings.resolved_warehouse_path,
                settings.warehouse_batch_size,
                settings.warehouse_feed_interval_s,
                PurgeDeadLetters(
                    settings.dead_letter_dir,
                    settings.dead_letter_retention_days,
                    then=LayerTasks(
                        settings.layers_interval_s,
                        settings.warehouse_batch_size,
                        settings.retention_interval_s,
                        settings=settings,
                    ),
                ),
            )
            if feed_warehouse
            else None
        )
        # The journey worker runs beside the feeder in `siyu serve`; more can run as `siyu worker`.
        worker = WorkerProcess(settings) if feed_warehouse else None
        if feeder:
            feeder.start()
        if worker:
            worker.start()
        yield
        if getattr(app.state, "wecom_receiver", None) is not None:
            app.state.wecom_receiver.close()
        if worker:
            worker.stop()
        if feeder:
            feeder.stop()

    app = FastAPI(
        title="siyu (私域) API",
        version=__version__,
        description="Ingest (Segment-compatible), profiles, channels and sources.",
        lifespan=lifespan,
    )
    app.state.client = client
    app.state.write_keys = ingest.WriteKeyCache()
    install_error_answers(app)
    _error_answers(app)
    install_openapi(app)
    app.add_middleware(AuditWrites)
    # Ingest authenticates by source write key, the public routers by signed tokens; every
    # /api/v1 route goes through authorise() and its permission table (api/permissions.py).
    app.include_router(ingest.router)
    app.include_router(content.public_router)
    app.include_router(journeys.public_router)
    # before journeys' /providers/{key}/callbacks/{kind}, which would otherwise match "events"
    app.include_router(wecom_inflow.callback_router)
    guarded = [Depends(authorise)]
    for router in (
        wecom_inflow.router,
        management.router,
        layers.router,
        events.router,
        lists.router,
        content.router,
        journeys.router,
        analytics.router,
        auth.router,
        privacy.router,
        retention.router,
        brand.router,
        wecom_ways.router,
        community.router,
        loyalty.router,
        loyalty_engage.router,
        referral_insights.router,
        orders.router,
        coupons.router,
        referrals.router,
        distribution.router,
        referral_posters.router,
    ):
        app.include_router(router, dependencies=guarded)

    install_console(app)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/")

    @app.get("/healthz", tags=["overview"])
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    return app


def serve_app() -> FastAPI:
    """Factory for ``siyu serve --workers N``: each worker process builds its own client from
    the environment; whichever worker takes the warehouse first feeds it."""
    return create_app(open_client(), feed_warehouse=True)
