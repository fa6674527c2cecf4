"""Python API for automation: ``s.journeys`` (SOP journeys, the worker) and ``s.providers``
(channel provider accounts). Each call is one unit of work in the system of record."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

from siyu.channels.providers import ProviderService
from siyu.client.layers import _Part, load
from siyu.journeys import editor, versions, waiting
from siyu.journeys.engine import spec_of
from siyu.journeys.service import JourneyService
from siyu.journeys.timeline import from_journey, parse_sop, to_journey
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

    def versions(self, key: str) -> list[dict[str, Any]]:
        """Every saved version, newest first: number, who, when (UTC, ISO), and what it changed
        against the one before (steps added / removed / changed, settings)."""
        with self.ctx.db.session() as s:
            return versions.versions(s, key)

    def version(self, key: str, number: int) -> dict[str, Any]:
        """One saved version's document, with who/when and its changes."""
        with self.ctx.db.session() as s:
            return versions.version(s, key, number)

    # --- the editors (timeline SOP, graph) ---------------------------------------------------------
    def timeline(self, key: str) -> dict[str, Any] | None:
        """The journey as a timeline SOP (audience, rows, exit event), or ``None`` when it uses
        more than a timeline shows (then edit its document, e.g. in the graph editor)."""
        with self.ctx.db.session() as s:
            return from_journey(JourneyService(s).get(key).definition)

    def save_timeline(
        self, sop: dict[str, Any], start: bool = False, actor: str = "python"
    ) -> dict[str, Any]:
        """Create the journey of a timeline SOP, or a new version of it when the key exists
        (settings the timeline does not show — caps, quiet hours, limits — are kept)."""
        parsed = parse_sop(sop)
        with self.ctx.db.session() as s:
            svc = JourneyService(s)
            current = svc.repo.by_key(parsed.key)
            if current is None:
                svc.create(to_journey(parsed), actor=actor)
            else:
                svc.update(parsed.key, to_journey(parsed, current.definition), actor=actor)
            if start:
                svc.start(parsed.key, actor=actor)
            return self._dict(svc, parsed.key)

    def save_document(
        self, document: dict[str, Any], key: str | None = None, start: bool = False, actor: str = "python"
    ) -> dict[str, Any]:
        """What the graph editor saves: a new journey (``key`` None), or a new version of the
        journey ``key`` (also while it runs, under the rule in docs/journeys.md); optionally
        started in the same unit of work."""
        with self.ctx.db.session() as s:
            svc = JourneyService(s)
            saved = (
                svc.create(document, actor=actor) if key is None else svc.update(key, document, actor=actor)
            )
            if start:
                svc.start(saved.key, actor=actor)
            return self._dict(svc, saved.key)

    def validate(self, document: Any, key: str | None = None) -> dict[str, Any]:
        """Every problem of a journey document with its field (``steps[2].send.template``),
        and with ``key`` the contacts standing at steps the new version drops."""
        with self.ctx.db.session() as s:
            return editor.validate(s, load(document), key=key)

    def validate_timeline(self, sop: dict[str, Any]) -> dict[str, Any]:
        """A timeline's problems located on its rows (``rows[1].template``) and the journey
        document it makes."""
        with self.ctx.db.session() as s:
            key = sop.get("key") if isinstance(sop, dict) else None
            current = JourneyService(s).repo.by_key(key) if isinstance(key, str) else None
            return editor.validate_timeline(s, sop, current.definition if current else None)

    def editor_options(self) -> dict[str, Any]:
        """The pickers' choices: event names in the data, tags, segments, stages, channels and
        templates by channel."""
        with self.ctx.db.session() as s:
            return editor.options(s)

    def preview(self, kind: str, value: str) -> dict[str, Any]:
        """Who holds the audience (``tag``, ``segment``, ``stage``) now: count and first names,
        masked."""
        with self.ctx.db.session() as s:
            return editor.preview_entry(s, kind, value)

    def waiting(self, key: str, step: str, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        """Who stands at a step now (names and phones masked)."""
        with self.ctx.db.session() as s:
            return waiting.waiting(s, self.ctx.profiles(s), key, step, limit, offset)

    def export_waiting(self, key: str, step: str, reveal: bool = False, actor: str = "python") -> bytes:
        """The waiting list as CSV (UTF-8 BOM), masked unless ``reveal`` (callers check the
        ``pii.export`` permission); audited."""
        with self.ctx.db.session() as s:
            return waiting.export_csv(s, self.ctx.profiles(s), key, step, reveal, actor)

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
