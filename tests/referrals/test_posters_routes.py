"""The poster routes (REST and console) and the CLI command: PNG with ETag and private caching
headers, 304 on a matching If-None-Match, 404 for an unknown code, field errors for a bad
template; ``siyu referrals poster`` writes the file."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from tests.cli.conftest import cli_env
from tests.conftest import TEST_KEY, ConsoleSession, RunningServer
from tests.referrals.poster_helpers import add_campaign, add_participant
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.config import Settings
from siyu.store.models import ReferralCampaign

SMALL = {"width": 300, "height": 400, "qr": {"x": 50, "y": 150, "size": 200}}
POSTER = "/api/v1/referrals/campaigns/spring/participants/{code}/poster.png"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=db_url, secret_key=TEST_KEY, poster_image_hosts=[]
    )


@pytest.fixture
def api(server: RunningServer, api_key: Callable[[str], str]) -> Iterator[httpx.Client]:
    with server.client.ctx.db.session() as s:
        cid = add_campaign(s, poster=SMALL)
        add_participant(s, cid, "HUA1", avatar="http://169.254.169.254/latest/meta-data")
        add_campaign(s, key="broken", poster={**SMALL, "qr": {"x": 250, "y": 0, "size": 200}})
        s.commit()
    headers = {"Authorization": f"Bearer {api_key('viewer')}"}
    with httpx.Client(base_url=server.url, timeout=60, headers=headers) as http:
        yield http


def test_rest_poster_is_a_png_with_cache_headers(api: httpx.Client) -> None:
    resp = api.get(POSTER.format(code="HUA1"))
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(resp.content)).size == (300, 400)
    etag = resp.headers["etag"]
    assert etag.startswith('"') and resp.headers["cache-control"] == "private, max-age=300"
    again = api.get(POSTER.format(code="HUA1"), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    stale = api.get(POSTER.format(code="HUA1"), headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.content == resp.content


def test_rest_unknown_code_or_campaign_is_404(api: httpx.Client) -> None:
    resp = api.get(POSTER.format(code="NOPE"))
    assert resp.status_code == 404 and "NOPE" in resp.json()["detail"]
    assert api.get("/api/v1/referrals/campaigns/autumn/participants/HUA1/poster.png").status_code == 404


def test_rest_bad_template_names_the_field(api: httpx.Client, server: RunningServer) -> None:
    with server.client.ctx.db.session() as s:
        from sqlalchemy import select

        broken = s.scalar(select(ReferralCampaign).where(ReferralCampaign.key == "broken"))
        assert broken is not None
        add_participant(s, broken.id, "BRK1")
        s.commit()
    resp = api.get("/api/v1/referrals/campaigns/broken/participants/BRK1/poster.png")
    assert resp.status_code == 422 and resp.json()["path"] == "settings.poster.qr"


def test_rest_needs_a_key(server: RunningServer, api: httpx.Client) -> None:
    assert httpx.get(server.url + POSTER.format(code="HUA1")).status_code == 401


def test_console_preview_and_participant_poster(
    api: httpx.Client, console_as: Callable[[str], ConsoleSession]
) -> None:
    viewer = console_as("viewer")
    preview = viewer.get("/console/referrals/spring/poster-preview.png")
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"
    assert preview.headers["etag"] and "private" in preview.headers["cache-control"]
    assert (
        viewer.get(
            "/console/referrals/spring/poster-preview.png", headers={"If-None-Match": preview.headers["etag"]}
        ).status_code
        == 304
    )
    mine = viewer.get("/console/referrals/spring/participants/HUA1/poster.png")
    assert mine.status_code == 200 and Image.open(io.BytesIO(mine.content)).size == (300, 400)
    missing = viewer.get("/console/referrals/spring/participants/NOPE/poster.png")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    assert viewer.get("/console/referrals/autumn/poster-preview.png").status_code == 404


def test_cli_writes_the_poster(server: RunningServer, tmp_path: Path, api: httpx.Client) -> None:
    runner = CliRunner()
    out = tmp_path / "hua.png"
    env = cli_env(server.client.ctx.settings)
    result = runner.invoke(
        app, ["referrals", "poster", "spring", "HUA1", "--out", str(out), "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["file"] == str(out) and summary["width"] == 300 and summary["bytes"] == out.stat().st_size
    assert Image.open(out).size == (300, 400)
    refused = runner.invoke(app, ["referrals", "poster", "spring", "NOPE", "--out", str(out)], env=env)
    assert refused.exit_code == 1 and "no participant with code 'NOPE'" in refused.output


def test_rest_without_a_font_is_503_naming_the_setting(
    api: httpx.Client, server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = server.client.ctx
    monkeypatch.setattr(
        ctx, "settings", ctx.settings.model_copy(update={"poster_font": tmp_path / "none.ttc"})
    )
    resp = api.get(POSTER.format(code="HUA1"))
    assert resp.status_code == 503 and "SIYU_POSTER_FONT" in resp.json()["detail"]
