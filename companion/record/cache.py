"""What the record's parts remember between calls, in one object they are all handed.

Why a shared cache at all: `log` runs at every tap and must not re-read the session, the objective's owner
or its prompt hierarchy each time. Why one explicit object: the parts that change these facts (a session
ending, a hierarchy edited) and the event log that relies on them must agree on what is stale, and they do
so through this object rather than through each other's private attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from companion.record.model import Session

HierarchyKey = tuple[int | None, int | None]
"""(client id, objective id): whose prompt levels a trial is checked against."""


@dataclass
class RecordCache:
    """Facts read once and kept for the record's lifetime, each with who invalidates it."""

    anchors: dict[int, float] = field(default_factory=dict)
    """Monotonic clock reading at each session's start (set by `start_session`), for events' offsets."""
    current_plan: dict[int, str | None] = field(default_factory=dict)
    """The intervention in force per session (updated as `Intervention` events are logged)."""
    sessions: dict[int, Session] = field(default_factory=dict)
    """Sessions as last read; a part that changes a session drops it here."""
    hierarchies: dict[HierarchyKey, tuple[str, ...]] = field(default_factory=dict)
    """Prompt levels trials are validated against; cleared whenever a hierarchy may have changed."""
    objective_owners: dict[int, int] = field(default_factory=dict)
    """The client each objective belongs to (it never changes: identity fields are not editable)."""
