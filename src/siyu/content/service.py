"""The content library (内容库): templates and materials, previews, and rendering a step's
message for many contacts at once (what the journey engine calls). Services never commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.content.files import MaterialFiles
from siyu.content.links import LinkMaker, flush_links
from siyu.content.render import Rendered, render
from siyu.content.schemas import (
    ContentError,
    MaterialCreate,
    TemplateCreate,
    TemplateFields,
    check_channel_name,
    merge_variant,
    validate,
)
from siyu.content.variables import contact_variables
from siyu.profiles.pii import Keyring
from siyu.store.models import ContentTemplate, Material, utcnow


class ContentNotFound(ContentError):
    pass


class ContentConflict(ContentError):
    """The key is taken, or the row is still in use."""


def template_dict(t: ContentTemplate) -> dict[str, Any]:
    return {
        "key": t.key,
        "name": t.name,
        "channel": t.channel,
        "scenario": t.scenario,
        "stage": t.stage,
        "tags": list(t.tags or []),
        "body": t.body,
        "variants": t.variants or {},
        "transactional": t.transactional,
        "created_at": t.created_at.isoformat(),
        "updated_at": t.updated_at.isoformat(),
    }


def material_dict(m: Material) -> dict[str, Any]:
    return {"key": m.key, "kind": m.kind, "data": m.data, "created_at": m.created_at.isoformat()}


class ContentService:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- templates ------------------------------------------------------------------------------
    def template(self, key: str) -> ContentTemplate | None:
        return self.session.scalar(select(ContentTemplate).where(ContentTemplate.key == key))

    def get_template(self, key: str) -> ContentTemplate:
        found = self.template(key)
        if found is None:
            raise ContentNotFound(f"unknown template {key!r}")
        return found

    def create_template(
        self, spec: TemplateCreate | dict[str, Any], actor: str = "system"
    ) -> ContentTemplate:
        spec = validate(TemplateCreate, spec)
        if self.template(spec.key) is not None:
            raise ContentConflict(f"template {spec.key!r} already exists")
        self._check_materials(spec)
        row = ContentTemplate(key=spec.key, **self._fields(spec))
        self.session.add(row)
        self.session.flush()
        audit.record(self.session, actor, "template.created", "template", row.id, {"key": row.key})
        return row

    def update_template(
        self, key: str, spec: TemplateFields | dict[str, Any], actor: str = "system"
    ) -> ContentTemplate:
        """Replace everything but the key. A ``key`` in the document must match."""
        if isinstance(spec, dict):
            spec = dict(spec)
            if spec.pop("key", key) != key:
                raise ContentError(f"key: the document is for another template than {key!r}")
        spec = validate(TemplateFields, spec)
        row = self.get_template(key)
        self._check_materials(spec)
        for name, value in self._fields(spec).items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        self.session.flush()
        audit.record(self.session, actor, "template.updated", "template", row.id, {"key": key})
        return row

    def list_templates(
        self,
        channel: str | None = None,
        scenario: str | None = None,
        stage: str | None = None,
        tag: str | None = None,
    ) -> list[ContentTemplate]:
        stmt = select(ContentTemplate).order_by(ContentTemplate.key)
        if channel:
            try:
                stmt = stmt.where(ContentTemplate.channel == check_channel_name(channel))
            except ValueError as exc:
                raise ContentError(f"channel: {exc}") from None
        if scenario:
            stmt = stmt.where(ContentTemplate.scenario == scenario)
        if stage:
            stmt = stmt.where(ContentTemplate.stage == stage)
        rows = list(self.session.scalars(stmt))
        # A library holds hundreds of templates: filtering tags here beats dialect-specific JSON SQL.
        return [r for r in rows if tag is None or tag in (r.tags or [])]

    def delete_template(self, key: str, actor: str = "system") -> None:
        row = self.get_template(key)
        audit.record(self.session, actor, "template.deleted", "template", row.id, {"key": key})
        self.session.delete(row)
        self.session.flush()

    @staticmethod
    def _fields(spec: TemplateFields) -> dict[str, Any]:
        return spec.model_dump(exclude={"key"})

    def _check_materials(self, spec: TemplateFields) -> None:
        wanted = {
            (where, i, key)
            for where, body in [("body", spec.body)]
            + [(f"variants.{n}", merge_variant(spec.body, o)) for n, o in spec.variants.items()]
            for i, key in enumerate(body.get("attachments") or [])
        }
        if not wanted:
            return
        kinds = dict(
            self.session.execute(
                select(Material.key, Material.kind).where(Material.key.in_({k for *_, k in wanted}))
            ).all()
        )
        for where, i, key in sorted(wanted):
            if key not in kinds:
                raise ContentError(f"{where}.attachments[{i}]: unknown material {key!r}")
        if spec.channel == "wecom_moment":
            self._check_moment(wanted, kinds)

    @staticmethod
    def _check_moment(wanted: set[tuple[str, int, str]], kinds: dict[str, str]) -> None:
        """A moments post (add_moment_task) carries images, or one link — never a mix, and no
        mini-program card: refused when saved, not when the post goes out."""
        by_body: dict[str, list[str]] = {}
        for where, _i, key in sorted(wanted):
            by_body.setdefault(where, []).append(kinds[key])
        for where, found in by_body.items():
            if "miniprogram" in found:
                raise ContentError(f"{where}.attachments: a moments post cannot carry a mini-program card")
            if "link" in found and len(found) > 1:
                raise ContentError(f"{where}.attachments: a moments post carries images, or one link")

    # --- materials ------------------------------------------------------------------------------
    def material(self, key: str) -> Material | None:
        return self.session.scalar(select(Material).where(Material.key == key))

    def get_material(self, key: str) -> Material:
        found = self.material(key)
        if found is None:
            raise ContentNotFound(f"unknown material {key!r}")
        return found

    def create_material(self, spec: MaterialCreate | dict[str, Any], actor: str = "system") -> Material:
        spec = validate(MaterialCreate, spec)
        if self.material(spec.key) is not None:
            raise ContentConflict(f"material {spec.key!r} already exists")
        self._check_file(spec)
        row = Material(key=spec.key, kind=spec.kind, data=dict(spec.data))
        self.session.add(row)
        self.session.flush()
        audit.record(self.session, actor, "material.created", "material", row.id, {"key": row.key})
        return row

    def update_material(
        self, key: str, spec: MaterialCreate | dict[str, Any], actor: str = "system"
    ) -> Material:
        spec = validate(MaterialCreate, {"key": key, **spec} if isinstance(spec, dict) else spec)
        if spec.key != key:
            raise ContentError(f"key: the document is for another material than {key!r}")
        row = self.get_material(key)
        self._check_file(spec)
        row.kind, row.data = spec.kind, dict(spec.data)
        self.session.flush()
        audit.record(self.session, actor, "material.updated", "material", row.id, {"key": key})
        return row

    def _check_file(self, spec: MaterialCreate) -> None:
        file_id = spec.data.get("file")
        if file_id and MaterialFiles(self.session).missing({file_id}):
            raise ContentError(f"data.file: unknown uploaded file {file_id[:12]}…; upload it first")

    def list_materials(self, kind: str | None = None) -> list[Material]:
        stmt = select(Material).order_by(Material.key)
        if kind:
            stmt = stmt.where(Material.kind == kind)
        return list(self.session.scalars(stmt))

    def delete_material(self, key: str, actor: str = "system") -> None:
        row = self.get_material(key)
        users = [
            t.key
            for t in self.session.scalars(select(ContentTemplate).order_by(ContentTemplate.key))
            if key in _attachment_keys(t)
        ]
        if users:
            raise ContentConflict(f"material {key!r} is used by templates {', '.join(users)}")
        audit.record(self.session, actor, "material.deleted", "material", row.id, {"key": key})
        self.session.delete(row)
        self.session.flush()

    def _materials_of(self, template: ContentTemplate) -> dict[str, dict[str, Any]]:
        keys = _attachment_keys(template)
        if not keys:
            return {}
        rows = self.session.scalars(select(Material).where(Material.key.in_(keys)))
        return {m.key: {"kind": m.kind, "data": m.data} for m in rows}

    # --- rendering ------------------------------------------------------------------------------
    @staticmethod
    def body_for(template: ContentTemplate, variant: str | None) -> dict[str, Any]:
        if variant is None:
            return template.body
        override = (template.variants or {}).get(variant)
        if override is None:
            raise ContentError(f"variant {variant!r}: template {template.key!r} has none by that name")
        return merge_variant(template.body, override)

    def preview(
        self, template_key: str, contact_id: int, keyring: Keyring | None = None, variant: str | None = None
    ) -> Rendered:
        """Render for one contact without writing anything: links show as ``[link:URL]``."""
        template = self.get_template(template_key)
        body = self.body_for(template, variant)
        variables = contact_variables(self.session, keyring, [contact_id])[contact_id]
        return render(body, variables, None, channel=template.channel, materials=self._materials_of(template))

    def preview_draft(
        self,
        spec: TemplateFields | dict[str, Any],
        contact_id: int,
        keyring: Keyring | None = None,
        variant: str | None = None,
    ) -> Rendered:
        """Render a template that is not saved yet (the editor's preview): checked like a save,
        rendered like :meth:`preview`; nothing is written."""
        if isinstance(spec, dict):
            spec = {k: v for k, v in spec.items() if k != "key"}
        spec = validate(TemplateFields, spec)
        self._check_materials(spec)
        draft = ContentTemplate(key="draft", **self._fields(spec))
        body = self.body_for(draft, variant)
        variables = contact_variables(self.session, keyring, [contact_id])[contact_id]
        return render(body, variables, None, channel=draft.channel, materials=self._materials_of(draft))

    def render_for(
        self,
        template_key: str,
        contact_ids: Sequence[int],
        variables_by_contact: Mapping[int, dict[str, Any]] | None,
        variant_by_contact: Mapping[int, str | None],
        message_keys: Mapping[int, str],
        public_url: str,
        journey_id: int | None = None,
        step: str | None = None,
        link_secret: bytes = b"",
    ) -> dict[int, Rendered]:
        """Render a template for many contacts: one template lookup, one materials lookup, the
        variables in bulk when not given, and every short link written in one insert.

        ``message_keys`` are the outbox keys (the links' codes derive from them, so a step run
        again renders identical links). An unknown variant renders the base body and says so
        in that contact's errors. ``link_secret``: :func:`siyu.content.links.link_secret`."""
        template = self.get_template(template_key)
        materials = self._materials_of(template)
        missing = [cid for cid in contact_ids if cid not in message_keys]
        if missing:
            raise ContentError(f"message_keys: no key for contacts {missing[:10]}")
        if variables_by_contact is None:
            variables_by_contact = contact_variables(self.session, None, list(contact_ids))
        bodies: dict[str | None, tuple[dict[str, Any], list[str]]] = {}
        makers: list[LinkMaker] = []
        out: dict[int, Rendered] = {}
        for cid in contact_ids:
            variant = variant_by_contact.get(cid)
            if variant not in bodies:
                try:
                    bodies[variant] = (self.body_for(template, variant), [])
                except ContentError as exc:
                    bodies[variant] = (template.body, [str(exc)])
            body, problems = bodies[variant]
            maker = LinkMaker(public_url, message_keys[cid], cid, journey_id, step, link_secret)
            rendered = render(
                body, variables_by_contact.get(cid, {}), maker, channel=template.channel, materials=materials
            )
            rendered.errors[:0] = problems
            makers.append(maker)
            out[cid] = rendered
        flush_links(self.session, makers)
        return out


def _attachment_keys(template: ContentTemplate) -> set[str]:
    bodies = [template.body, *(template.variants or {}).values()]
    return {str(k) for b in bodies if isinstance(b, dict) for k in (b.get("attachments") or [])}
