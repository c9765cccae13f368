"""Backend delta times anchored to the engine clock: late delivery never moves a hit, and nothing drifts."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from audio.midi_hits import DeltaAnchor


def replay(
    true_times: np.ndarray, arrival_delays: np.ndarray, backend_rate: float = 1.0, window_s: float = 30.0
) -> np.ndarray:
    """Feed an anchor the deltas a backend clock running at `backend_rate` would report."""
    anchor = DeltaAnchor(window_s)
    backend = true_times * backend_rate
    deltas = np.diff(backend, prepend=backend[0])
    return np.array(
        [anchor.stamp(d, t + delay) for d, t, delay in zip(deltas, true_times, arrival_delays, strict=True)]
    )


def test_the_first_message_is_stamped_when_it_arrives():
    assert DeltaAnchor().stamp(0.0, 12.5) == 12.5


@given(seed=st.integers(0, 2**32 - 1), start=st.floats(0, 1e5))
def test_delivery_delays_are_removed(seed, start):
    """Hits every 0.3-0.7 s reach the poller 0-1 ms late, and one in five up to 50 ms later still (a busy
    interpreter). Stamps are never early, and after the first few hits never more than 1 ms late."""
    rng = np.random.default_rng(seed)
    true_times = start + np.cumsum(rng.uniform(0.3, 0.7, 300))
    stalls = rng.uniform(0.0, 0.050, 300) * (rng.random(300) < 0.2)
    delays = rng.uniform(0.0, 0.001, 300) + stalls
    error = replay(true_times, delays) - true_times
    assert np.all(error >= -1e-9)
    assert np.all(error[10:] <= 0.001 + 1e-9)
    assert np.max(delays[10:]) > 0.02  # the stalls were there, and were taken out


def test_a_slow_clock_rate_difference_does_not_accumulate():
    """The backend clock runs 20 ppm slow for 10 minutes: a fixed anchor would be 12 ms off by the end;
    the 30 s window keeps the error under 20 ppm x 30 s = 0.6 ms plus the prompt delivery delay."""
    rng = np.random.default_rng(1)
    true_times = np.arange(0, 600, 0.25)
    delays = rng.uniform(0.0, 0.003, true_times.size)
    error = replay(true_times, delays, backend_rate=1 - 20e-6) - true_times
    assert np.max(np.abs(error[10:])) < 0.0006 + 0.0005  # the first few carry their own delay
    unwindowed = replay(true_times, delays, backend_rate=1 - 20e-6, window_s=1e9) - true_times
    assert np.max(np.abs(unwindowed)) > 0.011
