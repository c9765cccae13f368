"""The one thread that writes a live session to disk, so a locked or slow disk never freezes the screen
and taps keep their order."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class TapWriter:
    """One thread that runs the session's disk work in the order it was asked for.

    `submit(work, done)` returns at once; `done(result, error)` is called on the writer thread when the
    work finished (the app posts a message from there, which is thread-safe).
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="companion-taps")

    def submit(
        self, work: Callable[[], T], done: Callable[[T | None, BaseException | None], object]
    ) -> Future[T]:
        def run() -> T:
            try:
                result = work()
            except BaseException as exc:  # reported to the screen, never swallowed
                done(None, exc)
                raise
            done(result, None)
            return result

        return self._pool.submit(run)

    def drain(self, timeout: float | None = None) -> None:
        """Wait until everything submitted so far has run (tests, ending a session, quitting)."""
        self._pool.submit(lambda: None).result(timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
