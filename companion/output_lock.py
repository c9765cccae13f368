"""Who owns the audio and MIDI outputs: one live session at a time, across terminals and browser tabs.

Two sessions playing the same speaker or MIDI keyboard would put two metronomes on the client's ears, so
the session that opens the outputs takes an OS-level advisory lock on `<data dir>/outputs.lock`. The OS
releases it when that process ends however it ends (quit, crash, `kill -9`, a closed browser tab whose app
process is stopped), so a stale owner can never block the outputs. A session that does not get the lock
can still log taps into the shared record; it asks `OutputLock.holder_of` whom to name in its message.
In the app, `companion.live.metronome_control` takes the lock before opening any output and gives it up
at session end or app exit.

The lock file also carries a description of the holder (pid, start time, where from) as JSON. It is only
trusted while the lock is actually held: a leftover description from a dead process means "free".
`companion serve` tells each browser tab's app process where it is served to via `ORIGIN_ENV`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

LOCK_NAME = "outputs.lock"
ORIGIN_ENV = "COMPANION_ORIGIN"
"""Set by `companion serve` for each app process, e.g. "a browser tab on 192.168.1.20"."""

_ATTEMPTS = 4
_RETRY_SECONDS = 0.01
"""Another process may hold the lock for a moment while it only looks at the holder (`holder_of`), or be
between taking the lock and writing its description; a few short retries ride over both."""

if sys.platform == "win32":
    import msvcrt

    _WINDOWS_LOCK_OFFSET = 1 << 20
    """Windows locks are mandatory: lock one byte far past the description so readers can still read it."""

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class OutputLockError(OSError):
    """The lock file cannot be opened at all (unwritable or missing data folder); the message says why."""


@dataclass(frozen=True)
class Holder:
    """The session that owns the outputs, as it described itself when it took the lock.

    Fields are None when the description could not be read (the holder is alive but wrote nothing
    readable), so the message degrades to "another Companion session" instead of failing.
    """

    pid: int | None
    started: datetime | None
    origin: str | None

    @classmethod
    def of_this_process(cls, origin: str | None = None) -> Holder:
        return cls(pid=os.getpid(), started=datetime.now().astimezone(), origin=origin or default_origin())

    def to_json(self) -> str:
        return json.dumps(
            {
                "pid": self.pid,
                "started": self.started.isoformat() if self.started else None,
                "origin": self.origin,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        """Parse a description; None if it is empty or half-written."""
        try:
            data = json.loads(text)
            started = datetime.fromisoformat(data["started"]) if data.get("started") else None
            pid = data.get("pid")
            origin = data.get("origin")
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        return cls(
            pid=pid if isinstance(pid, int) else None,
            started=started,
            origin=origin if isinstance(origin, str) else None,
        )

    def describe(self, now: datetime | None = None) -> str:
        """The sentence a second tab or terminal shows, e.g. "audio/MIDI are in use by the session started
        at 10:02 in a browser tab on 192.168.1.20 (pid 4242); here you can log taps but not play."""
        when = ""
        if self.started is not None:
            local = self.started.astimezone()
            today = (now or datetime.now().astimezone()).date()
            when = f" started at {local:%H:%M}" if local.date() == today else f" started {local:%d %b %H:%M}"
        where = f" in {self.origin}" if self.origin else " in another Companion window"
        pid = f" (pid {self.pid})" if self.pid is not None else ""
        return (
            f"audio/MIDI are in use by the session{when}{where}{pid}; here you can log taps but not play. "
            "Stop or close that session to play from here."
        )


def default_origin() -> str:
    """Where this process runs, in words: what `companion serve` said, else a browser tab or a terminal."""
    if origin := os.environ.get(ORIGIN_ENV):
        return origin
    if "web_driver" in os.environ.get("TEXTUAL_DRIVER", ""):
        return "a browser tab"
    return "a terminal"


class OutputLock:
    """Ownership of the audio/MIDI outputs for as long as this object is held (or the process lives)."""

    def __init__(self, fd: int, path: Path, holder: Holder) -> None:
        self._fd: int | None = fd
        self.path = path
        self.holder = holder

    @classmethod
    def acquire(cls, data_dir: Path, origin: str | None = None) -> OutputLock | None:
        """Take the outputs for this process, or return None if another live session owns them.

        `origin` says where this session runs (default: `default_origin()`). Raises `OutputLockError`
        when the lock file cannot be opened, naming the file and the fix.
        """
        path = Path(data_dir) / LOCK_NAME
        fd = _open(path, os.O_RDWR | os.O_CREAT)
        for attempt in range(_ATTEMPTS):
            if _try_lock(fd):
                break
            if attempt + 1 < _ATTEMPTS:
                time.sleep(_RETRY_SECONDS)
        else:
            os.close(fd)
            return None
        holder = Holder.of_this_process(origin)
        if sys.platform != "win32":
            os.fchmod(fd, 0o600)
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.to_json().encode("utf-8"), 0)
        return cls(fd, path, holder)

    @staticmethod
    def holder_of(data_dir: Path) -> Holder | None:
        """Who owns the outputs now, or None if nobody does (a leftover description is ignored)."""
        path = Path(data_dir) / LOCK_NAME
        try:
            fd = _open(path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            if _try_lock(fd):
                _unlock(fd)
                return None
            for _ in range(_ATTEMPTS):
                holder = Holder.from_json(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
                if holder is not None:
                    return holder
                time.sleep(_RETRY_SECONDS)
            return Holder(pid=None, started=None, origin=None)
        finally:
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Give the outputs up (idempotent). The description is cleared so nobody reads a stale one."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _open(path: Path, flags: int) -> int:
    try:
        return os.open(path, flags, 0o600)
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise
        raise OutputLockError(_cannot_open(path, "the data folder does not exist")) from None
    except OSError as exc:
        raise OutputLockError(_cannot_open(path, exc.strerror)) from exc


def _cannot_open(path: Path, why: str | None) -> str:
    return (
        f"cannot open the audio/MIDI ownership lock {path}: {why}. "
        f"Make sure the data folder {path.parent} exists and is writable by you, "
        "or choose another one with --data-dir."
    )
