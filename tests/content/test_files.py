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
