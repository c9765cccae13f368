"""How closely a client's hits follow the beat: sensorimotor-synchronisation measures over a block of beats.

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
The same figures while the client plays come from `audio.live_sync`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

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
