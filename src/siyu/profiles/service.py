"""Identity resolution: ``identify`` finds or creates one contact and merges the contacts that
the identifiers connect, within the configured rules.

Rules (documented in docs/identity-resolution.md):

* Incoming identifiers are taken highest priority first. Each is kept only if the contacts it
  connects, together with everything kept so far, still obey the per-type limits and (by
  default) do not join two contacts that both carry a customer_no. Otherwise it is dropped and
  reported — so a low-priority identifier can never pull apart what a higher one decided.
* The survivor of a merge is the contact that carries a customer_no, else the oldest.
* Traits merge newest-non-empty wins (each trait keeps the time of the message that set it).
* Identities move to the survivor; every table with a ``contact_id`` foreign key follows it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.profiles.detect import DEFAULT as DEFAULT_DETECTOR
from siyu.profiles.detect import PiiDetector
from siyu.profiles.identifiers import PII_TYPES, Identifier
from siyu.profiles.pii import Keyring, last4_index
from siyu.profiles.repository import IdentityKey, ProfileRepository
from siyu.store.changes import note_changed
from siyu.store.models import Contact, ContactAttribute, utcnow
from siyu.tags.service import settle_exclusive_groups


@dataclass
class ResolutionRules:
    limits: dict[str, int]
    never_merge_customer_nos: bool = True


@dataclass
class IdentifyResult:
    contact_id: int
    created: bool = False
    merged: list[int] = field(default_factory=list)
    dropped: list[tuple[Identifier, str]] = field(default_factory=list)
    added: list[Identifier] = field(default_factory=list)


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


class ProfileService:
    def __init__(
        self, session: Session, keyring: Keyring, rules: ResolutionRules, pii: PiiDetector | None = None
    ) -> None:
        self.session = session
        self.keyring = keyring
        self.rules = rules
        self.pii = pii or DEFAULT_DETECTOR
        self.repo = ProfileRepository(session)
        self._pii_keys: dict[Identifier, IdentityKey] = {}

    # --- keys -------------------------------------------------------------------------------
    def key(self, ident: Identifier) -> IdentityKey:
        if ident.type not in PII_TYPES:
            return (ident.type, ident.scope, ident.value)
        key = self._pii_keys.get(ident)
        if key is None:  # an HMAC per lookup adds up on the ingest path: remember a batch's worth
            key = (ident.type, ident.scope, self.keyring.blind_index(ident.type, ident.value))
            if len(self._pii_keys) < 100_000:
                self._pii_keys[ident] = key
        return key

    def identity_row(
        self, ident: Identifier, contact_id: int, source: str | None, at: datetime
    ) -> dict[str, Any]:
        kind, scope, lookup = self.key(ident)
        return {
            "contact_id": contact_id,
            "type": kind,
            "scope": scope,
            "lookup": lookup,
            "value": None if ident.is_pii else ident.value,
            "value_enc": self.keyring.encrypt(ident.value, kind.encode()) if ident.is_pii else None,
            "source": source,
            "created_at": at,
            "last4": last4_index(self.keyring, kind, ident.value),
        }

    def reveal(self, identity: Any) -> str:
        """Plaintext of a stored identity (callers decide who may see it and audit it)."""
        if identity.value_enc is not None:
            return self.keyring.decrypt(identity.value_enc, identity.type.encode())
        return identity.value or ""

    # --- identify ---------------------------------------------------------------------------
    def identify(
        self,
        identifiers: list[Identifier],
        traits: dict[str, Any] | None = None,
        at: datetime | None = None,
        source: str | None = None,
        first_channel_id: int | None = None,
        first_entry_code_id: int | None = None,
        actor: str = "system",
    ) -> IdentifyResult:
        if not identifiers:
            raise ValueError("identify needs at least one usable identifier")
        at = at or utcnow()
        incoming = sorted(dict.fromkeys(identifiers), key=lambda i: -i.priority)
        keys = {i: self.key(i) for i in incoming}
        owners = self.repo.owners(keys.values())
        known: dict[int, list[IdentityKey]] = {}
        for ident in self.repo.identities_of(set(owners.values())):
            known.setdefault(ident.contact_id, []).append((ident.type, ident.scope, ident.lookup))

        kept: list[Identifier] = []
        dropped: list[tuple[Identifier, str]] = []
        for ident in incoming:
            reason = self._violation([*kept, ident], keys, owners, known)
            if reason is None:
                kept.append(ident)
            else:
                dropped.append((ident, reason))

        matched = sorted({owners[keys[i]] for i in kept if keys[i] in owners})
        result = IdentifyResult(contact_id=0, dropped=dropped)
        if not matched:
            contact = self.repo.create(at, first_channel_id, first_entry_code_id)
            result.created = True
            survivor = contact.id
        else:
            survivor = self._choose_survivor(matched, known)
            for other in matched:
                if other != survivor:
                    via = next(i for i in kept if owners.get(keys[i]) == other)
                    self.merge(survivor, other, f"identify shares {via.type}", via.type, actor, at)
                    result.merged.append(other)
        new = [i for i in kept if keys[i] not in owners]
        self.repo.add_identities([self.identity_row(i, survivor, source, at) for i in new])
        result.added = new
        result.contact_id = survivor
        if traits:
            self.set_traits(survivor, traits, at)
        if dropped:
            audit.record(
                self.session,
                actor,
                "identity.dropped",
                "contact",
                survivor,
                {"dropped": [{"type": i.type, "reason": r} for i, r in dropped]},
            )
        return result

    def create_many(
        self, groups: list[tuple[list[Identifier], datetime, int | None, int | None]], source: str | None
    ) -> list[int | None]:
        """Create one contact per group of identifiers none of which is known yet — the bulk path
        for new visitors. A group that breaks a limit on its own gets ``None`` (the caller sends
        it through :meth:`identify`, which drops and reports identifiers)."""
        ok = [
            all(n <= self.rules.limits.get(k, n) for k, n in Counter(i.type for i in idents).items())
            for idents, _, _, _ in groups
        ]
        todo = [g for g, good in zip(groups, ok, strict=True) if good]
        ids = self.repo.create_many([(at, ch, code) for _, at, ch, code in todo]) if todo else []
        rows = [
            self.identity_row(i, cid, source, at)
            for cid, (idents, at, _, _) in zip(ids, todo, strict=True)
            for i in idents
        ]
        self.repo.add_identities(rows)
        it = iter(ids)
        return [next(it) if good else None for good in ok]

    def _violation(
        self,
        trial: list[Identifier],
        keys: dict[Identifier, IdentityKey],
        owners: dict[IdentityKey, int],
        known: dict[int, list[IdentityKey]],
    ) -> str | None:
        contacts = {owners[keys[i]] for i in trial if keys[i] in owners}
        combined: set[IdentityKey] = {keys[i] for i in trial}
        for cid in contacts:
            combined.update(known.get(cid, ()))
        counts = Counter(k[0] for k in combined)
        for kind, count in counts.items():
            limit = self.rules.limits.get(kind)
            if limit is None or count <= limit:
                continue
            # A contact already above a (since lowered) limit is not made worse by matching it.
            own = max((Counter(k[0] for k in known.get(c, ()))[kind] for c in contacts), default=0)
            if count > own:
                return f"would give one contact {count} {kind} identifiers (limit {limit})"
        if self.rules.never_merge_customer_nos and len(contacts) > 1:
            with_no = [c for c in contacts if any(k[0] == "customer_no" for k in known.get(c, ()))]
            if len(with_no) > 1:
                return "would merge contacts that both carry a customer_no"
        return None

    @staticmethod
    def _choose_survivor(matched: list[int], known: dict[int, list[IdentityKey]]) -> int:
        with_no = [c for c in matched if any(k[0] == "customer_no" for k in known.get(c, ()))]
        return min(with_no) if with_no else min(matched)

    # --- merge ------------------------------------------------------------------------------
    def merge(
        self,
        survivor_id: int,
        absorbed_id: int,
        reason: str,
        identifier_type: str | None = None,
        actor: str = "system",
        at: datetime | None = None,
    ) -> None:
        """Fold ``absorbed_id`` into ``survivor_id``. Also used for manual merges."""
        if survivor_id == absorbed_id:
            raise ValueError("cannot merge a contact into itself")
        at = at or utcnow()
        contacts = self.repo.contacts([survivor_id, absorbed_id])
        survivor, absorbed = contacts.get(survivor_id), contacts.get(absorbed_id)
        if survivor is None or absorbed is None:
            raise ValueError("both contacts must exist")
        if survivor.merged_into_id or absorbed.merged_into_id:
            raise ValueError("cannot merge a contact that was already merged")
        self.repo.move_identities(absorbed_id, survivor_id)
        self._merge_attributes(survivor_id, absorbed_id)
        settle_exclusive_groups(self.session, survivor_id, absorbed_id)
        moved = self.repo.move_owned_rows(absorbed_id, survivor_id)
        self.repo.keep_earliest_first_touch(survivor_id)
        absorbed_first = absorbed.created_at < survivor.created_at
        if absorbed_first:
            survivor.created_at = absorbed.created_at
        if absorbed.first_channel_id and (absorbed_first or survivor.first_channel_id is None):
            # The earlier first touch is the person's first touch; a known one beats none.
            survivor.first_channel_id = absorbed.first_channel_id
            survivor.first_entry_code_id = absorbed.first_entry_code_id
        survivor.updated_at = utcnow()
        self.session.flush()
        self.repo.redirect_merged(absorbed_id, survivor_id)
        self.repo.add_merge(survivor_id, absorbed_id, reason, identifier_type, at)
        note_changed(self.session, [survivor_id, absorbed_id])
        audit.record(
            self.session,
            actor,
            "contact.merged",
            "contact",
            survivor_id,
            {"absorbed": absorbed_id, "reason": reason, "moved": moved},
        )

    def _merge_attributes(self, survivor_id: int, absorbed_id: int) -> None:
        theirs = list(self.repo.attributes(absorbed_id).values())
        incoming = [(a.name, a.value, a.updated_at) for a in theirs]
        for attr in theirs:
            self.session.delete(attr)
        self.session.flush()
        mine = self.repo.attributes(survivor_id)
        for name, value, updated in incoming:
            self._apply_trait(survivor_id, mine, name, value, updated)

    # --- traits -----------------------------------------------------------------------------
    def set_traits(self, contact_id: int, traits: dict[str, Any], at: datetime) -> None:
        # Whoever calls (ingest masks already; the Python API, other capabilities may not), no
        # phone or email is stored as a trait in clear: it lives encrypted in identities.
        traits = self.pii.scrub(traits) or {}
        current = self.repo.attributes(contact_id)
        changed = False
        for name, value in traits.items():
            changed |= self._apply_trait(contact_id, current, name, value, at)
        if changed:
            note_changed(self.session, [contact_id])

    def _apply_trait(
        self,
        contact_id: int,
        current: dict[str, ContactAttribute],
        name: str,
        value: Any,
        at: datetime,
    ) -> bool:
        """Newest non-empty wins; an empty value never erases a set one. True if it changed."""
        if is_empty(value):
            return False
        existing = current.get(name)
        if existing is None:
            attr = ContactAttribute(contact_id=contact_id, name=name, value=value, updated_at=at)
            self.session.add(attr)
            current[name] = attr
            return True
        if is_empty(existing.value) or at >= existing.updated_at:
            changed = existing.value != value
            existing.value = value
            existing.updated_at = at
            return changed
        return False

    # --- reading ----------------------------------------------------------------------------
    def resolve(self, ident: Identifier) -> int | None:
        return self.repo.owners([self.key(ident)]).get(self.key(ident))

    def contact(self, contact_id: int) -> Contact | None:
        return self.repo.get(contact_id)
