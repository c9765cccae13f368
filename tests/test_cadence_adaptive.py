"""The adaptive-tempo policy: off by default, follows within limits, or steps up only when entrained."""

from __future__ import annotations

import math

import numpy as np
import pytest

from audio.cadence import AdaptiveMode, AdaptiveSettings, AdaptiveTempo
from audio.live_sync import BeatOutcome, LiveSync


def beat(index: int, *, iti_ms: float | None = None, phase_deg: float | None = 0.0) -> BeatOutcome:
    return BeatOutcome(
        index=index,
        time_s=index * 0.6,
        ioi_s=0.6,
        asynchrony_ms=None if phase_deg is None else phase_deg / 360 * 600,
        phase_deg=phase_deg,
        iti_ms=iti_ms,
        on_beat=phase_deg is not None,
    )


def test_off_by_default_and_says_so():
    policy = AdaptiveTempo(100.0)
    for i in range(32):
        assert policy.observe(beat(i, iti_ms=500.0)) == 100.0
    state = policy.state
    assert (state.mode, state.tempo_bpm, state.changes) == (AdaptiveMode.OFF, 100.0, 0)
    assert state.reason == "adaptive tempo off"


def test_follow_moves_toward_the_client_by_at_most_the_limit_per_bar():
    settings = AdaptiveSettings(mode=AdaptiveMode.FOLLOW, max_change_per_bar_bpm=2.0, beats_per_bar=4)
    policy = AdaptiveTempo(100.0, settings)
    tempos = [policy.observe(beat(i, iti_ms=60000 / 105)) for i in range(16)]
    # Changes only at bar lines (every 4th beat): 102, 104, then the last 1 bpm to reach 105.
    assert tempos == [100.0] * 3 + [102.0] * 4 + [104.0] * 4 + [105.0] * 4 + [105.0]
    assert policy.state.client_bpm == pytest.approx(105.0)
    assert policy.state.changes == 3


def test_follow_stays_within_the_plan_limits():
    settings = AdaptiveSettings(mode=AdaptiveMode.FOLLOW, min_bpm=90, max_bpm=110, max_change_per_bar_bpm=50)
    policy = AdaptiveTempo(100.0, settings)
    for i in range(4):
        tempo = policy.observe(beat(i, iti_ms=60000 / 130))
    assert tempo == 110.0
    for i in range(4, 8):
        tempo = policy.observe(beat(i, iti_ms=60000 / 60))
    assert tempo == 90.0


def test_follow_holds_when_the_client_barely_played():
    policy = AdaptiveTempo(100.0, AdaptiveSettings(mode=AdaptiveMode.FOLLOW))
    for i in range(4):
        tempo = policy.observe(beat(i, iti_ms=400.0 if i == 2 else None))
    assert tempo == 100.0
    assert "too few hits" in policy.state.reason


def test_entrain_steps_up_only_after_n_consistent_beats():
    settings = AdaptiveSettings(mode=AdaptiveMode.ENTRAIN, entrain_beats=8, r_threshold=0.9, step_percent=5)
    policy = AdaptiveTempo(100.0, settings)
    tempos = [policy.observe(beat(i, phase_deg=10.0)) for i in range(8)]
    assert tempos == [100.0] * 7 + [105.0]
    assert policy.state.entrained_beats == 0  # the count restarts at the new tempo
    assert policy.state.changes == 1


def test_entrain_holds_when_phases_scatter_or_a_beat_is_missed():
    settings = AdaptiveSettings(mode=AdaptiveMode.ENTRAIN, entrain_beats=8, r_threshold=0.9)
    policy = AdaptiveTempo(100.0, settings)
    scattered = [0, 90, 180, 270] * 4
    for i, phase in enumerate(scattered):
        assert policy.observe(beat(i, phase_deg=phase)) == 100.0
    assert policy.state.r is not None and policy.state.r < 0.1
    for i in range(7):
        policy.observe(beat(100 + i, phase_deg=0.0))
    policy.observe(beat(107, phase_deg=None))  # a miss on what would have been the 8th beat
    assert policy.tempo_bpm == 100.0
    assert policy.state.entrained_beats == 0
    assert "missed beat" in policy.state.reason


def test_entrain_never_passes_the_ceiling():
    settings = AdaptiveSettings(mode=AdaptiveMode.ENTRAIN, entrain_beats=4, max_bpm=103)
    policy = AdaptiveTempo(100.0, settings)
    for i in range(12):
        policy.observe(beat(i, phase_deg=0.0))
    assert policy.tempo_bpm == 103.0
    assert "ceiling" in policy.state.reason


def test_a_therapist_override_restarts_the_count():
    settings = AdaptiveSettings(mode=AdaptiveMode.ENTRAIN, entrain_beats=4)
    policy = AdaptiveTempo(100.0, settings)
    for i in range(3):
        policy.observe(beat(i))
    policy.set_tempo(90.0)
    assert policy.observe(beat(3)) == 90.0
    assert policy.state.entrained_beats == 1


def test_entrainment_detected_from_live_hits():
    """End to end without MIDI: a client locked 30 ms ahead of a 100 bpm beat entrains within 16 beats."""
    live = LiveSync(block_beats=16)
    beats = np.arange(40) * 0.6
    live.add_beats(beats)
    policy = AdaptiveTempo(100.0, AdaptiveSettings(mode=AdaptiveMode.ENTRAIN, entrain_beats=16))
    rng = np.random.default_rng(7)
    for t in beats[:20] - 0.030 + rng.normal(0, 0.008, 20):
        live.add_hit(float(t))
    tempos = [policy.observe(outcome) for outcome in live.close_until(beats[19] + 1.0).beats]
    assert tempos[14] == 100.0 and tempos[15] == pytest.approx(105.0)
    assert policy.state.changes == 1
    assert math.isclose(policy.state.tempo_bpm, 105.0)


@pytest.mark.parametrize(
    "kwargs",
    [{"min_bpm": 120, "max_bpm": 100}, {"beats_per_bar": 0}, {"r_threshold": 1.5}, {"step_percent": 0}],
)
def test_settings_reject_nonsense(kwargs):
    with pytest.raises(ValueError):
        AdaptiveSettings(**kwargs)
