"""Problems found in plan files, phrased for the therapist who has to fix them.

A broken plan must never stop the rest of the library from loading, so problems are values (`PlanError`)
collected by the loader rather than exceptions. Validators raise `SchemaProblem` so that the fix they know
about travels with the message through pydantic to the loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class SchemaProblem(ValueError):
    """A value that is well-typed but wrong for a plan; carries the fix alongside the message.

    `field` names a key below the one being validated when a check on a whole table knows which of its
    keys is at fault (e.g. `max_bpm` inside `[tempo.ramp]`), so the error can point at that line.
    """

    def __init__(self, message: str, fix: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.field = field


@dataclass(frozen=True)
class PlanError:
    """One problem in one plan file: where it is (file, line, field), what is wrong and how to fix it."""

    path: Path
    line: int | None
    field: str | None
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        parts = [where, self.field, self.message] if self.field else [where, self.message]
        text = ": ".join(parts)
        return f"{text} — {self.fix}" if self.fix else text
