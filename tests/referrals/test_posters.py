"""Referral posters drawn by the service: size, QR code, CJK text, avatar fallbacks and the
cache (issue 18 §3). Rows are made through the models; images come from a loopback server."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageChops
from sqlalchemy import select
from tests.conftest import TEST_KEY
from tests.referrals.poster_helpers import (
    CONTACT_WAY,
    ImageServer,
    add_campaign,
    add_participant,
    image_server,
    png,
)

from siyu.config import Settings
from siyu.content.files import MaterialFiles
from siyu.context import AppContext
from siyu.referrals.posters import (
    FontMissing,
    Poster,
    PosterError,
    PosterNotFound,
    PosterService,
    check_template,
)
from siyu.referrals.posters.render import Inputs, find_font, render
from siyu.referrals.posters.service import RETRY_AFTER_S
from siyu.referrals.posters.template import DEFAULT, parse
from siyu.store.models import ContactAttribute, ReferralCampaign, ReferralParticipant

SMALL = {
    "width": 400,
    "height": 600,
    "background": {"color": "#FAFAFA"},
    "avatar": {"x": 20, "y": 20, "size": 80},
    "nickname": {"x": 120, "y": 40, "font_size": 28, "max_width": 260},
    "qr": {"x": 100, "y": 250, "size": 200},
    "texts": [
        {"text": "{nickname} 邀请你参加{campaign}", "x": 200, "y": 150, "font_size": 20, "align": "center"}
    ],
}


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Images may come from the loopback server; a slow one is given up on after half a second."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        secret_key=TEST_KEY,
        poster_image_hosts=["127.0.0.1"],
        poster_fetch_timeout_s=0.5,
    )


@pytest.fixture
def images() -> Iterator[ImageServer]:
    with image_server() as srv:
        yield srv


def draw(ctx: AppContext, code: str, key: str = "spring") -> Poster:
    with ctx.db.session() as s:
        return PosterService(s, ctx.settings).for_participant(key, code)


def decoded(poster: Poster) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(poster.png)))]


def pixel(poster: Poster, xy: tuple[int, int]) -> tuple[int, ...]:
    return Image.open(io.BytesIO(poster.png)).convert("RGB").getpixel(xy)  # type: ignore[return-value]


def test_poster_has_the_template_size_and_its_qr_decodes_to_the_participants_link(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        add_participant(s, add_campaign(s, poster=SMALL), "HUA123")
        s.commit()
    poster = draw(ctx, "HUA123")
    img = Image.open(io.BytesIO(poster.png))
    assert img.format == "PNG" and img.size == (400, 600) == (poster.width, poster.height)
    assert decoded(poster) == ["https://shop.example.cn/invite?ref=HUA123"]
    assert pixel(poster, (5, 590)) == (0xFA, 0xFA, 0xFA)  # the background colour


def test_default_template_and_the_servers_address_without_a_landing_page(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        cid = add_campaign(s)
        s.get_one(ReferralCampaign, cid).settings = {}
        add_participant(s, cid, "DEF1")
        s.commit()
    poster = draw(ctx, "DEF1")
    assert (poster.width, poster.height) == (DEFAULT["width"], DEFAULT["height"])
    assert decoded(poster) == [ctx.settings.public_url.rstrip("/") + "/?ref=DEF1"]


def test_the_contact_ways_qr_code_is_used_when_the_participant_has_one(
    ctx: AppContext, images: ImageServer
) -> None:
    with ctx.db.session() as s:
        cid = add_campaign(s, poster=SMALL)
        add_participant(s, cid, "WAY1", qr_url=images.url + "/qr.png")
        add_participant(s, cid, "WAY2", qr_url=images.url + "/page.html")
        s.commit()
    assert decoded(draw(ctx, "WAY1")) == [CONTACT_WAY]
    broken = draw(ctx, "WAY2")  # not an image: the link's own QR code instead
    assert decoded(broken) == ["https://shop.example.cn/invite?ref=WAY2"] and broken.fallbacks == ["qr"]


def test_cjk_text_is_drawn_as_glyphs(ctx: AppContext) -> None:
    """Text changes pixels, and two different Chinese names draw differently (a font without
    Chinese would draw both as the same empty boxes)."""
    font = find_font(ctx.settings.poster_font)
    with_text = parse(SMALL)
    without = parse({**SMALL, "texts": [], "nickname": None})
    base = Image.open(io.BytesIO(render(without, Inputs("张三", "春季", "x"), font)))
    one = Image.open(io.BytesIO(render(with_text, Inputs("张三", "春季", "x"), font)))
    two = Image.open(io.BytesIO(render(with_text, Inputs("李四", "春季", "x"), font)))
    line = (0, 140, 400, 180)  # the text line's band
    assert ImageChops.difference(base.crop(line), one.crop(line)).getbbox() is not None
    assert ImageChops.difference(one.crop(line), two.crop(line)).getbbox() is not None
    assert ImageChops.difference(one.crop((120, 30, 400, 80)), two.crop((120, 30, 400, 80))).getbbox()


def test_a_missing_font_is_a_clear_error(ctx: AppContext, tmp_path: Path) -> None:
    with ctx.db.session() as s:
        add_participant(s, add_campaign(s, poster=SMALL), "NOFONT")
        s.commit()
    missing = ctx.settings.model_copy(update={"poster_font": tmp_path / "no-such-font.ttc"})
    with (
        ctx.db.session() as s,
        pytest.raises(FontMissing, match=r"SIYU_POSTER_FONT.*fonts-wqy-microhei") as err,
    ):
        PosterService(s, missing).for_participant("spring", "NOFONT")
    assert err.value.field == "SIYU_POSTER_FONT" and "中文字体" not in str(err.value) and err.value.zh


@pytest.mark.parametrize(
    ("path", "fallback"),
    [("/avatar.png", False), ("/moved.png", False), ("/big.png", True), ("/page.html", True),
     ("/slow.png", True), ("/away.png", True), ("/missing.png", True)],
)  # fmt: skip
def test_avatar_fetch_falls_back_to_the_initial(
    ctx: AppContext, images: ImageServer, path: str, fallback: bool
) -> None:
    with ctx.db.session() as s:
        add_participant(s, add_campaign(s, poster=SMALL), "AVA", nickname="花", avatar=images.url + path)
        s.commit()
    poster = draw(ctx, "AVA")
    centre = pixel(poster, (60, 60))
    if fallback:
        assert poster.fallbacks == ["avatar"] and centre != (0, 0, 255)  # the initial on a coloured disc
    else:
        assert poster.fallbacks == [] and centre == (0, 0, 255)  # the fetched blue avatar
    assert decoded(poster) == ["https://shop.example.cn/invite?ref=AVA"]


def test_a_host_not_allowed_is_never_asked(ctx: AppContext, images: ImageServer) -> None:
    local_only = ctx.settings.model_copy(update={"poster_image_hosts": ["*.qpic.cn"]})
    with ctx.db.session() as s:
        add_participant(s, add_campaign(s, poster=SMALL), "SSRF", avatar=images.url + "/avatar.png")
        s.commit()
        poster = PosterService(s, local_only).for_participant("spring", "SSRF")
    assert poster.fallbacks == ["avatar"] and images.hits["/avatar.png"] == 0


def test_the_cache_serves_until_something_on_the_poster_changes(ctx: AppContext, images: ImageServer) -> None:
    with ctx.db.session() as s:
        contact = add_participant(
            s, add_campaign(s, poster=SMALL), "CACHE", avatar=images.url + "/avatar.png"
        )
        s.commit()
    first = draw(ctx, "CACHE")
    again = draw(ctx, "CACHE")
    assert not first.cached and again.cached and again.png == first.png and again.etag == first.etag
    assert images.hits["/avatar.png"] == 1  # the hit neither fetched nor drew
    with ctx.db.session() as s:
        s.get_one(ContactAttribute, (contact, "nickname")).value = "花花"
        s.commit()
    renamed = draw(ctx, "CACHE")
    assert not renamed.cached and renamed.etag != first.etag and images.hits["/avatar.png"] == 2
    assert not first.path.exists() and renamed.path.exists()  # one file per participant


def test_a_fallback_poster_is_kept_only_for_a_while(ctx: AppContext, images: ImageServer) -> None:
    with ctx.db.session() as s:
        add_participant(s, add_campaign(s, poster=SMALL), "RETRY", avatar=images.url + "/page.html")
        s.commit()
    first = draw(ctx, "RETRY")
    assert first.fallbacks == ["avatar"] and draw(ctx, "RETRY").cached
    old = first.path.stat().st_mtime - RETRY_AFTER_S - 1
    os.utime(first.path, (old, old))  # as if drawn longer ago than the retry period
    retried = draw(ctx, "RETRY")
    assert not retried.cached and images.hits["/page.html"] == 2


def test_unknown_campaign_or_code_is_not_found(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        add_participant(s, add_campaign(s), "KNOWN")
        s.commit()
    with pytest.raises(PosterNotFound, match="code 'NOPE'"):
        draw(ctx, "NOPE")
    with pytest.raises(PosterNotFound, match="campaign 'autumn'"):
        draw(ctx, "KNOWN", key="autumn")


def test_preview_draws_a_sample_inviter(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        add_campaign(s, poster=SMALL)
        s.commit()
        poster = PosterService(s, ctx.settings).preview("spring")
        tried = PosterService(s, ctx.settings).preview("spring", {**SMALL, "width": 500})
    assert decoded(poster) == ["https://shop.example.cn/invite?ref=SAMPLE"] and poster.width == 400
    assert tried.width == 500


def test_background_is_an_uploaded_content_library_image(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        image = MaterialFiles(s).store(png("#336699", 32), "bg.png", actor="test")
        cid = add_campaign(s, poster={**SMALL, "background": {"color": "#FFFFFF", "file": image.id}})
        add_participant(s, cid, "BG1")
        with pytest.raises(PosterError) as err:
            check_template(s, {**SMALL, "background": {"file": "0" * 64}})
        assert err.value.field == "settings.poster.background.file" and "素材库" in err.value.zh
        s.commit()
    assert pixel(draw(ctx, "BG1"), (5, 590)) == (0x33, 0x66, 0x99)


def test_prune_removes_posters_of_participants_that_are_gone(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        cid = add_campaign(s, poster=SMALL)
        add_participant(s, cid, "STAY")
        add_participant(s, cid, "GONE")
        s.commit()
        stay, gone = draw(ctx, "STAY"), draw(ctx, "GONE")
        preview = PosterService(s, ctx.settings).preview("spring")
        s.delete(s.scalars(select(ReferralParticipant).where(ReferralParticipant.code == "GONE")).one())
        s.commit()
        assert PosterService(s, ctx.settings).prune() == 1
    assert stay.path.exists() and preview.path.exists() and not gone.path.exists()
