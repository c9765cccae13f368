"""Where listening results go in the session record, and what became of them.

A block's figures become a `Sync` event (`sync_payload`) only when at least two beats were hit: with
fewer there is no SD and no R. They are logged through an `EventSink`: `LogTarget` writes to the record
directly (`companion listen`), the app passes one that goes through its session's writer thread. Durable
before reported: a `BlockReport` says saved only once the event is on disk; if the disk refuses, the
record keeps the event pending and retries it, and the report's note says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from audio.sync_analysis import SyncSummary
from companion.record import Event, EventDraft, Payload, Record, Sync

MIN_HITS_TO_LOG = 2
"""A block needs two beats hit for an SD and a meaningful R."""


class EventSink(Protocol):
    """Where listening results are logged: `LogTarget` writes to the record directly; the app's session
    screen passes one that goes through its writer thread, so blocks appear in the live log like taps."""

    def log(self, payload: Payload) -> Event:
        """Log one event, durable on return; StorageError when it is only pending."""
        ...


@dataclass(frozen=True)
class LogTarget:
    """Where listening results go in the record: a session, and the client/objective/plan they are about."""

    record: Record
    session_id: int
    client_id: int | None = None
    objective_id: int | None = None
    plan_id: str | None = None

    def log(self, payload: Payload) -> Event:
        """Log one event (durable on return; StorageError leaves it pending in the record)."""
        draft = EventDraft(
            payload, client_id=self.client_id, objective_id=self.objective_id, plan_id=self.plan_id
        )
        return self.record.events.log(self.session_id, draft)


@dataclass(frozen=True)
class BlockReport:
    """One block's figures, and what became of them in the record."""

    number: int
    """1, 2, ... over the whole SyncSession."""
    summary: SyncSummary
    final: bool
    """The unfinished block of a run that stopped."""
    event: Event | None
    """The logged Sync event, durable; None when it was not logged or is still pending."""
    note: str = ""
    """Why it is not saved yet (pending retry, not logged and why); "" when saved."""

    @property
    def saved(self) -> bool:
        return self.event is not None

    def describe(self) -> str:
        """One line for a log or a notification, e.g. "block 2 (16 beats at 90.0 bpm): 14/16 on the
        beat (87.5%), mean -21.3 ms, SD 12.0 ms, R 0.98, 1 missed, 0 extra: saved"."""
        s = self.summary
        on_beat = round(s.pct_on_beat * s.n_beats / 100)
        figures = [f"{on_beat}/{s.n_beats} on the beat ({s.pct_on_beat:.1f}%)"]
        if s.mean_asynchrony_ms is not None:
            figures.append(f"mean {s.mean_asynchrony_ms:+.1f} ms")
        if s.sd_asynchrony_ms is not None and s.resultant_length is not None:
            figures.append(f"SD {s.sd_asynchrony_ms:.1f} ms, R {s.resultant_length:.2f}")
        figures.append(f"{s.missed} missed, {s.extra} extra")
        kind = "last block" if self.final else "block"
        return (
            f"{kind} {self.number} ({s.n_beats} beats at {s.beat_bpm:.1f} bpm): {', '.join(figures)}: "
            f"{'saved' if self.saved else self.note}"
        )


def sync_payload(summary: SyncSummary) -> Sync:
    """The record's Sync event for a block with at least two beats hit (every figure defined)."""
    mean, sd, r = summary.mean_asynchrony_ms, summary.sd_asynchrony_ms, summary.resultant_length
    if mean is None or sd is None or r is None:
        raise ValueError(f"a block needs {MIN_HITS_TO_LOG} beats hit to be logged ({summary.matched} were)")
    return Sync(
        mean_asynchrony_ms=mean,
        sd_ms=sd,
        r=min(1.0, r),
        pct_within=summary.pct_on_beat,
        n_hits=summary.n_hits,
        missed=summary.missed,
        extra=summary.extra,
        tempo_bpm=summary.beat_bpm,
        extra_fields=summary.as_dict(),
    )
