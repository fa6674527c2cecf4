"""Resolve a WeCom external contact (``externalcontact/get``'s ``external_contact``) to a siyu
contact, through the same identity resolution as every other source.

The external_userid is per corp and stable; the unionid (present when the corp's WeChat
open-platform account is bound) is what joins the person with the brand's mini-program and
official-account data, so both are identifiers. WeCom's ``name`` is a WeChat nickname, not a
legal name: it goes into the ``wecom_name`` trait and fills ``name`` only when the contact has
none, so a nickname never overwrites a name the brand knows."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from siyu.profiles.identifiers import BlockedIdentifier, Identifier, IdentifierError
from siyu.store.models import utcnow

if TYPE_CHECKING:
    from siyu.context import AppContext

#: WeCom's external contact ``type``: 1 a WeChat user, 2 a WeCom user (of another corp).
CONTACT_TYPES = {1: "wechat", 2: "wecom"}
GENDERS = {1: "male", 2: "female"}


class ExternalContactError(ValueError):
    """An external contact without a usable ``external_userid``."""


def identifiers_of(ctx: AppContext, external_contact: dict[str, Any]) -> list[Identifier]:
    """The identifiers an ``external_contact`` carries: external_userid (required) and unionid."""
    raw = external_contact.get("external_userid")
    if not raw:
        raise ExternalContactError("external_contact.external_userid is missing")
    try:
        out = [ctx.parser.parse("wecom_external_userid", raw)]
    except IdentifierError as exc:
        raise ExternalContactError(f"external_contact.external_userid: {exc.reason}") from exc
    unionid = external_contact.get("unionid")
    if unionid:
        # a placeholder unionid only loses the cross-platform join, not the contact
        with suppress(BlockedIdentifier, IdentifierError):
            out.append(ctx.parser.parse("wechat_unionid", unionid))
    return out


def traits_of(external_contact: dict[str, Any]) -> dict[str, Any]:
    traits: dict[str, Any] = {}
    if external_contact.get("name"):
        traits["wecom_name"] = str(external_contact["name"])
    if external_contact.get("gender") in GENDERS:
        traits["gender"] = GENDERS[external_contact["gender"]]
    if external_contact.get("avatar"):
        traits["avatar"] = str(external_contact["avatar"])
    if external_contact.get("type") in CONTACT_TYPES:
        traits["wecom_contact_type"] = CONTACT_TYPES[external_contact["type"]]
    if external_contact.get("corp_name"):
        traits["company"] = str(external_contact["corp_name"])
    return traits


def resolve_external(
    session: Session,
    ctx: AppContext,
    provider_key: str,
    external_contact: dict[str, Any],
    at: datetime | None = None,
    first_channel_id: int | None = None,
    first_entry_code_id: int | None = None,
) -> int:
    """The contact id for this external contact (created or merged as identity resolution
    decides). ``first_*`` are used only when the contact is new."""
    profiles = ctx.profiles(session)
    traits = traits_of(external_contact)
    result = profiles.identify(
        identifiers_of(ctx, external_contact),
        at=at,
        source=f"wecom:{provider_key}",
        first_channel_id=first_channel_id,
        first_entry_code_id=first_entry_code_id,
        actor=f"wecom:{provider_key}",
    )
    contact_id = result.contact_id
    if traits:
        if "wecom_name" in traits and "name" not in profiles.repo.attributes(contact_id):
            traits["name"] = traits["wecom_name"]
        profiles.set_traits(contact_id, traits, at or utcnow())
    return contact_id
