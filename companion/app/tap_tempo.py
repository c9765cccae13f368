"""Tap tempo: the therapist taps each step (or beat); after a pause the taps become a cadence.

The measurement itself is `audio.cadence.cadence`, which shrugs off a missed tap or a bounced double tap
(a hand also steadying a client is not a metronome). A series ends when the taps stop for `pause_s`;
the session screen then sets the metronome to the cadence and logs it as the client's baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

from audio.cadence import MIN_TAPS, Cadence, CadenceError, cadence

PAUSE_S = 2.5
"""Taps further apart than this start a new series (no one walks at 24 steps a minute)."""


@dataclass(frozen=True)
class TapReading:
    taps: int
    cadence: Cadence | None
    problem: str = ""

    def describe(self) -> str:
        if self.cadence is not None:
            found = self.cadence
            return f"tap: {self.taps} taps · {found.steps_per_min:.1f}/min (CV {found.cv * 100:.0f}%)"
        return f"tap: {self.taps} taps" + (
            f" · {self.problem}" if self.problem else f" (at least {MIN_TAPS})"
        )


class TapSeries:
    """The taps of the current series, on one clock (seconds, e.g. `time.perf_counter()`)."""

    def __init__(self, pause_s: float = PAUSE_S) -> None:
        self.pause_s = pause_s
        self._taps: list[float] = []

    def tap(self, at: float) -> TapReading:
        if self._taps and at - self._taps[-1] > self.pause_s:
            self._taps = []
        self._taps.append(at)
        return self.reading()

    def reading(self) -> TapReading:
        if len(self._taps) < MIN_TAPS:
            return TapReading(len(self._taps), None)
        try:
            return TapReading(len(self._taps), cadence(self._taps))
        except CadenceError as problem:
            return TapReading(len(self._taps), None, str(problem))

    def finish(self) -> TapReading:
        """End the series: its reading (cadence or the reason there is none); the next tap starts anew."""
        reading = self.reading()
        self._taps = []
        return reading

    @property
    def active(self) -> bool:
        return bool(self._taps)
