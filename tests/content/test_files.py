"""Uploaded material images: type read from the bytes, size limits, one copy per content, and
materials that refer to them (a mini-program card's cover)."""

from __future__ import annotations

import pytest
from tests.content.images import jpeg, png

from siyu.content.files import MAX_BYTES, MaterialFiles, UploadRefused, UploadTooLarge, sniff
from siyu.content.schemas import ContentError
from siyu.content.service import ContentConflict, ContentService
from siyu.context import AppContext


def test_sniff_reads_type_and_size_from_the_bytes() -> None:
    assert sniff(png(7, 9)) == sniff(png(7, 9))
    assert (sniff(png(7, 9)).content_type, sniff(png(7, 9)).width, sniff(png(7, 9)).height) == (
        "image/png",
        7,
        9,
    )
    j = sniff(jpeg(640, 480))
    assert (j.content_type, j.width, j.height) == ("image/jpeg", 640, 480)
    for bad in (b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"GIF89a......", b"<html>hi</html>"):
        with pytest.raises(UploadRefused, match="not a JPG or PNG"):
            sniff(bad)


def test_store_dedupes_and_limits(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        files = MaterialFiles(s)
        a = files.store(png(), "封面.png", actor="t")
        b = files.store(png(), "again.png", actor="t")
        assert a.id == b.id and a.filename == "封面.png" and a.size == len(png())
        with pytest.raises(UploadTooLarge, match="at most 2 MB"):
            files.store(png(pad=MAX_BYTES), "big.png")
        with pytest.raises(UploadRefused):
            files.store(b"abc", "tiny.png")
        assert files.get(a.id).data == png()
        with pytest.raises(ContentError, match="unknown file"):
            files.get("0" * 64)


def test_materials_refer_to_uploads(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        cover = MaterialFiles(s).store(png(), "cover.png").id
        svc = ContentService(s)
        mini = {
            "key": "shop",
            "kind": "miniprogram",
            "data": {"title": "商城", "appid": "wx1", "page": "p/i", "file": cover},
        }
        svc.create_material(mini)
        with pytest.raises(ContentError, match=r"data\.file: unknown uploaded file"):
            svc.create_material({"key": "pic", "kind": "image", "data": {"file": "a" * 64}})
        with pytest.raises(ContentError, match=r"data\.file: the id of an uploaded file"):
            svc.create_material({"key": "pic", "kind": "image", "data": {"file": "../etc/passwd"}})
        svc.create_template(
            {
                "key": "w",
                "name": "w",
                "channel": "wecom_private",
                "body": {"text": "hi", "attachments": ["shop"]},
            }
        )
        with pytest.raises(ContentConflict, match="used by templates w"):
            svc.delete_material("shop")
        svc.delete_template("w")
        svc.delete_material("shop")
        assert MaterialFiles(s).unused() == [cover]


def test_moments_carry_images_or_one_link(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        svc = ContentService(s)
        pic = MaterialFiles(s).store(png(), "p.png").id
        svc.create_material({"key": "p1", "kind": "image", "data": {"file": pic}})
        svc.create_material({"key": "p2", "kind": "image", "data": {"pic_url": "https://a.cn/2.png"}})
        svc.create_material({"key": "l1", "kind": "link", "data": {"title": "t", "url": "https://a.cn"}})
        svc.create_material(
            {
                "key": "m1",
                "kind": "miniprogram",
                "data": {"title": "t", "appid": "a", "page": "p", "file": pic},
            }
        )
        post = {"key": "m", "name": "m", "channel": "wecom_moment", "body": {"text": "新品"}}
        svc.create_template({**post, "body": {"text": "新品", "attachments": ["p1", "p2"]}})
        svc.delete_template("m")
        svc.create_template({**post, "body": {"text": "新品", "attachments": ["l1"]}})
        svc.delete_template("m")
        with pytest.raises(ContentError, match="carries images, or one link"):
            svc.create_template({**post, "body": {"text": "新品", "attachments": ["p1", "l1"]}})
        with pytest.raises(ContentError, match="cannot carry a mini-program card"):
            svc.create_template({**post, "body": {"text": "新品", "attachments": ["m1"]}})
        # a private message may mix them all
        svc.create_template(
            {**post, "channel": "wecom_private", "body": {"text": "x", "attachments": ["p1", "l1", "m1"]}}
        )
