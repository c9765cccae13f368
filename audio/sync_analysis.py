"""How closely a client's hits follow the beat: sensorimotor-synchronisation measures, batch and live.

The figures are the ones tapping research reports (Repp 2005, Repp & Su 2013; BAASTA, Dalla Bella et al.
2017; Tap-It, Kim et al. 2019) so a client's numbers can be read against published norms:

* **Matching rule.** Every beat owns a window that runs from the midpoint with the previous beat to the
  midpoint with the next one (half-open, ``[lo, hi)``); at the ends of a block the neighbouring beat is
  given by the caller or, failing that, the adjacent inter-beat interval is mirrored. Windows tile the
  time line, so each hit belongs to exactly one beat or lies outside the block (ignored: it belongs to the
  block before or after). Within a window the hit nearest the beat is *matched* (a tie goes to the earlier
  hit); the others are *extra*. A beat without a hit is *missed*.
* **Asynchrony** = hit time - beat time, in ms: negative = early (the usual negative mean asynchrony of
  healthy tappers is -20 to -80 ms). SD uses ddof=1.
* **Inter-tap interval (ITI)**: between matched hits of *consecutive* beats only, so a missed beat never
  yields a double-length interval. CV = SD / mean.
* **Circular measures.** A matched hit's phase is ``360 * asynchrony / IOI`` degrees, where IOI is the
  interval on the side of the beat the hit lies on (the window edges are therefore exactly +-180 deg).
  The mean phase is the angle and R the length of the mean resultant vector (1 = perfectly consistent,
  0 = no relation to the beat); the Rayleigh p-value uses Zar (1999, eq. 27.4).
* **On beat**: a matched hit within the tolerance (ms, or a fraction of the local IOI); the percentage is
  of *beats*, so a missed beat counts against it, as in "8 of 10 beats on the beat".
* **Drift**: least-squares slopes over session time of the client's tempo (60 / ITI; bpm per minute,
  positive = speeding up) and of the asynchrony (ms per minute, positive = falling progressively later).

Everything takes plain numbers: beat and hit times in seconds on the engine clock (``time.perf_counter``).
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MIN_POINTS_FOR_SLOPE = 3


@dataclass(frozen=True)
class Tolerance:
    """How far from the beat a hit may land and still count as on the beat.

    Give exactly one of `ms` (a fixed window, e.g. +-50 ms) or `fraction_of_ioi` (scales with tempo,
    e.g. 0.10 = +-10 % of the beat interval on the hit's side of the beat).
    """

    ms: float | None = None
    fraction_of_ioi: float | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.ms, self.fraction_of_ioi) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one tolerance: ms=... or fraction_of_ioi=...")
        if not given[0] > 0 or (self.fraction_of_ioi is not None and self.fraction_of_ioi >= 0.5):
            raise ValueError("tolerance must be > 0 ms, or a fraction of the beat interval in (0, 0.5)")

    def seconds(self, ioi_s: float | FloatArray) -> float | FloatArray:
        """Half-width of the on-beat window for a beat whose interval (on the hit's side) is `ioi_s`."""
        if self.ms is not None:
            return self.ms / 1000.0
        return ioi_s * float(self.fraction_of_ioi or 0.0)

    def describe(self) -> str:
        if self.ms is not None:
            return f"±{self.ms:g} ms"
        return f"±{100 * (self.fraction_of_ioi or 0.0):g}% of the beat interval"


DEFAULT_TOLERANCE = Tolerance(ms=50.0)


@dataclass(frozen=True, eq=False)
class Matching:
    """Hits assigned to beats. Per-beat arrays have one entry per beat; NaN / -1 where the beat was missed."""

    beats: FloatArray
    hits: FloatArray
    hit_index: npt.NDArray[np.int64]
    asynchrony_s: FloatArray
    side_ioi_s: FloatArray
    n_hits: int
    extra: int

    @property
    def matched(self) -> npt.NDArray[np.bool_]:
        return self.hit_index >= 0

    @property
    def phase_rad(self) -> FloatArray:
        """Relative phase of each matched hit; the window edges map to +-pi."""
        return 2.0 * np.pi * self.asynchrony_s / self.side_ioi_s


def _as_sorted(times: Iterable[float] | FloatArray) -> FloatArray:
    array = np.asarray(times if isinstance(times, np.ndarray) else list(times), dtype=np.float64)
    if array.ndim != 1:
        raise ValueError("times must be a flat sequence of seconds")
    if not np.all(np.isfinite(array)):
        raise ValueError("times must be finite numbers of seconds")
    return np.sort(array)


def _window_edges(
    beats: FloatArray, prev_beat: float | None, next_beat: float | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Window edges (n+1) and the IOI before and after each beat, using the neighbours when given."""
    gaps = np.diff(beats)
    if np.any(gaps <= 0):
        raise ValueError("beat times must be strictly increasing")
    before_first = beats[0] - prev_beat if prev_beat is not None else gaps[0]
    after_last = next_beat - beats[-1] if next_beat is not None else gaps[-1]
    if before_first <= 0 or after_last <= 0:
        raise ValueError("the neighbouring beats must lie outside the block")
    ioi_before = np.concatenate(([before_first], gaps))
    ioi_after = np.concatenate((gaps, [after_last]))
    edges = np.concatenate((beats - ioi_before / 2.0, [beats[-1] + after_last / 2.0]))
    return edges, ioi_before, ioi_after


def match_hits(
    beats: Sequence[float] | FloatArray,
    hits: Sequence[float] | FloatArray,
    *,
    prev_beat: float | None = None,
    next_beat: float | None = None,
) -> Matching:
    """Assign hits to beats by the module's matching rule.

    `prev_beat` / `next_beat` are the beats just outside this block (when analysing a block of a longer
    run) so the edge windows match the live ones; without them the adjacent interval is mirrored.
    """
    beat_array = _as_sorted(beats)
    if beat_array.size < 2:
        raise ValueError("need at least 2 beats to define the beat windows")
    hit_array = _as_sorted(hits)
    edges, ioi_before, ioi_after = _window_edges(beat_array, prev_beat, next_beat)
    owner = np.searchsorted(edges, hit_array, side="right") - 1
    inside = (owner >= 0) & (owner < beat_array.size)
    hit_ids = np.flatnonzero(inside)
    owners = owner[inside]
    distance = np.abs(hit_array[inside] - beat_array[owners])
    # Sort by beat, then by distance (stable, so equal distances keep time order): first per beat wins.
    order = np.lexsort((distance, owners))
    first_of_beat = np.unique(owners[order], return_index=True)[1]
    winners = hit_ids[order[first_of_beat]]
    won_beats = owners[order[first_of_beat]]

    hit_index = np.full(beat_array.size, -1, dtype=np.int64)
    hit_index[won_beats] = winners
    asynchrony = np.full(beat_array.size, np.nan)
    asynchrony[won_beats] = hit_array[winners] - beat_array[won_beats]
    side_ioi = np.where(np.nan_to_num(asynchrony) < 0, ioi_before, ioi_after)
    return Matching(
        beats=beat_array,
        hits=hit_array,
        hit_index=hit_index,
        asynchrony_s=asynchrony,
        side_ioi_s=side_ioi,
        n_hits=int(hit_ids.size),
        extra=int(hit_ids.size - winners.size),
    )


@dataclass(frozen=True)
class SyncSummary:
    """The synchronisation figures of one block of beats, ready to log as a sync event (see `as_dict`).

    Figures that need more data than the block has (e.g. an SD from one hit) are None.
    """

    start_s: float
    end_s: float
    n_beats: int
    n_hits: int
    matched: int
    missed: int
    extra: int
    beat_bpm: float
    tolerance: str
    pct_on_beat: float
    mean_asynchrony_ms: float | None
    sd_asynchrony_ms: float | None
    iti_mean_ms: float | None
    iti_cv: float | None
    client_bpm: float | None
    mean_phase_deg: float | None
    resultant_length: float | None
    rayleigh_p: float | None
    tempo_drift_bpm_per_min: float | None
    asynchrony_drift_ms_per_min: float | None

    def as_dict(self) -> dict[str, float | int | str | None]:
        """Plain JSON-serialisable values in a stable key order; floats to 6 decimals (a microsecond on
        times, far below what the measures resolve), so logs read cleanly."""
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(self).items()}


def _slope_per_min(x_s: FloatArray, y: FloatArray) -> float | None:
    """Least-squares slope of y against time, per minute; None with too few points to mean anything."""
    if x_s.size < MIN_POINTS_FOR_SLOPE:
        return None
    dx = x_s - x_s.mean()
    sxx = float(np.dot(dx, dx))
    if sxx == 0.0:
        return None
    return float(np.dot(dx, y - y.mean()) / sxx) * 60.0


def _rayleigh_p(n: int, r: float) -> float:
    """Probability of an R this large from phases with no relation to the beat (Zar 1999, eq. 27.4)."""
    rn = n * r
    p = math.exp(math.sqrt(1.0 + 4.0 * n + 4.0 * (n * n - rn * rn)) - (1.0 + 2.0 * n))
    return min(1.0, max(0.0, p))


def circular_mean(phases_rad: FloatArray) -> tuple[float, float]:
    """Mean phase (degrees) and resultant vector length R of phases in radians (needs at least one)."""
    vector = np.exp(1j * phases_rad).mean()
    return math.degrees(math.atan2(vector.imag, vector.real)), float(abs(vector))


def summarise(matching: Matching, tolerance: Tolerance = DEFAULT_TOLERANCE) -> SyncSummary:
    """Compute the block figures from a matching (see `analyse`)."""
    beats, hits = matching.beats, matching.hits
    matched = matching.matched
    n_matched = int(matched.sum())
    asynchrony = matching.asynchrony_s[matched]
    window = tolerance.seconds(matching.side_ioi_s[matched])
    on_beat = int(np.count_nonzero(np.abs(asynchrony) <= window))

    pairs = matched[:-1] & matched[1:]
    later = np.flatnonzero(pairs) + 1
    iti = hits[matching.hit_index[later]] - hits[matching.hit_index[later - 1]]

    mean_async = sd_async = mean_phase = r = rayleigh = None
    if n_matched:
        mean_async = float(asynchrony.mean()) * 1000.0
        mean_phase, r = circular_mean(matching.phase_rad[matched])
    if n_matched >= 2:
        sd_async = float(asynchrony.std(ddof=1)) * 1000.0
        rayleigh = _rayleigh_p(n_matched, float(r or 0.0))

    iti_mean = iti_cv = client_bpm = None
    if iti.size:
        iti_mean = float(iti.mean()) * 1000.0
        client_bpm = 60000.0 / iti_mean
    if iti.size >= 2:
        iti_cv = float(iti.std(ddof=1) / iti.mean())

    return SyncSummary(
        start_s=float(beats[0]),
        end_s=float(beats[-1]),
        n_beats=int(beats.size),
        n_hits=matching.n_hits,
        matched=n_matched,
        missed=int(beats.size - n_matched),
        extra=matching.extra,
        beat_bpm=60.0 * (beats.size - 1) / float(beats[-1] - beats[0]),
        tolerance=tolerance.describe(),
        pct_on_beat=100.0 * on_beat / beats.size,
        mean_asynchrony_ms=mean_async,
        sd_asynchrony_ms=sd_async,
        iti_mean_ms=iti_mean,
        iti_cv=iti_cv,
        client_bpm=client_bpm,
        mean_phase_deg=mean_phase,
        resultant_length=r,
        rayleigh_p=rayleigh,
        tempo_drift_bpm_per_min=_slope_per_min(beats[later], 60.0 / iti),
        asynchrony_drift_ms_per_min=_slope_per_min(beats[matched], asynchrony * 1000.0),
    )


def analyse(
    beats: Sequence[float] | FloatArray,
    hits: Sequence[float] | FloatArray,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    *,
    prev_beat: float | None = None,
    next_beat: float | None = None,
) -> SyncSummary:
    """Match `hits` to `beats` (seconds, engine clock) and compute the block's synchronisation figures."""
    return summarise(match_hits(beats, hits, prev_beat=prev_beat, next_beat=next_beat), tolerance)


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
