"""Where Companion keeps its files, and making sure they stay private.

Client data is health information, so every directory Companion creates is 0700 and every data file 0600,
whatever the user's umask says. The data directory is resolved in one place so the CLI, the app and the
intervention library all agree on it: explicit override (`--data-dir`), then `COMPANION_DATA_DIR`, then the
platform's per-user data directory.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import platformdirs

ENV_VAR = "COMPANION_DATA_DIR"
DATABASE_NAME = "companion.db"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def data_dir(override: Path | None = None) -> Path:
    """The data directory to use, created private (0700) if it does not exist yet."""
    if override is not None:
        chosen = Path(override)
    elif os.environ.get(ENV_VAR):
        chosen = Path(os.environ[ENV_VAR])
    else:
        chosen = Path(platformdirs.user_data_dir("companion", appauthor=False))
    return tighten_data_dir(ensure_private_dir(chosen.expanduser()))


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700; a directory we create never inherits a lax umask."""
    if not path.is_dir():
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        path.chmod(PRIVATE_DIR_MODE)
    return path


def tighten_data_dir(path: Path) -> Path:
    """An existing data folder holding a record (made by an older version, or by hand) is made 0700 too.
    Only a folder of ours, with our record in it: `--data-dir ~` must not lock up a home folder."""
    with contextlib.suppress(OSError):
        info = path.stat()
        if info.st_mode & 0o077 and info.st_uid == os.getuid() and database_path(path).exists():
            path.chmod(info.st_mode & 0o700)  # only take from group and others: a read-only folder stays so
    return path


def ensure_private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 if missing, so no other user can ever read it, even briefly."""
    if not path.exists():
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE)
        except FileExistsError:  # another process created it meanwhile: it is just as private
            return path
        os.close(fd)
    return path


def database_path(directory: Path) -> Path:
    """The session record database inside a data directory."""
    return directory / DATABASE_NAME


def backups_dir(directory: Path) -> Path:
    """Rolling backups of the database (created private on first use)."""
    return directory / "backups"


def plans_dir(directory: Path) -> Path:
    """The therapist's own intervention plans, read by the intervention library."""
    return ensure_private_dir(directory / "plans")


def exports_dir(directory: Path) -> Path:
    """Default destination for exports and reports when the user names no file."""
    return ensure_private_dir(directory / "exports")
