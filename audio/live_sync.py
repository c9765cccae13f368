"""Synchronisation analysis while the client plays: feedback per hit now, a block summary every few beats.

The measures and the matching rule are those of `audio.sync_analysis`; here they are applied as the hits
arrive (from the MIDI input thread) and as beat windows close, so the session screen can answer at once
and the adaptive-tempo policy (`audio.cadence`) gets each beat's outcome.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from audio.sync_analysis import DEFAULT_TOLERANCE, SyncSummary, Tolerance, analyse


@dataclass(frozen=True)
class HitFeedback:
    """What the session screen shows for one hit, the moment it arrives."""

    time_s: float
    beat_index: int | None
    """Running beat number (0 = first beat given to `LiveSync`); None outside every open beat window."""
    asynchrony_ms: float | None
    """To the hit's beat: negative = early."""
    on_beat: bool
    extra: bool
    """The beat already has a hit nearer to it, so this one does not count."""
    pct_on_beat: float
    """Beats on the beat so far in the current block, as a % of the beats so far."""


@dataclass(frozen=True)
class BeatOutcome:
    """One beat once its window has closed: the per-beat input of the adaptive-tempo policy."""

    index: int
    time_s: float
    ioi_s: float
    """Interval to the next beat (the tempo in force at this beat)."""
    asynchrony_ms: float | None
    phase_deg: float | None
    iti_ms: float | None
    """Interval from the previous beat's matched hit to this beat's, when both beats were hit."""
    on_beat: bool


@dataclass(frozen=True)
class Closed:
    """What `LiveSync.close_until` finalised: every closed beat, and a summary per completed block."""

    beats: tuple[BeatOutcome, ...] = ()
    blocks: tuple[SyncSummary, ...] = ()


class LiveSync:
    """Streaming synchronisation analysis: per-hit feedback now, a block summary every `block_beats` beats.

    Feed it the beat times ahead of time (`add_beats`; the engine knows its schedule), each hit as it
    arrives (`add_hit`, called from the MIDI input thread: a bisect and a few comparisons, no numpy), and
    the clock now and then (`close_until`) to finalise beats whose window has passed. Block summaries are
    computed by `analyse` on exactly the block's beats with their real neighbours, so the live and the
    batch figures are identical. Thread-safe.

    `grace_s` keeps a beat open that long after its window ends, so a hit delivered late by the MIDI
    stack still counts; a hit whose beat is already closed is reported with `beat_index` None.

    Beats announced ahead are a forecast: a tempo change (the therapist's, or adaptive tempo's) moves every
    beat not yet played. `set_beats` replaces the forecast from a beat on; open beats that moved are
    matched again from the hits kept for the open block, so feedback, outcomes and summaries always refer
    to the beats that actually sounded. Closed beats never change.
    """

    def __init__(
        self, block_beats: int = 16, tolerance: Tolerance = DEFAULT_TOLERANCE, grace_s: float = 0.1
    ) -> None:
        if block_beats < 2:
            raise ValueError("a block needs at least 2 beats")
        self.block_beats = block_beats
        self.tolerance = tolerance
        self.grace_s = grace_s
        self._lock = threading.Lock()
        self._beats: list[float] = []
        self._best: list[float | None] = []  # matched hit time per beat
        self._on: list[bool] = []  # whether that hit is on the beat
        self._base = 0  # running index of self._beats[0]
        self._next_to_close = 0
        self._block_start = 0
        self._hits: list[float] = []

    def add_beats(self, times: Iterable[float]) -> None:
        """Announce beat times (seconds, engine clock). Times at or before the last known beat are ignored,
        so a caller may re-send an overlapping schedule."""
        with self._lock:
            known = len(self._beats)
            for t in times:
                if not math.isfinite(t):
                    raise ValueError("beat times must be finite seconds")
                if not self._beats or t > self._beats[-1]:
                    self._append_beat(float(t))
            if len(self._beats) > known:
                self._rematch(known - 1)  # the old last beat's window just narrowed

    def set_beats(self, first_index: int, times: Sequence[float]) -> None:
        """The schedule from running beat `first_index` on, as the engine now knows it.

        Open beats whose time changed are replaced and the beats after the given ones dropped (the list is
        the whole schedule from `first_index`, up to however far ahead the caller looks); new beats are
        appended. Entries for beats already closed are ignored. `first_index` may not leave a gap after
        the known beats, and the times must increase.
        """
        values = [float(t) for t in times]
        if not all(math.isfinite(t) for t in values):
            raise ValueError("beat times must be finite seconds")
        if any(b <= a for a, b in pairwise(values)):
            raise ValueError("beat times must be strictly increasing")
        with self._lock:
            start = first_index - self._base
            if start > len(self._beats):
                raise ValueError(
                    f"beat {first_index} leaves a gap after the known beats (up to "
                    f"{self._base + len(self._beats) - 1})"
                )
            skip = max(0, self._next_to_close - self._base - start)
            start, values = start + skip, values[skip:]
            if not values:
                return
            if start > 0 and values[0] <= self._beats[start - 1]:
                raise ValueError("a revised beat may not come before the closed beat preceding it")
            known = self._beats[start:]
            same = 0
            while same < min(len(known), len(values)) and known[same] == values[same]:
                same += 1
            if same == len(known) == len(values):
                return
            changed = start + same
            del self._beats[changed:], self._best[changed:], self._on[changed:]
            for t in values[same:]:
                self._append_beat(t)
            self._rematch(changed - 1)

    def add_hit(self, time_s: float) -> HitFeedback:
        """Match one hit to its beat and say how it went."""
        with self._lock:
            local = self._window_of(time_s)
            if local is None and self._after_known_windows(time_s):
                self._hits.append(time_s)  # its beat is not announced yet: matched when it is
            if local is None or local + self._base < self._next_to_close:
                return HitFeedback(time_s, None, None, False, False, self._pct_on_beat(None))
            beat = self._beats[local]
            asynchrony = time_s - beat
            best = self._best[local]
            extra = best is not None and abs(best - beat) <= abs(asynchrony)
            if not extra:
                self._best[local] = time_s
                self._on[local] = self._is_on_beat(local, asynchrony)
            self._hits.append(time_s)
            return HitFeedback(
                time_s=time_s,
                beat_index=local + self._base,
                asynchrony_ms=asynchrony * 1000.0,
                on_beat=not extra and self._on[local],
                extra=extra,
                pct_on_beat=self._pct_on_beat(local),
            )

    def close_until(self, now_s: float) -> Closed:
        """Finalise every beat whose window (plus the grace time) ended by `now_s`."""
        outcomes: list[BeatOutcome] = []
        blocks: list[SyncSummary] = []
        with self._lock:
            while self._next_to_close - self._base < len(self._beats):
                local = self._next_to_close - self._base
                upper = self._upper_edge(local)
                if upper is None or upper + self.grace_s > now_s:
                    break
                outcomes.append(self._outcome(local))
                self._next_to_close += 1
                if self._next_to_close - self._block_start == self.block_beats:
                    blocks.append(self._close_block(self._next_to_close - 1))
        return Closed(tuple(outcomes), tuple(blocks))

    def finish(self, end_s: float) -> SyncSummary | None:
        """Summarise the unfinished block up to `end_s` (the run stopped); None if under 2 beats."""
        with self._lock:
            last = bisect_right(self._beats, end_s) - 1 + self._base
            if last - self._block_start + 1 < 2:
                return None
            summary = self._close_block(last)
            self._next_to_close = max(self._next_to_close, last + 1)
            return summary

    # -- internals (called with the lock held) ------------------------------------------------------------

    def _append_beat(self, t: float) -> None:
        self._beats.append(t)
        self._best.append(None)
        self._on.append(False)

    def _after_known_windows(self, t: float) -> bool:
        """Whether `t` lies after every announced beat's window (or no window exists yet)."""
        if not self._beats:
            return True
        upper = self._upper_edge(len(self._beats) - 1)
        return upper is None or t >= upper

    def _rematch(self, from_local: int) -> None:
        """Match the kept hits again to the open beats from `from_local` on (their windows changed)."""
        first = max(from_local, self._next_to_close - self._base, 0)
        if first >= len(self._beats):
            return
        for index in range(first, len(self._beats)):
            self._best[index] = None
            self._on[index] = False
        for t in sorted(self._hits):  # in time order, so a tie goes to the earlier hit, as in `analyse`
            local = self._window_of(t)
            if local is None or local < first:
                continue
            asynchrony = t - self._beats[local]
            best = self._best[local]
            if best is None or abs(asynchrony) < abs(best - self._beats[local]):
                self._best[local] = t
                self._on[local] = self._is_on_beat(local, asynchrony)

    def _lower_edge(self, local: int) -> float | None:
        beats = self._beats
        if local > 0:
            return (beats[local - 1] + beats[local]) / 2.0
        if len(beats) > 1:
            return beats[0] - (beats[1] - beats[0]) / 2.0
        return None

    def _upper_edge(self, local: int) -> float | None:
        beats = self._beats
        if local + 1 < len(beats):
            return (beats[local] + beats[local + 1]) / 2.0
        if local > 0:
            return beats[local] + (beats[local] - beats[local - 1]) / 2.0
        return None

    def _window_of(self, t: float) -> int | None:
        beats = self._beats
        after = bisect_right(beats, t)
        if 0 < after < len(beats):
            return after - 1 if t < (beats[after - 1] + beats[after]) / 2.0 else after
        edge = self._lower_edge(0) if after == 0 else self._upper_edge(len(beats) - 1)
        if edge is None:
            return None
        if after == 0:
            return 0 if t >= edge else None
        return len(beats) - 1 if t < edge else None

    def _side_ioi(self, local: int, asynchrony: float) -> float:
        beats = self._beats
        lower = self._lower_edge(local)
        upper = self._upper_edge(local)
        assert lower is not None and upper is not None  # a matched beat always has both edges
        half = beats[local] - lower if asynchrony < 0 else upper - beats[local]
        return 2.0 * half

    def _is_on_beat(self, local: int, asynchrony: float) -> bool:
        return bool(abs(asynchrony) <= self.tolerance.seconds(self._side_ioi(local, asynchrony)))

    def _pct_on_beat(self, local: int | None) -> float:
        """% on the beat in the block `local` falls in (the open block when None), up to that beat."""
        if local is None:
            local = self._next_to_close - self._base - 1
        open_block = self._block_start - self._base
        start = open_block + max(0, (local - open_block) // self.block_beats) * self.block_beats
        stop = local + 1
        if stop <= start:
            return 0.0
        return 100.0 * sum(self._on[start:stop]) / (stop - start)

    def _outcome(self, local: int) -> BeatOutcome:
        beats = self._beats
        beat = beats[local]
        best = self._best[local]
        asynchrony = phase = iti = None
        if best is not None:
            asynchrony = (best - beat) * 1000.0
            phase = 360.0 * (best - beat) / self._side_ioi(local, best - beat)
            previous = self._best[local - 1] if local > 0 else None
            iti = (best - previous) * 1000.0 if previous is not None else None
        return BeatOutcome(
            index=local + self._base,
            time_s=beat,
            ioi_s=beats[local + 1] - beat if local + 1 < len(beats) else beat - beats[local - 1],
            asynchrony_ms=asynchrony,
            phase_deg=phase,
            iti_ms=iti,
            on_beat=self._on[local],
        )

    def _close_block(self, last: int) -> SyncSummary:
        """Summarise beats block_start..last (running indices), then forget what no later block needs."""
        first_local, last_local = self._block_start - self._base, last - self._base
        beats = self._beats
        upper = self._upper_edge(last_local)
        summary = analyse(
            beats[first_local : last_local + 1],
            self._hits,
            self.tolerance,
            prev_beat=beats[first_local - 1] if first_local > 0 else None,
            next_beat=beats[last_local + 1] if last_local + 1 < len(beats) else None,
        )
        self._hits = [h for h in self._hits if upper is not None and h >= upper]
        keep_from = last_local  # the last beat stays: it is the next block's `prev_beat`
        del self._beats[:keep_from]
        del self._best[:keep_from]
        del self._on[:keep_from]
        self._base += keep_from
        self._block_start = last + 1
        return summary
