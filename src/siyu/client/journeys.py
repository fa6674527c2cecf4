"""Python API for automation: ``s.journeys`` (SOP journeys, the worker) and ``s.providers``
(channel provider accounts). Each call is one unit of work in the system of record."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

from siyu.channels.providers import ProviderService
from siyu.client.layers import _Part, load
from siyu.journeys.engine import spec_of
from siyu.journeys.service import JourneyService
from siyu.journeys.worker import TickStats, Worker


class JourneysClient(_Part):
    def _dict(self, svc: JourneyService, key: str) -> dict[str, Any]:
        j = svc.get(key)
        return {**svc.summary(j), "definition": j.definition}

    def create(self, document: Any, actor: str = "python") -> dict[str, Any]:
        """Create a journey (draft) from a dict or a JSON/YAML file."""
        with self.ctx.db.session() as s:
            svc = JourneyService(s)
            j = svc.create(load(document), actor=actor)
            return self._dict(svc, j.key)

    def update(self, key: str, document: Any, actor: str = "python") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            svc = JourneyService(s)
            svc.update(key, load(document), actor=actor)
            return self._dict(svc, key)

    def get(self, key: str) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return self._dict(JourneyService(s), key)

    def list(self) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return JourneyService(s).list()

    def start(self, key: str, actor: str = "python") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return JourneyService.summary(JourneyService(s).start(key, actor=actor))

    def pause(self, key: str, actor: str = "python") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return JourneyService.summary(JourneyService(s).pause(key, actor=actor))

    def archive(self, key: str, actor: str = "python") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return JourneyService.summary(JourneyService(s).archive(key, actor=actor))

    def stats(self, key: str) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return JourneyService(s).report(key)

    def steps(self, key: str) -> list[dict[str, Any]]:
        """The step graph: each step with where it goes (for drawing)."""
        with self.ctx.db.session() as s:
            spec = spec_of(JourneyService(s).get(key))
        return [{"id": st.id, "action": st.action, "next": spec.successors(st.id)} for st in spec.steps]

    def enrol(self, key: str, contacts: list[int | str], label: str = "python") -> dict[str, Any]:
        """Enrol contacts (ids or queries such as phone numbers); unknown ones are reported."""
        with self.ctx.db.session() as s:
            ids, missing = self._contacts(s, contacts)
            n = JourneyService(s).enrol(key, ids, label=label)
            return {"enrolled": n, "matched": len(ids), "not_found": missing}

    def enrol_csv(self, key: str, path: str | Path) -> dict[str, Any]:
        """Enrol the contacts of a CSV file: the first column holds an id, phone, email or
        ``type:value`` per row (a header row is skipped when it names no contact). The file's
        digest labels the enrolment, so importing the same file again enrols no one twice."""
        path = Path(path)
        data = path.read_bytes()
        rows = [r for r in csv.reader(data.decode("utf-8-sig").splitlines()) if r and r[0].strip()]
        queries = [r[0].strip() for r in rows]
        result = self.enrol(key, queries, label="csv:" + hashlib.sha256(data).hexdigest())
        rows = len(queries)
        if result["not_found"] and queries and result["not_found"][0]["contact"] == queries[0]:
            result["not_found"] = result["not_found"][1:]  # the header: not a row of the list
            rows -= 1
        result["rows"] = rows
        return result

    def run_worker(self, ticks: int = 1, dispatch: bool = True) -> TickStats:
        """Run the worker's rounds in this process (what ``siyu worker --once`` does)."""
        worker = Worker(
            self.ctx.db, self.ctx.keyring, self.ctx.settings, dispatch=dispatch, schedule_interval_s=0
        )
        total = TickStats()
        try:
            for _ in range(ticks):
                t = worker.tick()
                total.enrolled += t.enrolled
                total.steps += t.steps
                total.queued += t.queued
                total.sent += t.sent
                total.failed += t.failed
            worker.poll_receipts()  # one bounded pass; the long-running worker polls on a thread
        finally:
            worker.close()
        return total


class ProvidersClient(_Part):
    def add(
        self,
        key: str,
        kind: str,
        config: dict[str, Any] | None = None,
        secrets: dict[str, Any] | None = None,
        default: bool = False,
        actor: str = "python",
    ) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            svc = ProviderService(s, self.ctx.keyring)
            return svc.describe(svc.create(key, kind, config, secrets, default, actor=actor))

    def list(self) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return ProviderService(s, self.ctx.keyring).list()

    def delete(self, key: str, actor: str = "python") -> None:
        with self.ctx.db.session() as s:
            ProviderService(s, self.ctx.keyring).delete(key, actor=actor)
