"""REST endpoint for a referral participant's poster (PNG). Thin: the client draws or reads the
cached poster; this answers with the image, its ETag and cache headers, and 304 when the
caller already has this version (the ETag is computed without drawing)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from siyu.api.deps import get_client
from siyu.referrals.posters import Poster

router = APIRouter(prefix="/api/v1/referrals", tags=["referrals"])

#: Posters show a person's nickname and avatar: private (no shared cache keeps them); a client
#: may reuse its copy for five minutes, then revalidates with the ETag.
CACHE_CONTROL = "private, max-age=300"
PNG_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"image/png": {}}, "description": "The poster (PNG)"},
    304: {"description": "Not modified: the If-None-Match ETag is the current poster's"},
}


def png_response(request: Request, etag: Callable[[], str], poster: Callable[[], Poster]) -> Response:
    """The poster, or 304 when If-None-Match already names its ETag (then nothing is drawn)."""
    tag = f'"{etag()}"'
    headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}
    asked = {t.strip() for t in request.headers.get("if-none-match", "").split(",")}
    if tag in asked or f"W/{tag}" in asked:
        return Response(status_code=304, headers=headers)
    made = poster()
    headers["ETag"] = f'"{made.etag}"'
    return Response(made.png, media_type="image/png", headers=headers)


@router.get(
    "/campaigns/{key}/participants/{code}/poster.png",
    summary="A participant's referral poster (PNG: avatar, nickname, QR code of their code)",
    response_class=Response,
    responses=PNG_RESPONSES,
)
def participant_poster(key: str, code: str, request: Request) -> Response:
    posters = get_client(request).referral_posters
    return png_response(request, lambda: posters.etag(key, code), lambda: posters.poster(key, code))
