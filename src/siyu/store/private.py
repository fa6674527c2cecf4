"""Files siyu writes are readable by its own user only: the data directory and everything in it
(SQLite database with its WAL and SHM, the DuckDB warehouse, dead letters, uploads, exports,
the key file) are 0600 files in 0700 directories.

Two layers, because files are created in many places (SQLite makes its WAL, DuckDB its own
WAL, uploads and exports are written by several interfaces): the process umask is narrowed to
077 when a siyu context opens, so every file created afterwards is private whoever creates it,
and :func:`tighten` fixes what an older version (or a wider umask) already left behind.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_umask() -> None:
    """Make every file this process creates from now on private (group and others get nothing)."""
    os.umask(os.umask(0o077) | 0o077)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and its missing parents) as 0700 and make sure it is 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty as 0600 if missing (so a library that opens it later, like SQLite,
    keeps that mode and gives it to its WAL and SHM), or narrow it to 0600."""
    # a missing folder is made private; an existing one (SIYU_DATABASE_URL may point anywhere)
    # is the operator's to set
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        with contextlib.suppress(OSError):
            os.chmod(path, FILE_MODE)
    return path


def tighten(root: Path) -> None:
    """Narrow ``root`` and everything under it to 0700 directories and 0600 files."""
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            _narrow(Path(folder) / name, DIR_MODE)
        for name in files:
            _narrow(Path(folder) / name, FILE_MODE)
    _narrow(root, DIR_MODE)


def tighten_file(path: Path) -> None:
    """Narrow one existing file to 0600 (no-op when missing or already private)."""
    _narrow(path, FILE_MODE)


def _narrow(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):
        st = os.lstat(path)
        if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(path, stat.S_IMODE(st.st_mode) & mode)


__all__ = ["DIR_MODE", "FILE_MODE", "private_dir", "private_file", "private_umask", "tighten", "tighten_file"]
