"""Key rotation (``siyu keys rotate``): with keys ``[new, old]`` after data was written under
``[old]``, rotation re-encrypts every PII value under the new key and recomputes the blind
indexes, so lookups by phone/email work again; plaintexts are unchanged; re-running is harmless.

As docs/security.md says, between putting the new key first and rotating, lookups by phone and
email miss (the blind index derives from the first key): that is asserted too."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from siyu.audit import service as audit
from siyu.config import Settings
from siyu.context import AppContext
from siyu.profiles.keys import rotate
from siyu.profiles.pii import KeyError_, Keyring
from siyu.store.models import Identity

NEW = base64.b64encode(bytes(range(100, 132))).decode()
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)

PEOPLE = [
    {"phone": f"+86138{n:08d}", "email": f"fan{n}@example.com", "wechat_unionid": f"oUnion_{n:04d}"}
    for n in range(25)
]


def with_keys(ctx: AppContext, secret: str) -> AppContext:
    settings: Settings = ctx.settings.model_copy(update={"secret_key": secret})
    return AppContext.from_settings(settings)


@pytest.fixture
def written(ctx: AppContext) -> dict[str, int]:
    """The people identified under the old key alone; phone → contact id."""
    out = {}
    with ctx.db.session() as s:
        profiles = ctx.profiles(s)
        for person in PEOPLE:
            idents = [ctx.parser.parse(k, v) for k, v in person.items()]
            out[person["phone"]] = profiles.identify(idents, at=T0).contact_id
    assert len(set(out.values())) == len(PEOPLE)
    return out


@pytest.fixture
def rotated_ctx(ctx: AppContext) -> Iterator[AppContext]:
    old = ctx.settings.secret_key
    assert old and "," not in old
    new_ctx = with_keys(ctx, f"{NEW},{old}")
    yield new_ctx
    new_ctx.close()


def encrypted(ctx: AppContext) -> list[tuple[int, str, str, bytes]]:
    with ctx.db.session() as s:
        return [
            (i.id, i.type, i.lookup, bytes(i.value_enc))
            for i in s.scalars(select(Identity).where(Identity.value_enc.is_not(None)).order_by(Identity.id))
        ]


def plaintexts(ctx: AppContext) -> dict[int, str]:
    with ctx.db.session() as s:
        return {
            i.id: ctx.keyring.decrypt(i.value_enc, i.type.encode())
            for i in s.scalars(select(Identity).where(Identity.value_enc.is_not(None)))
            if i.value_enc is not None
        }


def resolve(ctx: AppContext, kind: str, value: str) -> int | None:
    with ctx.db.session() as s:
        return ctx.profiles(s).resolve(ctx.parser.parse(kind, value))


def run_rotate(ctx: AppContext, batch: int = 1000) -> int:
    with ctx.db.session() as s:
        return rotate(s, ctx.keyring, batch=batch)


def test_lookups_miss_until_rotation_then_work(
    ctx: AppContext, written: dict[str, int], rotated_ctx: AppContext
) -> None:
    person = PEOPLE[3]
    cid = written[person["phone"]]
    assert resolve(ctx, "phone", person["phone"]) == cid
    # New key first, not rotated yet: phone and email lookups miss; non-PII ids still match.
    assert resolve(rotated_ctx, "phone", person["phone"]) is None
    assert resolve(rotated_ctx, "email", person["email"]) is None
    assert resolve(rotated_ctx, "wechat_unionid", person["wechat_unionid"]) == cid

    count = run_rotate(rotated_ctx)
    assert count == 2 * len(PEOPLE)
    for p in PEOPLE:
        assert resolve(rotated_ctx, "phone", p["phone"]) == written[p["phone"]]
        assert resolve(rotated_ctx, "email", p["email"]) == written[p["phone"]]
        assert resolve(rotated_ctx, "wechat_unionid", p["wechat_unionid"]) == written[p["phone"]]
    # The old key alone no longer finds them (the index moved to the new key).
    assert resolve(ctx, "phone", person["phone"]) is None


def test_rotation_rewraps_every_value_and_keeps_plaintexts(
    ctx: AppContext, written: dict[str, int], rotated_ctx: AppContext
) -> None:
    before = plaintexts(ctx)
    assert sorted(before.values()) == sorted([p["phone"] for p in PEOPLE] + [p["email"] for p in PEOPLE])
    rows = encrypted(ctx)
    assert all(rotated_ctx.keyring.needs_rewrap(blob) for _, _, _, blob in rows)

    run_rotate(rotated_ctx, batch=7)  # several batches

    after = encrypted(rotated_ctx)
    assert [r[0] for r in after] == [r[0] for r in rows]
    assert not any(rotated_ctx.keyring.needs_rewrap(blob) for _, _, _, blob in after)
    assert all(a[3] != b[3] for a, b in zip(after, rows, strict=True))
    assert plaintexts(rotated_ctx) == before
    # Only the new key is needed now.
    new_only = with_keys(ctx, NEW)
    try:
        assert plaintexts(new_only) == before
        for p in PEOPLE:
            assert resolve(new_only, "phone", p["phone"]) == written[p["phone"]]
    finally:
        new_only.close()
    # The blind indexes are the new key's, computed independently here.
    expected_ring = Keyring([base64.b64decode(NEW)])
    by_id = {r[0]: r for r in after}
    for ident_id, plain in before.items():
        kind = by_id[ident_id][1]
        assert by_id[ident_id][2] == expected_ring.blind_index(kind, plain)
    # And the old key can no longer decrypt anything.
    with ctx.db.session() as s:
        blob = s.scalars(select(Identity.value_enc).where(Identity.value_enc.is_not(None))).first()
        assert blob is not None
        with pytest.raises(KeyError_, match="not configured"):
            ctx.keyring.decrypt(blob, b"phone")


def test_non_pii_identities_are_untouched(
    ctx: AppContext, written: dict[str, int], rotated_ctx: AppContext
) -> None:
    def clear() -> list[tuple[int, int, str, str, str | None]]:
        with ctx.db.session() as s:
            return [
                (i.id, i.contact_id, i.type, i.lookup, i.value)
                for i in s.scalars(select(Identity).where(Identity.value_enc.is_(None)).order_by(Identity.id))
            ]

    before = clear()
    assert len(before) == len(PEOPLE)
    run_rotate(rotated_ctx)
    assert clear() == before


def test_rerunning_rotation_is_harmless(
    ctx: AppContext, written: dict[str, int], rotated_ctx: AppContext
) -> None:
    before = plaintexts(ctx)
    assert run_rotate(rotated_ctx) == 2 * len(PEOPLE)
    once = encrypted(rotated_ctx)
    assert run_rotate(rotated_ctx, batch=4) == 2 * len(PEOPLE)
    twice = encrypted(rotated_ctx)
    # Nothing needed rewrapping the second time: same ciphertexts, same indexes.
    assert twice == once
    assert plaintexts(rotated_ctx) == before
    for p in PEOPLE:
        assert resolve(rotated_ctx, "phone", p["phone"]) == written[p["phone"]]
    # Each run is audited.
    with ctx.db.session() as s:
        entries = audit.entries(s, action="keys.rotated")
    assert [e.details for e in entries] == [{"identities": 50}, {"identities": 50}]


def test_a_half_finished_rotation_converges(
    ctx: AppContext, written: dict[str, int], rotated_ctx: AppContext
) -> None:
    """Rows already rewrapped (as if a first run stopped part-way) and rows still under the old
    key both end up under the new key with the new index."""
    ring = rotated_ctx.keyring
    with ctx.db.session() as s:
        idents = list(
            s.scalars(select(Identity).where(Identity.value_enc.is_not(None)).order_by(Identity.id))
        )
        for ident in idents[:10]:
            assert ident.value_enc is not None
            plain = ring.decrypt(ident.value_enc, ident.type.encode())
            ident.value_enc = ring.encrypt(plain, ident.type.encode())
            ident.lookup = ring.blind_index(ident.type, plain)
    run_rotate(rotated_ctx)
    rows = encrypted(rotated_ctx)
    assert not any(ring.needs_rewrap(blob) for _, _, _, blob in rows)
    for p in PEOPLE:
        assert resolve(rotated_ctx, "phone", p["phone"]) == written[p["phone"]]
        assert resolve(rotated_ctx, "email", p["email"]) == written[p["phone"]]


def test_identify_after_rotation_finds_the_existing_contact(
    ctx: AppContext, written: dict[str, int], rotated_ctx: AppContext
) -> None:
    run_rotate(rotated_ctx)
    person = PEOPLE[0]
    with rotated_ctx.db.session() as s:
        result = rotated_ctx.profiles(s).identify([rotated_ctx.parser.parse("phone", person["phone"])], at=T0)
    assert result.created is False
    assert result.contact_id == written[person["phone"]]
