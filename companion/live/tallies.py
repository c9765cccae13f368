"""The running figures of a session, one line per objective (and the client's untargeted data), as the
objective bar and the tally list show them while the session runs."""

from __future__ import annotations

from dataclasses import dataclass

from companion.documents.wording import duration_figure, measure_figure, num, pct, seconds
from companion.live.session_drafts import TAP_KINDS
from companion.record import GroupSummary, Objective

TALLIED = TAP_KINDS | {"cadence", "sync"}
"""Events that count towards an objective's running figures (not tempo markers or plan switches)."""


@dataclass(frozen=True)
class Tally:
    """The running figures of one objective (or a client's untargeted data) in this session."""

    client_id: int
    objective: Objective | None
    number: int
    summary: GroupSummary | None
    running: tuple[str, ...] = ()  # duration labels being timed now
    observing: bool = False  # an observation window is open on this objective

    @property
    def label(self) -> str:
        if self.objective is None:
            return "General"
        return f"{self.number}. {self.objective.description}"

    def headline(self) -> str:
        """E.g. "7/9 correct · 78% independent · turn initiation 4 · on task 2 min 5 s (timing)"."""
        summary = self.summary
        if summary is None:
            return "no data yet"
        parts = []
        if summary.trials is not None:
            trials = summary.trials
            parts.append(f"{trials.correct}/{trials.n} correct · {pct(trials.pct_independent)} independent")
            parts += [
                f"{n} {what}" for n, what in ((trials.no_response, "NR"), (trials.refused, "refused")) if n
            ]
        if summary.observed_minutes is not None:
            watching = " (observing)" if self.observing else ""
            parts.append(f"observed {seconds(summary.observed_minutes * 60)}{watching}")
        parts += [
            f"{label} {count.total}" + (f" ({count.per_minute:.1f}/min)" if count.observed else "")
            for label, count in summary.counts.items()
        ]
        for label, duration in summary.durations.items():
            timing = " (timing)" if label in self.running else ""
            parts.append(f"{label} {duration_figure(duration, summary.criterion)}{timing}")
        if summary.latency is not None:
            parts.append(f"latency {num(summary.latency.mean)} s (n={summary.latency.n})")
        for rating in summary.ratings.values():
            latest = rating.after if rating.after is not None else (rating.during or (rating.before,))[-1]
            if latest is not None:
                parts.append(f"{rating.label} {num(latest)}")
        parts += [f"{m.label} {measure_figure(m, summary.criterion)}" for m in summary.measures.values()]
        parts += [f"{s.label} {s.pct:.0f}% of {s.intervals} samples" for s in summary.samples.values()]
        if summary.cadence is not None:
            parts.append(f"cadence {num(summary.cadence.last)} steps/min (n={summary.cadence.measurements})")
        if summary.walks is not None:
            parts.append(f"walk {summary.walks.velocity:.2f} m/s (n={summary.walks.n})")
        if summary.sync is not None:
            parts.append(f"in sync {pct(summary.sync.pct_within)} of {summary.sync.beats} beats")
        return " · ".join(parts) or "no data yet"
