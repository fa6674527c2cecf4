"""Entry codes as real WeCom contact ways (联系我, 92228) and 获客助手 acquisition links (97297).

An entry code of kind ``contact_way`` is an ``externalcontact/add_contact_way`` QR (type 1 for
one staff member, 2 for several; scene 2 = QR; ``state`` ≤ 30 characters comes back in the
add-customer callback). An ``acquisition_link`` is a ``customer_acquisition`` link; the URL
handed to ad platforms carries ``customer_channel=<state>`` (≤ 64 bytes), which WeCom returns
as the State of the add event, so both kinds attribute their customers the same way.

Nothing is left half-made: the provider is called first and the row written after; if the row
cannot be written, the contact way or link is deleted again. A row never exists without its
``config_id``. Deleting removes it at WeCom and sets ``deleted_at``; the row stays, so its
state keeps attributing old follows and its figures keep working."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.channels.wecom_api import WeComApi, WeComError
from siyu.sources.service import SourceError, SourcesService
from siyu.store.models import ContactFollow, ContentTemplate, EntryCode, utcnow
from siyu.wecom.provider import EC, in_words

KINDS = ("contact_way", "acquisition_link")
STATE_PATTERN = re.compile(r"^[A-Za-z0-9_\-.]{1,30}$")
MAX_STAFF = {"contact_way": 100, "acquisition_link": 500}
MAX_CUSTOMER_CHANNEL_BYTES = 64
LINK = f"{EC}/customer_acquisition"


class WaysError(ValueError):
    """A contact way / link request that cannot be carried out; ``field`` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


class WaysNotFound(WaysError):
    """No entry code with that state."""


class WaysConflict(WaysError):
    """The state is taken."""


@dataclass
class WaySpec:
    channel: str
    state: str
    provider_key: str
    staff: list[str]
    kind: str = "contact_way"
    name: str | None = None
    campaign: str | None = None
    skip_verify: bool = True
    welcome_template: str | None = None
    tags: list[str] = field(default_factory=list)


def link_url(code: EntryCode) -> str | None:
    """The acquisition link's URL for ad platforms: ``customer_channel`` carries the state."""
    if code.kind != "acquisition_link" or not code.qr_code:
        return None
    sep = "&" if "?" in code.qr_code else "?"
    return f"{code.qr_code}{sep}customer_channel={quote(code.state, safe='')}"


def describe(code: EntryCode) -> dict[str, Any]:
    return {
        "id": code.id,
        "state": code.state,
        "name": code.name,
        "kind": code.kind,
        "channel_id": code.channel_id,
        "campaign": code.campaign,
        "provider_key": code.provider_key,
        "staff": list(code.staff or []),
        "skip_verify": code.skip_verify,
        "welcome_template": code.welcome_template,
        "tags": list(code.tags or []),
        "config_id": code.config_id,
        "qr_code": code.qr_code,
        "url": link_url(code),
        "deleted_at": code.deleted_at.isoformat() if code.deleted_at else None,
        "created_at": code.created_at.isoformat() if code.created_at else None,
    }


class WaysService:
    """``api_for(provider_key)`` gives the WeCom client of a provider (the caller closes them)."""

    def __init__(self, session: Session, api_for: Callable[[str], WeComApi]) -> None:
        self.session = session
        self.sources = SourcesService(session)
        self._api_for = api_for
        self._apis: dict[str, WeComApi] = {}

    def api(self, provider_key: str) -> WeComApi:
        if provider_key not in self._apis:
            self._apis[provider_key] = self._api_for(provider_key)
        return self._apis[provider_key]

    def close(self) -> None:
        for api in self._apis.values():
            api.close()

    # --- create -----------------------------------------------------------------------------
    def _check(self, spec: WaySpec) -> None:
        if spec.kind not in KINDS:
            raise WaysError("kind", f"must be one of {', '.join(KINDS)}")
        if not STATE_PATTERN.match(spec.state or ""):
            raise WaysError("state", "1–30 characters of letters, digits, _ - . (WeCom's limit is 30)")
        # The pattern keeps a state within customer_channel's 64 bytes once URL-quoted too.
        assert len(quote(spec.state, safe="").encode()) <= MAX_CUSTOMER_CHANNEL_BYTES
        for name, value, most in (("name", spec.name, 200), ("campaign", spec.campaign, 200)):
            if value is not None and len(value) > most:
                raise WaysError(name, f"at most {most} characters")
        staff = [s.strip() for s in spec.staff if s and s.strip()]
        if not staff:
            raise WaysError("wecom_staff", "name at least one staff userid")
        if len(set(staff)) != len(staff):
            raise WaysError("wecom_staff", "a staff userid is listed twice")
        if len(staff) > MAX_STAFF[spec.kind]:
            raise WaysError("wecom_staff", f"at most {MAX_STAFF[spec.kind]} staff for a {spec.kind}")
        spec.staff = staff
        if spec.welcome_template and not self.session.scalar(
            select(ContentTemplate.id).where(ContentTemplate.key == spec.welcome_template)
        ):
            raise WaysError(
                "welcome_template", f"no template {spec.welcome_template!r} in the content library"
            )
        if any(len(s) > 64 for s in staff):
            raise WaysError("wecom_staff", "a staff userid is at most 64 characters")
        for i, tag in enumerate(spec.tags):
            if not tag or len(tag) > 201:
                raise WaysError(f"tags[{i}]", "a tag key is 1–201 characters")

    def create(self, spec: WaySpec, actor: str = "system") -> EntryCode:
        self._check(spec)
        channel = self.sources.channel_by_key(spec.channel)
        if channel is None:
            raise WaysError("channel", f"channel {spec.channel!r} does not exist")
        if self.sources.entry_code_by_state(spec.state) is not None:
            raise WaysConflict("state", f"an entry code with state {spec.state!r} already exists")
        api = self.api(spec.provider_key)
        config_id, picture = self._create_remote(api, spec)
        try:
            code = EntryCode(
                channel_id=channel.id,
                state=spec.state,
                name=spec.name or spec.state,
                campaign=spec.campaign,
                kind=spec.kind,
                provider_key=spec.provider_key,
                staff=spec.staff,
                skip_verify=spec.skip_verify,
                welcome_template=spec.welcome_template,
                tags=list(spec.tags),
                config_id=config_id,
                qr_code=picture,
            )
            with self.session.begin_nested():
                self.session.add(code)
                self.session.flush()
        except Exception:
            self._delete_remote(api, spec.kind, config_id)  # nothing half-made at WeCom either
            raise
        audit.record(
            self.session,
            actor,
            "entry_code.created",
            "entry_code",
            code.id,
            {"state": spec.state, "kind": spec.kind, "config_id": config_id},
        )
        return code

    def _create_remote(self, api: WeComApi, spec: WaySpec) -> tuple[str, str]:
        try:
            if spec.kind == "contact_way":
                data = api.call("POST", f"{EC}/add_contact_way", self._way_body(spec), creates=True)
                return str(data["config_id"]), str(data.get("qr_code") or "")
            data = api.call("POST", f"{LINK}/create_link", self._link_body(spec), creates=True)
            link = data.get("link") or {}
            return str(link["link_id"]), str(link.get("url") or "")
        except WeComError as exc:
            raise WaysError("wecom", in_words(exc)) from exc

    @staticmethod
    def _way_body(spec: WaySpec) -> dict[str, Any]:
        return {
            "type": 1 if len(spec.staff) == 1 else 2,
            "scene": 2,
            "remark": (spec.name or spec.state)[:30],
            "skip_verify": spec.skip_verify,
            "state": spec.state,
            "user": spec.staff,
        }

    @staticmethod
    def _link_body(spec: WaySpec) -> dict[str, Any]:
        return {
            "link_name": (spec.name or spec.state)[:30],
            "range": {"user_list": spec.staff},
            "skip_verify": spec.skip_verify,
        }

    def _delete_remote(self, api: WeComApi, kind: str, config_id: str) -> None:
        path = f"{EC}/del_contact_way" if kind == "contact_way" else f"{LINK}/delete_link"
        key = "config_id" if kind == "contact_way" else "link_id"
        try:
            api.call("POST", path, {key: config_id})
        except WeComError as exc:
            if exc.errcode not in (40058, 41044):  # already gone at WeCom: nothing to undo
                raise WaysError("wecom", in_words(exc)) from exc

    # --- read, update, delete ---------------------------------------------------------------
    def get(self, state: str) -> EntryCode:
        code = self.sources.entry_code_by_state(state)
        if code is None:
            raise WaysNotFound("state", f"no entry code {state!r}")
        return code

    def _wecom(self, state: str) -> EntryCode:
        code = self.get(state)
        if code.kind not in KINDS or not code.provider_key or not code.config_id:
            raise WaysError("state", f"entry code {state!r} is not a WeCom contact way or link")
        if code.deleted_at is not None:
            raise WaysError("state", f"entry code {state!r} was deleted")
        return code

    def update(
        self,
        state: str,
        *,
        name: str | None = None,
        staff: list[str] | None = None,
        skip_verify: bool | None = None,
        welcome_template: str | None = None,
        tags: list[str] | None = None,
        actor: str = "system",
    ) -> EntryCode:
        """Change what WeCom holds first (staff, skip_verify, remark), then the row."""
        code = self._wecom(state)
        spec = WaySpec(
            channel="",
            state=code.state,
            provider_key=code.provider_key or "",
            staff=list(staff if staff is not None else code.staff),
            kind=code.kind,
            name=name or code.name,
            skip_verify=code.skip_verify if skip_verify is None else skip_verify,
            welcome_template=code.welcome_template
            if welcome_template is None
            else (welcome_template or None),
            tags=list(code.tags if tags is None else tags),
        )
        self._check(spec)
        if code.kind == "contact_way" and len(spec.staff) > 1 and len(code.staff) == 1:
            # A contact way's type (single/multi) cannot change: WeCom keeps it from creation.
            raise WaysError(
                "wecom_staff", "a single-staff contact way cannot become multi-staff; make a new one"
            )
        api = self.api(spec.provider_key)
        try:
            if code.kind == "contact_way":
                body = {k: v for k, v in self._way_body(spec).items() if k not in ("type", "scene")}
                api.call("POST", f"{EC}/update_contact_way", {"config_id": code.config_id, **body})
            else:
                api.call("POST", f"{LINK}/update_link", {"link_id": code.config_id, **self._link_body(spec)})
        except WeComError as exc:
            raise WaysError("wecom", in_words(exc)) from exc
        code.name, code.staff, code.skip_verify = spec.name or code.name, spec.staff, spec.skip_verify
        code.welcome_template, code.tags = spec.welcome_template, spec.tags
        self.session.flush()
        audit.record(self.session, actor, "entry_code.updated", "entry_code", code.id, {"state": state})
        return code

    def delete(self, state: str, actor: str = "system") -> EntryCode:
        code = self._wecom(state)
        self._delete_remote(self.api(code.provider_key or ""), code.kind, code.config_id or "")
        code.deleted_at = utcnow()
        self.session.flush()
        audit.record(self.session, actor, "entry_code.deleted", "entry_code", code.id, {"state": state})
        return code

    def list(self, include_deleted: bool = True) -> list[EntryCode]:
        q = select(EntryCode).order_by(EntryCode.id)
        if not include_deleted:
            q = q.where(EntryCode.deleted_at.is_(None))
        return list(self.session.scalars(q))

    # --- acquisition link customers ---------------------------------------------------------
    def pull_link_customers(self, state: str) -> dict[str, int]:
        """Pages ``customer_acquisition/customer`` (≤ 1,000 a page) and records the link's state on
        the follows it brought that carry no state yet (added before the callback arrived, or
        synced from a list that lacks it). Customers whose follow is not known yet are counted
        as ``pending``: the next customer sync or add callback creates them."""
        code = self._wecom(state)
        if code.kind != "acquisition_link":
            raise WaysError("state", f"entry code {state!r} is not an acquisition link")
        try:
            rows = self.api(code.provider_key or "").pages(
                f"{LINK}/customer", {"link_id": code.config_id, "limit": 1000}, "customer_list"
            )
        except WeComError as exc:
            raise WaysError("wecom", in_words(exc)) from exc
        attributed = pending = 0
        for row in rows:
            follow = self.session.scalar(
                select(ContactFollow).where(
                    ContactFollow.provider_key == code.provider_key,
                    ContactFollow.staff_userid == str(row.get("userid") or ""),
                    ContactFollow.external_userid == str(row.get("external_userid") or ""),
                )
            )
            if follow is None:
                pending += 1
            elif not follow.state:
                follow.state = code.state
                attributed += 1
        self.session.flush()
        return {"customers": len(rows), "attributed": attributed, "pending": pending}


__all__ = [
    "SourceError",
    "WaySpec",
    "WaysConflict",
    "WaysError",
    "WaysNotFound",
    "WaysService",
    "describe",
    "link_url",
]
