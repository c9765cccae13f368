"""The one error type outputs raise: its message always names the cause and the fix.

Why one type: the engine, the CLI and the app catch it, show the message as is and carry on with what
still works, so every message must be readable by a therapist, not just a developer.
"""

from __future__ import annotations


class OutputError(RuntimeError):
    """An audio or MIDI output cannot be used; `str(err)` says why and what to do about it."""

    def __init__(self, cause: str, fix: str) -> None:
        super().__init__(f"{cause}: {fix}")
        self.cause = cause
        self.fix = fix

    def __reduce__(self) -> tuple[type[OutputError], tuple[str, str]]:
        """Pickled by its two parts, so it travels from the engine process as itself."""
        return type(self), (self.cause, self.fix)
