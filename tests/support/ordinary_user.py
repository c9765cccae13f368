"""Work done as an ordinary user, whom file modes bind: the tests of read-only folders need it, and root
(as in CI) ignores file modes."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

NOBODY = 65534


def as_an_ordinary_user(work: Callable[[Path], str]) -> str:
    """`work(folder)` in a fresh folder of an ordinary user; returns its result. Root ignores file modes, so
    as root (CI) it runs in a forked child that became `nobody`, in a folder that user owns."""
    folder = Path(tempfile.mkdtemp(prefix="companion-ro-"))
    try:
        if os.geteuid() != 0:
            return work(folder)
        os.chown(folder, NOBODY, NOBODY)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: drop to nobody, do the work, report, and leave without cleanup
            os.close(read)
            try:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                result = work(folder)
            except BaseException as failure:  # reported to the parent, whose assertion then fails
                result = f"failed in the child: {failure!r}"
            os.write(write, result.encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            result = pipe.read().decode()
        os.waitpid(pid, 0)
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)
