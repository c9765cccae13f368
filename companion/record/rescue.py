"""Rescue files: taps the database refused, kept on disk elsewhere so quitting or a crash loses none.

When a write fails (another program holds the database lock, the disk is full, the folder turned
read-only), the event stays pending in memory and is retried. Memory does not survive quitting, a crash or
`kill -9`, so whenever the pending queue changes it is also written to a small rescue file, in the first
of several private folders that takes it: the data folder's `rescue/`, then the user's cache folder, then
the temporary folder. A locked or read-only database does not stop a plain file beside it, and a few
kilobytes often fit where a database page did not.

The file is replaced atomically (write, fsync, rename) so it is never half-written, and removed once the
queue reaches the database. When the record is next opened, rescue files left behind for this database are
added (the events keep their ids, inserted with INSERT OR IGNORE, so never twice) and then removed.

In an encrypted data folder the rescue file is a tiny SQLCipher database with the folder's key instead of
JSON lines (same name; SQLCipher authenticates every page, so a tampered file is refused, not misread).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import platformdirs

from companion.paths import PRIVATE_FILE_MODE, ensure_private_dir
from companion.record.cipher import SQL_ERRORS, SQL_OR_OS_ERRORS, DataKey, connect, fsync_file
from companion.record.database import sync_folder

SUFFIX = ".jsonl"
Row = Sequence[object]


def rescue_places(data_dir: Path) -> list[Path]:
    """Folders to try, best first: beside the database, then the user's cache, then the temp folder."""
    return [
        data_dir / "rescue",
        Path(platformdirs.user_cache_dir("companion", appauthor=False)) / "rescue",
        Path(tempfile.gettempdir()) / f"companion-rescue-{os.getuid()}",
    ]


def rescue_prefix(database: Path) -> str:
    """The start of every rescue file name for one database (the cache and temp folders are shared by all
    the user's data folders, so a file must say which database it belongs to)."""
    digest = hashlib.sha256(str(database.resolve()).encode()).hexdigest()[:16]
    return f"pending-{digest}-"


def write_rescue(places: Iterable[Path], name: str, rows: Sequence[Row], key: DataKey | None = None) -> Path:
    """Write `rows` (one JSON array per line; encrypted with `key` if given) as `name` in the first place
    that takes it; returns the file.

    Raises OSError naming every place tried when none does.
    """
    lines = [json.dumps(list(row)) for row in rows]
    problems = []
    for place in places:
        try:
            folder = _private_folder(place)
            return _replace_atomically(folder / name, lines, key)
        except SQL_OR_OS_ERRORS as exc:
            problems.append(f"{place}: {getattr(exc, 'strerror', None) or exc}")
    raise OSError(f"no folder took the rescue file ({'; '.join(problems)})")


def rescued_files(places: Iterable[Path], prefix: str) -> list[Path]:
    """Rescue files left for one database (by any process), oldest first."""
    found = []
    for place in places:
        with contextlib.suppress(OSError):
            found += [path for path in place.glob(f"{prefix}*{SUFFIX}") if path.is_file()]
    return sorted(found, key=lambda path: path.stat().st_mtime)


def read_rescue(path: Path, key: DataKey | None = None) -> list[list[object]]:
    """The rows of a rescue file. Files are renamed into place whole, so a crash cannot leave a line cut
    short: any damage is something else, and is reported (naming file and line), not skipped."""
    rows = []
    for number, line in enumerate(_read_lines(path, key), start=1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} line {number} is not a rescued event: {exc.msg}") from exc
        if not isinstance(row, list):
            raise ValueError(f"{path} line {number} is not a rescued event")
        rows.append(row)
    return rows


def _private_folder(place: Path) -> Path:
    """`place` created 0700; an existing folder must be ours and private (the temp folder is shared). Each
    folder created here is synced into its parent, or a power cut could take the rescue file with it."""
    created = list(itertools.takewhile(lambda folder: not folder.exists(), (place, *place.parents)))
    ensure_private_dir(place)
    for folder in reversed(created):
        sync_folder(folder.parent)
    info = place.stat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(13, "not a folder of this user", str(place))
    if info.st_mode & 0o077:
        place.chmod(0o700)
    return place


def _read_lines(path: Path, key: DataKey | None) -> list[str]:
    if key is None:
        return path.read_text(encoding="utf-8").splitlines()
    try:
        conn = connect(f"file:{path}?mode=ro", key, uri=True)
        try:
            return [line for (line,) in conn.execute("SELECT line FROM rescued ORDER BY rowid")]
        finally:
            conn.close()
    except SQL_ERRORS as exc:
        raise ValueError(f"{path} cannot be read with this data folder's key ({exc})") from exc


def _replace_atomically(path: Path, lines: Sequence[str], key: DataKey | None) -> Path:
    temporary = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(temporary, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "wb") as file:
            if key is None:
                file.write("".join(line + "\n" for line in lines).encode("utf-8"))
        if key is not None:
            _write_encrypted(temporary, lines, key)
        fsync_file(temporary)
        os.replace(temporary, path)
    except SQL_OR_OS_ERRORS:
        temporary.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)
    return path


def _write_encrypted(path: Path, lines: Sequence[str], key: DataKey) -> None:
    """The lines into the empty file `path` as an SQLCipher database; no journal: the whole file is
    renamed into place only once complete."""
    conn = connect(path, key, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE rescued (line TEXT NOT NULL)")
        conn.executemany("INSERT INTO rescued (line) VALUES (?)", [(line,) for line in lines])
        conn.execute("COMMIT")
    finally:
        conn.close()
