"""Python API for PIPL rights: ``s.privacy`` — a person's copy, corrections, erasure with a
receipt, and the do-not-contact list. Like every Python API call it acts with the database's
own authority as ``actor``; REST and the console check roles (owner/admin for copy and erasure).
"""

from __future__ import annotations

from typing import Any

from siyu.context import AppContext
from siyu.privacy.schemas import Correction, Receipt
from siyu.privacy.service import PrivacyService, settle_storage
from siyu.profiles import views
from siyu.warehouse.store import Warehouse, WarehouseBusy


class PrivacyClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def _service(self, session: Any) -> PrivacyService:
        return PrivacyService(session, self.ctx.profiles(session), self.ctx.parser)

    def export(self, query: str, actor: str = "python") -> dict[str, Any]:
        """Everything held about the person ``query`` names, identifiers in clear (audited)."""
        with self.ctx.db.session() as s:
            cid = views.find_contact_id(self.ctx.profiles(s), self.ctx.parser, query)
            return self._service(s).export(cid, actor)

    def correct(
        self,
        query: str,
        traits: dict[str, Any] | None = None,
        remove: list[str] | None = None,
        identifiers: list[dict[str, str]] | None = None,
        actor: str = "python",
    ) -> dict[str, Any]:
        change = Correction.model_validate(
            {"traits": traits or {}, "remove": remove or [], "identifiers": identifiers or []}
        )
        with self.ctx.db.session() as s:
            cid = views.find_contact_id(self.ctx.profiles(s), self.ctx.parser, query)
            return self._service(s).correct(cid, change, actor)

    def delete(
        self, query: str, actor: str = "python", warehouse_wait_s: float | None = 2.0
    ) -> dict[str, Any]:
        """Erase the person; returns the receipt. The warehouse copy goes now when the
        warehouse is free (``warehouse: erased``), else with the next feed (``pending``).
        ``warehouse_wait_s=None`` always leaves it to the feeder: a server must, because the
        file rewrite is safe only for the process's one user of the warehouse file."""
        with self.ctx.db.session() as s:
            cid = views.find_contact_id(self.ctx.profiles(s), self.ctx.parser, query)
            receipt = self._service(s).delete(cid, actor, self.ctx.settings.dead_letter_dir)
        settle_storage(self.ctx.db)
        done = warehouse_wait_s is not None and self.erase_from_warehouse(warehouse_wait_s)
        receipt.warehouse = "erased" if done else "pending"
        return receipt.model_dump()

    def erase_from_warehouse(self, wait_s: float = 2.0) -> bool:
        """Apply queued erasures to the warehouse; False when another process holds it (its
        feeder applies them on its next round)."""
        try:
            wh = Warehouse(self.ctx.settings.resolved_warehouse_path, wait_s=wait_s)
        except WarehouseBusy:
            return False
        try:
            wh.erase(self.ctx.db)
            return True
        finally:
            wh.close()

    def deletions(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return self._service(s).deletions(limit)

    def do_not_contact(self, limit: int = 200, before_id: int | None = None) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return [e.model_dump() for e in self._service(s).list_do_not_contact(limit, before_id)]

    def remove_do_not_contact(self, entry_id: int, actor: str = "python") -> None:
        with self.ctx.db.session() as s:
            self._service(s).remove_do_not_contact(entry_id, actor)


__all__ = ["PrivacyClient", "Receipt"]
