"""Identifier parsing: normalisation, scoping, blocked placeholder values and errors."""

from __future__ import annotations

import pytest

from siyu.profiles.identifiers import (
    IDENTIFIER_PRIORITY,
    IDENTIFIER_TYPES,
    MAX_VALUE_LENGTH,
    PII_TYPES,
    BlockedIdentifier,
    Identifier,
    IdentifierError,
    IdentifierParser,
)

# The China mobile number used throughout, in E.164 built from its parts (not copied output).
CN_NATIONAL = "13800138000"
CN_E164 = "+" + "86" + CN_NATIONAL


@pytest.fixture
def parser() -> IdentifierParser:
    return IdentifierParser()


# --- phone --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+86 138-0013-8000",
        "008613800138000",
        "+8613800138000",
        " 138 0013 8000 ",
        "138-0013-8000",
        "+86 (0) 138 0013 8000",
        13800138000,
    ],
)
def test_phone_forms_normalise_to_the_same_e164(parser: IdentifierParser, raw: object) -> None:
    ident = parser.parse("phone", raw)
    assert ident == Identifier("phone", CN_E164)
    assert ident.scope == ""
    assert ident.is_pii


def test_all_spellings_of_one_phone_are_one_identifier(parser: IdentifierParser) -> None:
    spellings = ["13800138000", "+86 138-0013-8000", "008613800138000"]
    parsed = {parser.parse("phone", s) for s in spellings}
    assert len(parsed) == 1
    # Hashable and equal: usable as a dict key by identity resolution.
    assert {parser.parse("phone", "13800138000"): 1}[parser.parse("phone", "008613800138000")] == 1


def test_different_phones_stay_different(parser: IdentifierParser) -> None:
    assert parser.parse("phone", "13800138000") != parser.parse("phone", "13800138001")


def test_phone_with_foreign_country_code_keeps_it(parser: IdentifierParser) -> None:
    assert parser.parse("phone", "+44 20 7946 0958").value == "+44" + "2079460958"
    assert parser.parse("phone", "+1 (415) 555-2671").value == "+1" + "4155552671"


def test_phone_default_region_is_configurable() -> None:
    us = IdentifierParser(region="US")
    assert us.parse("phone", "(415) 555-2671").value == "+1" + "4155552671"
    # The same national digits mean a different number under the CN default.
    assert IdentifierParser().parse("phone", "4155552671").value != "+14155552671"


def test_phone_parse_is_stable_across_repeated_calls(parser: IdentifierParser) -> None:
    first = parser.parse("phone", "+86 138-0013-8000")
    for _ in range(3):
        assert parser.parse("phone", "+86 138-0013-8000") == first
    # An all-zero number stays blocked every time (a failure is never cached as a success).
    for _ in range(2):
        with pytest.raises(BlockedIdentifier):
            parser.parse("phone", "+86 000 0000 0000")


# --- email --------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["Zhang.San@Example.COM", " zhang.san@example.com ", "ZHANG.SAN@EXAMPLE.COM"])
def test_email_is_lower_cased_and_trimmed(parser: IdentifierParser, raw: str) -> None:
    ident = parser.parse("email", raw)
    assert ident == Identifier("email", raw.strip().lower())
    assert ident.value == "zhang.san@example.com"
    assert ident.is_pii


# --- wechat openid scoping ----------------------------------------------------------------------


def test_openid_string_and_dict_forms_are_equal(parser: IdentifierParser) -> None:
    from_string = parser.parse("wechat_openid", "wx1:o123")
    from_dict = parser.parse("wechat_openid", {"app_id": "wx1", "value": "o123"})
    from_arg = parser.parse("wechat_openid", "o123", scope="wx1")
    assert from_string == from_dict == from_arg
    assert (from_string.scope, from_string.value) == ("wx1", "o123")
    assert str(from_string) == "wechat_openid:wx1:o123"


def test_openid_dict_accepts_wechat_key_spellings(parser: IdentifierParser) -> None:
    expected = Identifier("wechat_openid", "o123", "wx1")
    assert parser.parse("wechat_openid", {"appid": "wx1", "openid": "o123"}) == expected


def test_openid_is_unique_only_within_its_app(parser: IdentifierParser) -> None:
    a = parser.parse("wechat_openid", "wx1:o123")
    b = parser.parse("wechat_openid", "wx2:o123")
    unscoped = parser.parse("wechat_openid", "o123")
    assert a != b
    assert unscoped.scope == ""
    assert unscoped not in (a, b)


def test_only_openids_are_scoped(parser: IdentifierParser) -> None:
    # A colon in another type's value is part of the value, not a scope.
    ident = parser.parse("customer_no", "shop:42")
    assert (ident.scope, ident.value) == ("", "shop:42")


@pytest.mark.parametrize("kind", ["wechat_unionid", "wechat_openid", "taobao_nick", "customer_no"])
def test_non_email_values_keep_their_case(parser: IdentifierParser, kind: str) -> None:
    assert parser.parse(kind, "  oAbC-XyZ  ").value == "oAbC-XyZ"
    assert not parser.parse(kind, "oAbC").is_pii


# --- blocked values -----------------------------------------------------------------------------

BLOCKED_VALUES = [
    "",
    "   ",
    "0",
    "-1",
    "null",
    "NULL",
    "None",
    "nil",
    "NaN",
    "undefined",
    "anonymous",
    "Anonymous",
    "unknown",
    "n/a",
    "N/A",
    "00000000000",
    "0000",
    "---",
]
NON_PHONE_TYPES = [t for t in IDENTIFIER_TYPES if t != "phone"]


@pytest.mark.parametrize("value", BLOCKED_VALUES)
@pytest.mark.parametrize("kind", IDENTIFIER_TYPES)
def test_placeholder_values_are_blocked_for_every_type(
    parser: IdentifierParser, kind: str, value: str
) -> None:
    with pytest.raises(BlockedIdentifier) as info:
        parser.parse(kind, value)
    assert info.value.field == kind


@pytest.mark.parametrize(
    "raw", ["+86 000 0000 0000", "+8600000000000", "(000) 0000-0000", "+1 000 000 0000", 0]
)
def test_all_zero_phones_are_blocked(parser: IdentifierParser, raw: object) -> None:
    with pytest.raises(BlockedIdentifier) as info:
        parser.parse("phone", raw)
    assert info.value.field == "phone"


@pytest.mark.parametrize(
    "raw",
    [
        "wx1:null",
        "wx1:",
        "wx1:anonymous",
        "wx1:0",
        {"app_id": "wx1", "value": "null"},
        {"app_id": "wx1", "value": ""},
        {"app_id": "wx1", "value": "  "},
    ],
)
def test_scoped_openid_placeholders_are_blocked(parser: IdentifierParser, raw: object) -> None:
    """The placeholder check must apply to the openid itself, not to ``app_id:openid``."""
    with pytest.raises(BlockedIdentifier) as info:
        parser.parse("wechat_openid", raw)
    assert info.value.field == "wechat_openid"


def test_real_values_resembling_placeholders_are_not_blocked(parser: IdentifierParser) -> None:
    assert parser.parse("customer_no", "0001234").value == "0001234"
    assert parser.parse("taobao_nick", "nullpointer").value == "nullpointer"
    assert parser.parse("app_device_id", "-12").value == "-12"


def test_extra_blocked_patterns_apply_on_top_of_the_defaults() -> None:
    strict = IdentifierParser(extra_blocked=[r"^test[-_]"])
    with pytest.raises(BlockedIdentifier):
        strict.parse("customer_no", "test-001")
    with pytest.raises(BlockedIdentifier):
        strict.parse("customer_no", "null")  # defaults still apply
    assert IdentifierParser().parse("customer_no", "test-001").value == "test-001"
    assert strict.is_blocked("test_x") and not strict.is_blocked("x-test")


def test_blocked_is_an_identifier_error(parser: IdentifierParser) -> None:
    # Callers that only catch IdentifierError still see blocked values.
    with pytest.raises(IdentifierError):
        parser.parse("email", "null")


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mobile", "Phone", "", "wechat", "qq"])
def test_unknown_type_names_the_field(parser: IdentifierParser, kind: str) -> None:
    with pytest.raises(IdentifierError) as info:
        parser.parse(kind, "13800138000")
    assert not isinstance(info.value, BlockedIdentifier)
    assert info.value.field == kind
    assert str(info.value).startswith(f"{kind}:")
    assert "unknown identifier type" in info.value.reason


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("phone", "abc"),
        ("phone", "12"),
        ("phone", "1" * 30),
        ("email", "not-an-email"),
        ("email", "a@b"),
        ("email", "zhang @example.com"),
        ("email", "@example.com"),
        ("customer_no", "c" * (MAX_VALUE_LENGTH + 1)),
        ("wechat_unionid", "u" * (MAX_VALUE_LENGTH + 1)),
        ("phone", None),
        ("customer_no", None),
        ("customer_no", 1.5),
        ("customer_no", True),
        ("email", ["a@example.com"]),
        ("wechat_openid", {"app_id": "wx1"}),
    ],
)
def test_bad_values_raise_identifier_error_naming_the_field(
    parser: IdentifierParser, kind: str, raw: object
) -> None:
    with pytest.raises(IdentifierError) as info:
        parser.parse(kind, raw)
    assert not isinstance(info.value, BlockedIdentifier)
    assert info.value.field == kind
    assert str(info.value).startswith(f"{kind}:")


def test_values_up_to_the_length_limit_are_accepted(parser: IdentifierParser) -> None:
    value = "c" * MAX_VALUE_LENGTH
    assert parser.parse("customer_no", value).value == value


# --- priorities ---------------------------------------------------------------------------------


def test_priorities_rank_brand_key_then_phone_then_email_and_device_last() -> None:
    ranked = sorted(IDENTIFIER_PRIORITY, key=lambda k: -IDENTIFIER_PRIORITY[k])
    assert ranked[:3] == ["customer_no", "phone", "email"]
    assert ranked[-1] == "app_device_id"
    assert len(set(IDENTIFIER_PRIORITY.values())) == len(IDENTIFIER_PRIORITY)  # no ties
    assert Identifier("phone", CN_E164).priority > Identifier("wechat_unionid", "u").priority
    assert {"phone", "email"} == PII_TYPES


@pytest.mark.parametrize("query", ["id:99999999999999999999", "id:²", "id:-1", "id:"])
def test_contact_ids_outside_64_bits_or_not_ascii_name_nobody(ctx, query: str) -> None:
    """Found by schemathesis: an id too large for the database answered 500 (OverflowError),
    and ``str.isdigit`` let "²" through to int()."""
    from siyu.client import Siyu
    from siyu.profiles.views import LookupError_

    s = Siyu(ctx)
    with pytest.raises(LookupError_):
        s.contact(query)
    with ctx.db.session() as session:
        assert ctx.profiles(session).repo.survivor_of(2**64) is None
