"""Attendance: who came, late or leaving early, who cancelled and who did not show, per client and day.

A payer and a supervisor both count it (a plan of care's "seen 10 of 12 scheduled sessions"), and in a group
each member's attendance is their own. An ended session marks its members attended unless something else
was recorded for them that day; late, left early, cancelled (by the client, the therapist or the facility)
and no-show are recorded by hand (`companion attendance`).
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from companion.record.connection import Row
from companion.record.model import Attendance


def attendance_from_row(row: Row) -> Attendance:
    return Attendance(
        row["client_id"],
        date.fromisoformat(row["day"]),
        row["status"],
        row["cancelled_by"],
        row["minutes"],
        row["session_id"],
    )


def attendance_summary(entries: list[Attendance]) -> str:
    """E.g. "10 attended (1 late), 1 cancelled by the client, 1 no-show, of 12 scheduled"."""
    if not entries:
        return "no attendance recorded"
    counts = Counter(e.status for e in entries)
    came = counts["attended"] + counts["late"] + counts["left early"]
    parts = [f"{came} attended"]
    partial = [f"{counts[s]} {s}" for s in ("late", "left early") if counts[s]]
    if partial:
        parts[0] += f" ({', '.join(partial)})"
    by = Counter(e.cancelled_by for e in entries if e.status == "cancelled")
    parts += [f"{n} cancelled by the {who}" for who, n in by.most_common()]
    if counts["no-show"]:
        parts.append(f"{counts['no-show']} no-show")
    return ", ".join(parts) + f", of {len(entries)} scheduled"
