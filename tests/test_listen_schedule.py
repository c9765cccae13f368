"""LiveSync follows a schedule that changes while it listens: a tempo change moves every beat not yet played.

The listener announces beats ahead from the engine's forecast; when the tempo changes (the therapist, or
adaptive tempo) the forecast is revised and the hits already heard must be matched to the beats that
actually sound. The figures must then equal a batch analysis of the final beats.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audio.live_sync import LiveSync
from audio.sync_analysis import Tolerance, analyse

LOOKAHEAD_S = 0.12
"""The engine commits beats this far ahead: a change applies to beats later than that."""


def schedule(start: float, ioi_before: float, ioi_after: float, change: int, n: int) -> np.ndarray:
    """n beats; the interval after beat `change` (and every later one) is `ioi_after`."""
    intervals = [ioi_before] * change + [ioi_after] * (n - 1 - change)
    return start + np.concatenate(([0.0], np.cumsum(intervals)))


@st.composite
def tempo_changes(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, float, list[float]]:
    """(forecast, actual beats, changed beat, revision time, hits around the actual beats)."""
    n = draw(st.integers(6, 40))
    change = draw(st.integers(1, n - 3))
    before, after = 60 / draw(st.floats(40, 200)), 60 / draw(st.floats(40, 200))
    forecast = schedule(100.0, before, before, change, n)
    actual = schedule(100.0, before, after, change, n)
    revised_at = actual[change] - LOOKAHEAD_S - draw(st.floats(0, 2))
    hits = []
    for k, beat in enumerate(actual):
        ioi = actual[min(k + 1, n - 1)] - actual[max(k - 1, 0)]
        for _ in range(draw(st.integers(0, 2))):
            hits.append(beat + draw(st.floats(-0.45, 0.45)) * ioi / 2)
    return forecast, actual, change, revised_at, hits


@given(tempo_changes(), st.integers(2, 8))
@settings(max_examples=150, deadline=None)
def test_a_revised_schedule_gives_the_figures_of_the_beats_that_sounded(case, block_beats):
    forecast, actual, change, revised_at, hits = case
    live = LiveSync(block_beats=block_beats, tolerance=Tolerance(ms=40))
    live.add_beats(forecast)
    blocks, outcomes, revised = [], [], False
    for hit in sorted(hits):
        if not revised and hit >= revised_at:
            live.set_beats(change, actual[change:])
            revised = True
        closed = live.close_until(hit)
        blocks += closed.blocks
        outcomes += closed.beats
        live.add_hit(hit)
    if not revised:
        live.set_beats(change, actual[change:])
    closed = live.close_until(math.inf)
    blocks += closed.blocks
    outcomes += closed.beats

    expected = []
    for first in range(0, len(actual) - block_beats + 1, block_beats):
        last = first + block_beats - 1
        expected.append(
            analyse(
                actual[first : last + 1],
                hits,
                Tolerance(ms=40),
                prev_beat=actual[first - 1] if first else None,
                next_beat=actual[last + 1] if last + 1 < len(actual) else None,
            )
        )
    assert blocks == expected
    assert [o.time_s for o in outcomes] == list(actual)


def test_feedback_after_a_revision_refers_to_the_new_beats():
    live = LiveSync(block_beats=8, tolerance=Tolerance(ms=30))
    live.add_beats([0.0, 1.0, 2.0, 3.0])
    early = live.add_hit(1.55)  # nearer beat 2 at 2.0 than beat 1: early for beat 2
    assert (early.beat_index, early.asynchrony_ms) == (2, pytest.approx(-450))
    live.set_beats(2, [1.6, 2.2, 2.8])  # faster from beat 1 on: beat 2 now at 1.6
    late = live.add_hit(1.58)  # nearer the new beat 2 than the first hit: it takes the beat over
    assert (late.beat_index, late.extra, late.on_beat) == (2, False, True)
    assert live.add_hit(1.5).extra  # in beat 2's window but farther from it than the hit at 1.58
    closed = live.close_until(10.0)
    assert [round(b.time_s, 6) for b in closed.beats] == [0.0, 1.0, 1.6, 2.2, 2.8]
    assert closed.beats[2].asynchrony_ms == pytest.approx(-20)


def test_a_hit_ahead_of_every_announced_beat_is_matched_once_its_beat_is_known():
    live = LiveSync(block_beats=2, tolerance=Tolerance(ms=50))
    live.add_beats([0.0, 0.5])
    assert live.add_hit(1.02).beat_index is None  # after the last window: no beat for it yet
    live.add_beats([1.0, 1.5])
    closed = live.close_until(10.0)
    assert closed.beats[2].asynchrony_ms == pytest.approx(20)
    assert [b.matched for b in closed.blocks] == [0, 1]


def test_closed_beats_never_change():
    live = LiveSync(block_beats=4, grace_s=0.0)
    live.add_beats([0.0, 0.5, 1.0, 1.5])
    live.add_hit(0.01)
    assert [b.index for b in live.close_until(0.8).beats] == [0, 1]
    live.set_beats(0, [0.0, 0.5, 1.1, 1.7])  # entries for closed beats 0 and 1 are ignored
    assert [b.time_s for b in live.close_until(10).beats] == [1.1, 1.7]


def test_a_schedule_must_follow_on_and_increase():
    live = LiveSync()
    live.add_beats([0.0, 0.5])
    with pytest.raises(ValueError, match="gap"):
        live.set_beats(3, [2.0])
    with pytest.raises(ValueError, match="increasing"):
        live.set_beats(1, [0.5, 0.4])
    with pytest.raises(ValueError, match="finite"):
        live.set_beats(1, [math.nan])
