"""Cadence from step taps: robust to a missed tap, a double tap and a pause; the RAS ramp plan."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audio.cadence import CadenceError, baseline_bpm, cadence, ras_ramp_plan


def steady_taps(steps_per_min: float, n: int, start: float = 50.0) -> list[float]:
    return list(start + np.arange(n) * 60.0 / steps_per_min)


def test_a_steady_walk():
    c = cadence(steady_taps(100, 20))
    assert c.steps_per_min == pytest.approx(100)
    assert c.cv == pytest.approx(0, abs=1e-9)
    assert (c.steps, c.taps, c.double_taps, c.missed_taps, c.rejected) == (20, 20, 0, 0, 0)
    assert c.duration_s == pytest.approx(19 * 0.6)


def test_a_missed_tap_and_a_double_tap_do_not_move_the_cadence():
    taps = steady_taps(96, 24)
    del taps[7]  # the therapist missed a step
    taps.insert(12, taps[11] + 0.04)  # and a tap bounced
    c = cadence(taps)
    assert c.steps_per_min == pytest.approx(96)
    assert (c.steps, c.missed_taps, c.double_taps, c.rejected) == (24, 1, 1, 0)


def test_a_pause_is_rejected_not_averaged_in():
    taps = steady_taps(110, 12) + steady_taps(110, 12, start=50.0 + 11 * 60 / 110 + 4.0)
    c = cadence(taps)
    assert c.steps_per_min == pytest.approx(110)
    assert c.rejected == 1
    assert c.steps == 24


@given(
    spm=st.floats(40, 140),
    jitter=st.floats(0.0, 0.04),
    seed=st.integers(0, 2**32 - 1),
)
def test_stability_is_the_cv_of_the_step_intervals(spm, jitter, seed):
    rng = np.random.default_rng(seed)
    intervals = 60.0 / spm * (1 + rng.normal(0, jitter, 60).clip(-0.2, 0.2))
    taps = np.concatenate(([0.0], np.cumsum(intervals)))
    c = cadence(list(taps))
    assert c.cv == pytest.approx(intervals.std(ddof=1) / intervals.mean(), abs=1e-9)
    assert c.steps_per_min == pytest.approx(60.0 / np.median(intervals))
    assert c.rejected == c.double_taps == c.missed_taps == 0


def test_baseline_is_the_cadence_to_a_tenth_of_a_bpm():
    assert baseline_bpm(steady_taps(60 / 0.57, 16)) == 105.3


@pytest.mark.parametrize(
    ("taps", "message"),
    [
        ([0.0, 0.5, 1.0], "at least 5 steps"),
        ([1.0] * 6, "too close to be steps"),
        ([0.0, 0.02, 0.5, 0.52, 1.0, 1.02], "too few distinct steps"),
        ([0.0, 0.5, 1.0, 1.5, float("inf")], "finite"),
        ([0.0, 0.5, 1.6, 1.9, 3.4, 3.6, 4.9, 5.9, 6.2], "too irregular"),
    ],
)
def test_unusable_taps_say_what_to_do(taps, message):
    with pytest.raises(CadenceError, match=message):
        cadence(taps)


def test_ras_ramp_compounds_per_stage():
    assert ras_ramp_plan(100.0, percent=5, stages=3) == (100.0, 105.0, 110.2, 115.8)
    assert ras_ramp_plan(90.0, percent=10, stages=2) == (90.0, 99.0, 108.9)


def test_ras_ramp_stops_at_the_ceiling():
    assert ras_ramp_plan(120.0, percent=10, stages=5, max_bpm=140.0) == (120.0, 132.0, 140.0)
    assert ras_ramp_plan(140.0, percent=5, stages=3, max_bpm=140.0) == (140.0,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline": 10.0}, "outside 20-300"),
        ({"baseline": 100.0, "percent": 30}, "RAS uses 5-10"),
        ({"baseline": 100.0, "stages": 0}, "at least 1 stage"),
        ({"baseline": 100.0, "max_bpm": 90}, "below the baseline"),
    ],
)
def test_ras_ramp_rejects_nonsense(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ras_ramp_plan(**kwargs)
