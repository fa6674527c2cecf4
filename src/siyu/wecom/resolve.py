"""External contacts → contacts, and WeCom follow items → ``contact_follows``, one at a time and
in bulk.

One at a time is ``siyu.wecom.contacts.resolve_external`` and ``siyu.wecom.follows.upsert_follow``
(the callbacks' path); their identifier, trait and corp-tag rules are used here too. The bulk
helpers are what a 100k-customer sync needs: one identity lookup per batch, new contacts inserted in one
statement (the way ``ingest`` creates new visitors), follows inserted and updated in bulk."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from siyu.context import AppContext
from siyu.profiles.identifiers import Identifier
from siyu.sources.service import SourcesService
from siyu.store.dialect import chunked
from siyu.store.models import ContactAttribute, ContactFollow, EntryCode, utcnow
from siyu.wecom.contacts import identifiers_of as identifiers
from siyu.wecom.contacts import traits_of
from siyu.wecom.follows import corp_tag_ids

#: Follow fields compared to decide whether a known relation changed.
FOLLOW_FIELDS = (
    "contact_id",
    "remark",
    "description",
    "added_at",
    "add_way",
    "state",
    "oper_userid",
    "corp_tags",
)


def follow_values(follow_user: dict[str, Any]) -> dict[str, Any]:
    """The columns of ``contact_follows`` from WeCom's ``follow_user`` (externalcontact/get, tags as
    objects) or ``follow_info`` (batch/get_by_user, ``tag_id`` as ids) item."""
    created = follow_user.get("createtime")
    return {
        "remark": (str(follow_user.get("remark") or "") or None),
        "description": (str(follow_user.get("description") or "")[:500] or None),
        "added_at": datetime.fromtimestamp(int(created), UTC) if created else None,
        "add_way": int(follow_user["add_way"]) if follow_user.get("add_way") is not None else None,
        "state": (str(follow_user.get("state") or "") or None),
        "oper_userid": (str(follow_user.get("oper_userid") or "") or None),
        "corp_tags": corp_tag_ids(follow_user),
    }


class BulkResolver:
    """Resolves batches of external contacts with few queries; remembers what it resolved."""

    def __init__(self, session: Session, ctx: AppContext, provider_key: str) -> None:
        self.session = session
        self.ctx = ctx
        self.profiles = ctx.profiles(session)
        self.source = f"wecom:{provider_key}"
        self.created = 0
        codes = session.execute(select(EntryCode.state, EntryCode.id, EntryCode.channel_id)).all()
        self.codes = {state: (code_id, channel_id) for state, code_id, channel_id in codes}

    def _traits(self, contact_id: int, external: dict[str, Any], at: datetime) -> None:
        traits = traits_of(external)
        if traits:
            if "wecom_name" in traits and "name" not in self.profiles.repo.attributes(contact_id):
                traits["name"] = traits["wecom_name"]
            self.profiles.set_traits(contact_id, traits, at)

    def resolve(self, items: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, int]:
        """``items``: (external_contact, follow_info) pairs → external_userid → contact id. A new
        contact's first touch is the entry code of its earliest follow's state, if any."""
        people: dict[str, tuple[list[Identifier], datetime, str | None]] = {}
        externals: dict[str, dict[str, Any]] = {}
        for external, follow in items:
            ext = str(external["external_userid"])
            externals[ext] = external
            at = follow_values(follow)["added_at"] or utcnow()
            state = follow.get("state") or None
            known = people.get(ext)
            if known is None or at < known[1]:
                people[ext] = (identifiers(self.ctx, external), at, state or (known[2] if known else None))
        keys = {ext: [self.profiles.key(i) for i in idents] for ext, (idents, _, _) in people.items()}
        owners = self.profiles.repo.owners(k for ks in keys.values() for k in ks)
        out: dict[str, int] = {}
        new: list[str] = []
        for ext, ks in keys.items():
            found = {owners.get(k) for k in ks}
            if found == {None}:
                new.append(ext)
            elif None not in found and len(found) == 1:
                out[ext] = found.pop()  # type: ignore[assignment]
            else:  # partly known or two contacts: full resolution decides (and merges)
                idents, at, state = people[ext]
                code = self.codes.get(state or "")
                res = self.profiles.identify(
                    idents,
                    at=at,
                    source=self.source,
                    first_channel_id=code[1] if code else None,
                    first_entry_code_id=code[0] if code else None,
                )
                self.created += int(res.created)
                out[ext] = res.contact_id
                self._traits(res.contact_id, externals[ext], at)
        if new:
            specs = []
            for ext in new:
                idents, at, state = people[ext]
                code = self.codes.get(state or "")
                specs.append((idents, at, code[1] if code else None, code[0] if code else None))
            ids = self.profiles.create_many(specs, self.source)
            touches: list[dict[str, Any]] = []
            attributes: list[dict[str, Any]] = []
            for ext, cid, (idents, at, channel_id, code_id) in zip(new, ids, specs, strict=True):
                if cid is None:  # breaks a limit on its own: identify drops and reports
                    cid = self.profiles.identify(idents, at=at, source=self.source).contact_id
                    self._traits(cid, externals[ext], at)
                else:
                    self.created += 1
                    # a name may hold a phone number: never stored in clear outside identities
                    traits = self.profiles.pii.scrub(traits_of(externals[ext])) or {}
                    if "wecom_name" in traits:
                        traits["name"] = traits["wecom_name"]
                    attributes += [
                        {"contact_id": cid, "name": k, "value": v, "updated_at": at}
                        for k, v in traits.items()
                    ]
                    if channel_id is not None:
                        touches.append(
                            {
                                "contact_id": cid,
                                "channel_id": channel_id,
                                "entry_code_id": code_id,
                                "is_first": True,
                                "occurred_at": at,
                            }
                        )
                out[ext] = cid
            SourcesService(self.session).record_touches(touches)
            if attributes:  # new contacts have no traits yet: insert, nothing to compare
                self.session.execute(insert(ContactAttribute), attributes)
        return out


def write_follows(
    session: Session,
    provider_key: str,
    rows: list[tuple[int, dict[str, Any]]],
    only_new: bool = False,
) -> int:
    """Insert or update follows in bulk: ``rows`` are (contact id, follow_info with
    ``_external_userid``). Unchanged relations are not written; ``only_new`` leaves every known
    relation alone (the incremental sync). Returns the number of rows written."""
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    for contact_id, follow in rows:
        key = (str(follow["userid"]), str(follow["_external_userid"]))
        wanted[key] = {"contact_id": contact_id, **follow_values(follow)}
    existing: dict[tuple[str, str], Any] = {}
    exts = sorted({ext for _, ext in wanted})
    columns = [
        getattr(ContactFollow, c)
        for c in ("id", "staff_userid", "external_userid", "deleted_at", *FOLLOW_FIELDS)
    ]
    for chunk in chunked(exts):
        # Plain rows, not ORM objects: a sync compares 100k relations and changes few.
        for row in session.execute(
            select(*columns).where(
                ContactFollow.provider_key == provider_key, ContactFollow.external_userid.in_(chunk)
            )
        ):
            existing[(row.staff_userid, row.external_userid)] = row
    inserts, updates = [], []
    now = utcnow()
    for (staff, ext), values in wanted.items():
        row = existing.get((staff, ext))
        if row is None:
            inserts.append(
                {
                    "provider_key": provider_key,
                    "staff_userid": staff,
                    "external_userid": ext,
                    "updated_at": now,
                    **values,
                }
            )
            continue
        if only_new and row.deleted_at is None:
            continue
        if not values["state"] and row.state:
            values["state"] = row.state  # a known state is never erased by a list without one
        if (
            row.deleted_at is None
            and all(getattr(row, f) == values[f] for f in FOLLOW_FIELDS if f != "added_at")
            and (_same_time(row.added_at, values["added_at"]))
        ):
            continue
        updates.append({"id": row.id, **values, "deleted_at": None, "deleted_by": None, "updated_at": now})
    if inserts:
        session.execute(insert(ContactFollow), inserts)
    if updates:
        session.execute(update(ContactFollow), updates)
    return len(inserts) + len(updates)


def _same_time(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.replace(tzinfo=a.tzinfo or UTC) == b.replace(tzinfo=b.tzinfo or UTC)


def open_follow_keys(
    session: Session, provider_key: str, external_userids: list[str]
) -> set[tuple[str, str]]:
    """(staff, external_userid) of the open relations among these customers."""
    out: set[tuple[str, str]] = set()
    for chunk in chunked(sorted(set(external_userids))):
        rows = session.execute(
            select(ContactFollow.staff_userid, ContactFollow.external_userid).where(
                ContactFollow.provider_key == provider_key,
                ContactFollow.external_userid.in_(chunk),
                ContactFollow.deleted_at.is_(None),
            )
        )
        out.update((staff, ext) for staff, ext in rows)
    return out
