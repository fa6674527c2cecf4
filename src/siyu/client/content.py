"""Python API for the content library: ``s.content``. Each call is one unit of work, committed
when it succeeds; a preview writes nothing. Errors are :class:`~siyu.content.schemas.ContentError`
naming the field (``body.card.buttons[0].label: …``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from siyu.content.files import MaterialFiles, check_size, file_dict
from siyu.content.service import ContentService, material_dict, template_dict
from siyu.content.sms import count_sms, short_link_length, sms_counts
from siyu.content.variables import variable_catalogue
from siyu.context import AppContext
from siyu.profiles import views


class ContentClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    @contextmanager
    def _work(self, write: bool = True) -> Iterator[tuple[Session, ContentService]]:
        with self.ctx.db.session() as s:
            yield s, ContentService(s)
            if write:
                s.commit()

    def _contact(self, s: Session, contact: int | str) -> int:
        query = f"id:{contact}" if isinstance(contact, int) else contact
        return views.find_contact_id(self.ctx.profiles(s), self.ctx.parser, query)

    # --- templates ------------------------------------------------------------------------------
    def templates(self, **filters: str | None) -> list[dict[str, Any]]:
        """Templates; filters: channel, scenario, stage, tag."""
        with self._work(write=False) as (_, svc):
            return [template_dict(t) for t in svc.list_templates(**filters)]

    def template(self, key: str) -> dict[str, Any]:
        with self._work(write=False) as (_, svc):
            return template_dict(svc.get_template(key))

    def create_template(self, doc: dict[str, Any], actor: str = "python") -> dict[str, Any]:
        with self._work() as (_, svc):
            return template_dict(svc.create_template(doc, actor=actor))

    def update_template(self, key: str, doc: dict[str, Any], actor: str = "python") -> dict[str, Any]:
        with self._work() as (_, svc):
            return template_dict(svc.update_template(key, doc, actor=actor))

    def delete_template(self, key: str, actor: str = "python") -> None:
        with self._work() as (_, svc):
            svc.delete_template(key, actor=actor)

    def preview(
        self, template: str | dict[str, Any], contact: int | str, variant: str | None = None
    ) -> dict[str, Any]:
        """Render a saved template (by key) or an unsaved document for one contact."""
        with self._work(write=False) as (s, svc):
            cid = self._contact(s, contact)
            if isinstance(template, str):
                rendered = svc.preview(template, cid, self.ctx.keyring, variant)
                channel = svc.get_template(template).channel
            else:
                rendered = svc.preview_draft(template, cid, self.ctx.keyring, variant)
                channel = str(template.get("channel"))
            s.rollback()
        return {
            "contact_id": cid,
            **rendered.to_dict(),
            "sms": sms_counts(channel, rendered.content, short_link_length(self.ctx.settings.public_url)),
        }

    @staticmethod
    def sms_count(text: str, sign_name: str | None = None) -> dict[str, Any]:
        """Characters and billed parts of an SMS: 70 for one part, 67 per part when longer."""
        return count_sms(text, sign_name).to_dict()

    def variables(self) -> dict[str, Any]:
        """Built-in variables, contact traits and event properties a template can use."""
        with self._work(write=False) as (s, _):
            return variable_catalogue(s)

    # --- materials ------------------------------------------------------------------------------
    def materials(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self._work(write=False) as (_, svc):
            return [material_dict(m) for m in svc.list_materials(kind)]

    def create_material(self, doc: dict[str, Any], actor: str = "python") -> dict[str, Any]:
        with self._work() as (_, svc):
            return material_dict(svc.create_material(doc, actor=actor))

    def delete_material(self, key: str, actor: str = "python") -> None:
        with self._work() as (_, svc):
            svc.delete_material(key, actor=actor)

    def upload(self, path: str | Path, actor: str = "python") -> dict[str, Any]:
        """Store an image (JPG/PNG ≤ 2 MB); its ``id`` goes into a material's ``data.file``."""
        file = Path(path)
        check_size(file.stat().st_size)  # before reading a file that is too large
        with self._work() as (s, _):
            return file_dict(MaterialFiles(s).store(file.read_bytes(), file.name, actor=actor))
