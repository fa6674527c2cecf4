"""Dead letters: the rejected lines of an import, kept so someone can fix and re-import them.

They are whatever the file held — phones, emails, names — so they are protected like the
database: each line is one AES-GCM ciphertext (the PII keyring, associated data
``dead-letter``) in base64, the file is 0600, and files older than
``SIYU_DEAD_LETTER_RETENTION_DAYS`` are purged (by ``siyu serve``'s background round and before
each import). They are read back decrypted only through :func:`read` (``siyu import rejected
JOB``, REST, the console's import page), which masks phones and emails unless the caller may
see them.

Files written before encryption (plain JSON lines) are still read, so nothing already kept is
lost; the purge removes them like the others.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from cryptography.exceptions import InvalidTag

from siyu.profiles.detect import DEFAULT as DEFAULT_DETECTOR
from siyu.profiles.detect import PiiDetector, mask_text
from siyu.profiles.pii import KeyError_ as KeyringError
from siyu.profiles.pii import Keyring
from siyu.store.engine import Database
from siyu.store.private import FILE_MODE, private_dir

log = logging.getLogger("siyu.ingest")

ASSOCIATED = b"dead-letter"
SUFFIX = ".rejected.enc"
#: Notes on rows that were imported (values left out, rows that are one contact), kept and
#: protected the same way: they can quote a name.
NOTES_SUFFIX = ".notes.enc"


def path_for(directory: Path, job_id: int) -> Path:
    """Where job ``job_id`` keeps its rejected lines (no part of the uploaded file's name: a
    file name can itself be personal, ``张三-13912345678.csv``)."""
    return directory / f"import-{job_id}{SUFFIX}"


def notes_path_for(directory: Path, job_id: int) -> Path:
    return directory / f"import-{job_id}{NOTES_SUFFIX}"


def read_notes(
    path: str | Path | None, keyring: Keyring, limit: int | None = None, pii: PiiDetector | None = None
) -> tuple[list[dict[str, Any]], int]:
    """The first ``limit`` notes of an import (phones and emails in them masked) and how many
    there are."""
    if not path or not Path(path).is_file():
        return [], 0
    detector = pii or DEFAULT_DETECTOR
    out: list[dict[str, Any]] = []
    total = 0
    with Path(path).open("rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            total += 1
            if limit is not None and len(out) >= limit:
                continue  # counted, not decrypted
            item = _decode(raw, keyring)
            if item is not None:
                out.append({k: detector.scrub_value(v) for k, v in item.items()})
    return out, total


def recorded_name(path: Path) -> str:
    """The imported file's path as the job records it: a phone or email in a file name
    (``张三-13912345678.csv``) is masked, like everywhere else at rest."""
    return mask_text(str(path.resolve()))


class DeadLetterWriter:
    """Appends encrypted records to one job's dead-letter file, created 0600 on first use."""

    def __init__(self, path: Path, keyring: Keyring) -> None:
        self.path = path
        self.keyring = keyring
        self._fh: IO[bytes] | None = None

    def write(self, record: dict[str, Any]) -> None:
        if self._fh is None:
            private_dir(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
            self._fh = os.fdopen(fd, "ab")
        try:
            text = orjson.dumps(record, default=str).decode()
        except orjson.JSONEncodeError:  # nested past orjson's 255 levels: keep the verdict
            kept = {k: record.get(k) for k in ("line", "field", "reason")}
            text = orjson.dumps({**kept, "raw": "(not kept: nested too deep to write back)"}).decode()
        blob = self.keyring.encrypt(text, ASSOCIATED)
        self._fh.write(base64.b64encode(blob) + b"\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _decode(line: bytes, keyring: Keyring) -> dict[str, Any] | None:
    line = line.strip()
    if not line:
        return None
    try:
        if line.startswith(b"{"):  # written before dead letters were encrypted
            item = orjson.loads(line)
        else:
            item = orjson.loads(keyring.decrypt(base64.b64decode(line, validate=True), ASSOCIATED))
    except (orjson.JSONDecodeError, binascii.Error, InvalidTag, KeyringError, ValueError):
        return None  # a line still being written, or one written with a key no longer configured
    return item if isinstance(item, dict) else None


def read(
    path: str | Path | None,
    keyring: Keyring,
    limit: int | None = None,
    offset: int = 0,
    reveal: bool = False,
    pii: PiiDetector | None = None,
) -> list[dict[str, Any]]:
    """Rejected lines of a dead-letter file, decrypted: ``line``, ``field``, ``reason`` and the
    ``record`` (or ``raw`` text of a line that was not JSON). Phones and emails are masked
    (with ``pii``, the deployment's detector) unless ``reveal``."""
    if not path or not Path(path).is_file():
        return []
    detector = pii or DEFAULT_DETECTOR
    out: list[dict[str, Any]] = []
    seen = 0
    with Path(path).open("rb") as fh:
        for raw in fh:
            item = _decode(raw, keyring)
            if item is None:
                continue
            seen += 1
            if seen <= offset:
                continue
            row = {
                "line": item.get("line"),
                "field": item.get("field"),
                "reason": item.get("reason"),
                "record": item.get("record"),
                "raw": item.get("raw"),
            }
            if not reveal:
                row = {
                    **row,
                    "reason": detector.scrub_value(row["reason"]),
                    "record": detector.scrub_value(row["record"]),
                    "raw": detector.scrub_value(row["raw"]),
                }
            out.append(row)
            if limit is not None and len(out) >= limit:
                break
    return out


def purge(directory: Path, retention_days: float, now: float | None = None) -> int:
    """Delete dead-letter files last written more than ``retention_days`` ago; returns how many."""
    if not directory.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - retention_days * 86_400
    removed = 0
    for entry in directory.iterdir():
        if not entry.is_file() or not entry.name.startswith("import-"):
            continue
        with contextlib.suppress(FileNotFoundError):
            if entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
    return removed


def rewrap(directory: Path, keyring: Keyring) -> int:
    """Re-encrypt every dead-letter line with the primary key (``siyu keys rotate``), so the old
    key can be dropped without losing the rejected lines still kept. Each file is rewritten to
    a private temporary file and swapped in; a line no configured key opens is kept as it is.
    Returns how many files were rewritten."""
    if not directory.is_dir():
        return 0
    done = 0
    for entry in sorted([*directory.glob("import-*" + SUFFIX), *directory.glob("import-*" + NOTES_SUFFIX)]):
        lines = entry.read_bytes().splitlines()
        out: list[bytes] = []
        changed = False
        for line in lines:
            try:
                blob = base64.b64decode(line, validate=True)
                if keyring.needs_rewrap(blob):
                    plain = keyring.decrypt(blob, ASSOCIATED)
                    line = base64.b64encode(keyring.encrypt(plain, ASSOCIATED))
                    changed = True
            except (binascii.Error, InvalidTag, KeyringError, ValueError):
                pass  # unreadable with every configured key: left for the purge
            out.append(line)
        if changed:
            tmp = entry.with_name(entry.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            with os.fdopen(fd, "wb") as fh:
                fh.write(b"".join(line + b"\n" for line in out))
            tmp.replace(entry)
            done += 1
    return done


def drop_lines(directory: Path, keyring: Keyring, names_person: Callable[[bytes], bool]) -> int:
    """Remove every line whose plain text ``names_person`` (a PIPL erasure), rewriting each
    file it touches to a private temporary file swapped in; returns how many lines went. A line
    no configured key opens is kept: nobody can read it, and the purge removes it."""
    if not directory.is_dir():
        return 0
    removed = 0
    for entry in sorted(directory.glob("import-*")):
        if not entry.is_file() or entry.name.endswith(".tmp"):
            continue
        lines = entry.read_bytes().splitlines()
        keep: list[bytes] = []
        for line in lines:
            plain = line.strip()
            if plain and not plain.startswith(b"{"):  # encrypted (older files hold plain JSON)
                try:
                    plain = keyring.decrypt(base64.b64decode(plain, validate=True), ASSOCIATED).encode()
                except (binascii.Error, InvalidTag, KeyringError, ValueError):
                    keep.append(line)
                    continue
            if names_person(plain):
                removed += 1
            else:
                keep.append(line)
        if len(keep) != len(lines):
            tmp = entry.with_name(entry.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            with os.fdopen(fd, "wb") as fh:
                fh.write(b"".join(line + b"\n" for line in keep))
            tmp.replace(entry)
    return removed


@dataclass
class PurgeDeadLetters:
    """The dead-letter purge as a step of ``siyu serve``'s background round (picklable: the
    background process is spawned), at most once every ``every_s``, then ``then``."""

    directory: Path
    retention_days: float
    then: Any = None  # the round's other work (warehouse.feeder.AfterFeed)
    every_s: float = 3600.0
    _last: float = field(default=float("-inf"), repr=False)

    def __call__(self, wh: Any, db: Database) -> None:
        if time.monotonic() - self._last >= self.every_s:
            self._last = time.monotonic()
            try:
                if n := purge(self.directory, self.retention_days):
                    log.info("purged %d dead-letter files older than %s days", n, self.retention_days)
            except OSError:  # never stop the round over a file; retried next time
                log.exception("dead-letter purge failed")
        if self.then is not None:
            self.then(wh, db)


__all__ = [
    "DeadLetterWriter",
    "PurgeDeadLetters",
    "drop_lines",
    "notes_path_for",
    "path_for",
    "purge",
    "read",
    "read_notes",
    "recorded_name",
    "rewrap",
]
