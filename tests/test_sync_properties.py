"""Synthetic tap sequences with known asynchrony, jitter and drift: the analysis must recover them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from support.tappings import Tapping, tappings

from audio.sync_analysis import SyncSummary, Tolerance, analyse


@given(tappings(), st.floats(5, 100))
@settings(max_examples=200, deadline=None)
def test_counts_and_figures_are_recovered_exactly(tap: Tapping, tolerance_ms: float):
    known = np.array([f for f in tap.fractions if f is not None]) * tap.ioi
    tol = tolerance_ms / 1000.0
    assume(not np.any(np.isclose(np.abs(known), tol, rtol=0, atol=1e-9)))
    s = analyse(tap.beats, tap.hits, Tolerance(ms=tolerance_ms))
    assert s.matched == known.size
    assert s.missed == len(tap.fractions) - known.size
    assert s.extra == len(tap.extras)
    assert s.n_hits == known.size + len(tap.extras)
    assert s.pct_on_beat == pytest.approx(100 * np.count_nonzero(np.abs(known) < tol) / len(tap.fractions))
    if known.size:
        assert s.mean_asynchrony_ms == pytest.approx(known.mean() * 1000, abs=1e-6)
        phases = 2 * np.pi * known / tap.ioi
        assert s.resultant_length == pytest.approx(abs(np.exp(1j * phases).mean()), abs=1e-9)
    if known.size >= 2:
        assert s.sd_asynchrony_ms == pytest.approx(known.std(ddof=1) * 1000, abs=1e-6)


@given(
    bpm=st.floats(60, 160),
    mean_ms=st.floats(-60, 30),
    sd_ms=st.floats(1, 20),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=60, deadline=None)
def test_gaussian_jitter_is_recovered_within_sampling_error(bpm, mean_ms, sd_ms, seed):
    """Hits = beat + N(mean, sd). Bounds are 5-6 standard errors wide: they fail only on a real bias."""
    n, ioi = 400, 60.0 / bpm
    rng = np.random.default_rng(seed)
    beats = 100.0 + ioi * np.arange(n)
    hits = beats + rng.normal(mean_ms, sd_ms, n) / 1000.0
    s = analyse(beats, hits, Tolerance(ms=50))
    assert s.matched == n and s.extra == 0
    assert s.mean_asynchrony_ms == pytest.approx(mean_ms, abs=5 * sd_ms / math.sqrt(n))
    assert s.sd_asynchrony_ms == pytest.approx(sd_ms, rel=0.25)
    sd_phase = 2 * math.pi * sd_ms / 1000 / ioi
    assert s.resultant_length == pytest.approx(math.exp(-(sd_phase**2) / 2), abs=0.03)
    assert s.mean_phase_deg == pytest.approx(360 * mean_ms / 1000 / ioi, abs=math.degrees(6 * sd_phase / 20))
    # ITI = IOI + a[i+1] - a[i]: SD sqrt(2) * sd.
    assert s.iti_cv == pytest.approx(math.sqrt(2) * sd_ms / 1000 / ioi, rel=0.25)
    assert s.client_bpm == pytest.approx(bpm, rel=0.01)


@given(
    bpm=st.floats(60, 140),
    start_ms=st.floats(-80, 40),
    drift_ms_per_min=st.floats(-60, 60),
)
def test_a_steady_asynchrony_drift_is_recovered(bpm, start_ms, drift_ms_per_min):
    ioi = 60.0 / bpm
    beats = ioi * np.arange(40)
    hits = beats + (start_ms + drift_ms_per_min * beats / 60.0) / 1000.0
    assume(np.all(np.abs(hits - beats) < 0.45 * ioi))
    s = analyse(beats, hits)
    assert s.asynchrony_drift_ms_per_min == pytest.approx(drift_ms_per_min, abs=1e-6)


@given(client_bpm=st.floats(70, 130), bpm_per_min=st.floats(-20, 20))
def test_a_client_speeding_up_or_slowing_down_is_recovered(client_bpm, bpm_per_min):
    """Hit j comes 60 / (c0 + r * t_j / 60) s after hit j-1, t_j being beat j: the client's tempo at each
    beat is exactly linear in time, so the fitted slope must be r."""
    ioi = 60.0 / client_bpm
    beats = ioi * np.arange(16)
    hits = [0.0]
    for beat in beats[1:]:
        hits.append(hits[-1] + 60.0 / (client_bpm + bpm_per_min * beat / 60.0))
    assume(np.all(np.abs(np.array(hits) - beats) < 0.45 * ioi))
    s = analyse(beats, hits)
    assert s.tempo_drift_bpm_per_min == pytest.approx(bpm_per_min, abs=1e-6)


def _without_times(s: SyncSummary) -> dict[str, object]:
    return {k: v for k, v in s.as_dict().items() if k not in ("start_s", "end_s")}


@given(tappings(), st.floats(-1000, 1000), st.randoms())
@settings(deadline=None)
def test_results_do_not_depend_on_the_clock_origin_or_the_hit_order(tap: Tapping, shift, rnd):
    base = analyse(tap.beats, tap.hits)
    shuffled = list(tap.hits)
    rnd.shuffle(shuffled)
    assert analyse(tap.beats, shuffled) == base
    moved = analyse(tap.beats + shift, np.array(shuffled) + shift)
    for key, value in _without_times(base).items():
        if isinstance(value, float):
            assert _without_times(moved)[key] == pytest.approx(value, abs=1e-5), key
        else:
            assert _without_times(moved)[key] == value, key
