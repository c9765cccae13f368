"""What the session screen says about a record on a PostgreSQL server: entries safe on this computer that
the server has not taken yet (`companion.record.server_sync`)."""

from __future__ import annotations

from companion.record import Record


def waiting_for_server(record: Record) -> str:
    """The line for the bar above the log; empty when nothing waits (or the record is a file)."""
    sync = record.events.sync
    if sync is None or not sync.waiting:
        return ""
    why = f" ({sync.problem})" if sync.problem else ""
    return (
        f"⇅ {sync.waiting} entries saved on this computer, waiting for the practice's server: they are "
        f"sent in order as soon as it answers{why}"
    )
