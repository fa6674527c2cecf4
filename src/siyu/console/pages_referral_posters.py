"""Console routes for referral posters: the campaign's poster drawn for a sample inviter (the
campaign builder's preview) and a participant's real poster (the detail page links it). Both
are images, with the REST route's ETag and cache headers; a refusal is the console's error page
in the operator's language (an unknown campaign or code, a template that does not fit, no
Chinese font on the server)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from siyu.api.deps import get_client
from siyu.api.referral_posters import png_response
from siyu.auth.roles import Permission as P
from siyu.console.permissions import RouteTable
from siyu.console.web import PageError, language
from siyu.referrals.posters import FontMissing, Poster, PosterError, PosterNotFound

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/referrals/{key}/poster-preview.png"): P.JOURNEYS_READ,
    ("GET", "/console/referrals/{key}/participants/{code}/poster.png"): P.JOURNEYS_READ,
}


def _answer(request: Request, etag: Callable[[], str], poster: Callable[[], Poster]) -> Response:
    try:
        return png_response(request, etag, poster)
    except PosterError as exc:
        zh = language(request, getattr(request.state, "principal", None)) == "zh"
        what = exc.zh if zh else str(exc)
        if isinstance(exc, PosterNotFound):
            raise PageError(404, "not_found", {"what": what}) from None
        if isinstance(exc, FontMissing):
            raise PageError(503, "server_error", {"what": what}) from None
        raise PageError(422, "invalid_input", {"what": what}) from None


@router.get("/referrals/{key}/poster-preview.png", include_in_schema=False)
def poster_preview(key: str, request: Request) -> Response:
    posters = get_client(request).referral_posters
    drawn: list[Poster] = []

    def made() -> Poster:  # drawn (or read from the cache) once, for its ETag and its bytes
        if not drawn:
            drawn.append(posters.preview(key))
        return drawn[0]

    return _answer(request, lambda: made().etag, made)


@router.get("/referrals/{key}/participants/{code}/poster.png", include_in_schema=False)
def participant_poster(key: str, code: str, request: Request) -> Response:
    posters = get_client(request).referral_posters
    return _answer(request, lambda: posters.etag(key, code), lambda: posters.poster(key, code))
