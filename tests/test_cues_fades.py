"""Fades and the synth feed, without a device: gains per beat and per sample, notes on exact samples.

The feed is the audio callback's side of the music: what goes in from the scheduler thread must come out
of `render` exactly as the synth alone would play it, whatever the block sizes, faded by the exact ramp,
and without allocating anything per block.
"""

from __future__ import annotations

import tracemalloc
from fractions import Fraction

import mido
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from audio.fade import BlockGain, Fade
from audio.render import ClickRenderer
from audio.sounds import SoundBank
from audio.synth import Synth
from audio.synth_feed import SynthFeed
from audio.tempo import Level

RATE = 48_000
NOTES = [(100, 60), (4_000, 64), (4_000, 67), (20_000, 72), (31_000, 48)]


def on(note: int) -> mido.Message:
    return mido.Message("note_on", note=note, velocity=100)


def off(note: int) -> mido.Message:
    return mido.Message("note_off", note=note)


def render(source: Synth | SynthFeed, total: int, sizes: list[int], first: int = 0) -> np.ndarray:
    out = np.zeros(total, dtype=np.float32)
    done, i = 0, 0
    while done < total:
        size = min(sizes[i % len(sizes)], total - done)
        source.render(out[done : done + size], first + done)
        done, i = done + size, i + 1
    return out


def reference(total: int) -> np.ndarray:
    synth = Synth(RATE)
    for frame, note in NOTES:
        synth.send(frame, on(note))
        synth.send(frame + 9_000, off(note))
    return render(synth, total, [total])


def test_a_fade_is_a_straight_line_between_two_positions() -> None:
    fade = Fade(8, 16, 1.0, 0.0)
    assert [fade.gain_at(b) for b in (0, 8, 10, 12, 16, 100)] == [1.0, 1.0, 0.75, 0.5, 0.0, 0.0]
    assert fade.gain_at(Fraction(9)) == 0.875
    assert Fade.constant(0.3).gain_at(-5) == 0.3


def test_reversing_mid_fade_starts_from_the_gain_reached() -> None:
    out = Fade.constant(1.0).toward(0.0, start=8, length=8)
    back = out.toward(1.0, start=12, length=8)
    assert back == Fade(12, 20, 0.5, 1.0)
    assert back.gain_at(16) == 0.75
    assert out.toward(0.0, start=20, length=0).gain_at(20) == 0.0  # at once


def test_bad_fades_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot end"):
        Fade(10, 5)
    with pytest.raises(ValueError, match="0-1"):
        Fade(0, 5, 1.0, 1.5)


@settings(max_examples=60, deadline=None)
@example(sizes=[2], start=1, length=0, gains=(0.0, 1.0))  # a fade at once, inside a block
@given(
    sizes=st.lists(st.integers(1, 700), min_size=1, max_size=6),
    start=st.integers(0, 3000),
    length=st.integers(0, 3000),
    gains=st.tuples(st.floats(0, 1), st.floats(0, 1)),
)
def test_block_gain_follows_the_fade_on_every_sample(sizes, start, length, gains) -> None:
    fade = Fade(start, start + length, *gains)
    block_gain = BlockGain(1024)
    signal = np.ones(5000, dtype=np.float32)
    done, i = 0, 0
    while done < len(signal):
        size = min(sizes[i % len(sizes)], len(signal) - done)
        block_gain.apply(signal[done : done + size], done, fade)
        done, i = done + size, i + 1
    expected = np.array([fade.gain_at(n) for n in range(len(signal))])
    np.testing.assert_allclose(signal, expected, atol=1e-6)


def test_the_feed_plays_every_note_on_its_sample_whatever_the_blocks() -> None:
    feed = SynthFeed(Synth(RATE))
    for frame, note in NOTES:
        feed.send(frame, on(note))
        feed.send(frame + 9_000, off(note))
    heard = render(feed, 48_000, [128, 1, 333, 4096, 77])
    np.testing.assert_array_equal(heard, reference(48_000))


def test_the_feed_follows_the_stream_s_sample_numbers() -> None:
    feed = SynthFeed(Synth(RATE))
    feed.send(50_100, on(60))
    heard = render(feed, 6000, [256], first=50_000)
    assert int(np.flatnonzero(heard)[0]) == 100


def test_a_cut_fades_every_voice_within_milliseconds_and_forgets_earlier_notes() -> None:
    feed = SynthFeed(Synth(RATE))
    feed.send(0, on(60))
    feed.send(30_000, on(64))  # queued before the cut: forgotten
    heard = render(feed, 9_600, [128])
    feed.cut()
    feed.send(19_200, on(67))  # after the cut: plays
    after = render(feed, 28_800, [128], first=9_600)
    assert np.max(np.abs(heard[-128:])) > 0.01
    assert np.max(np.abs(after[2_400:9_600])) == 0.0  # -80 dB within 50 ms, then silent
    assert int(np.flatnonzero(after[2_400:])[0]) + 2_400 == 9_600  # the note sent after the cut
    assert feed.synth.active_voices == 1


def test_the_music_fade_scales_the_synth_sample_by_sample() -> None:
    feed = SynthFeed(Synth(RATE))
    for frame, note in NOTES:
        feed.send(frame, on(note))
        feed.send(frame + 9_000, off(note))
    feed.fade = Fade(10_000, 30_000, 1.0, 0.0)
    heard = render(feed, 48_000, [128, 1000, 17])
    gain = np.array([feed.fade.gain_at(n) for n in range(48_000)], dtype=np.float32)
    np.testing.assert_allclose(heard, reference(48_000) * gain, atol=1e-7)
    assert np.max(np.abs(heard[30_000:])) == 0.0


def test_a_full_ring_drops_and_counts_instead_of_blocking() -> None:
    feed = SynthFeed(Synth(RATE), capacity=4)
    for k in range(6):
        feed.send(k, on(60 + k))
    assert feed.dropped == 2
    render(feed, 128, [128])
    feed.send(200, on(70))
    assert feed.dropped == 2


def test_the_feed_allocates_nothing_while_fading() -> None:
    feed = SynthFeed(Synth(RATE, voices=24), max_block=4096)
    out = np.zeros(4096, np.float32)
    messages = [on(40 + k % 40) for k in range(80)] + [off(40 + k % 40) for k in range(80)]
    rng = np.random.default_rng(5)

    def queue(blocks: int, first: int) -> None:
        """The scheduler thread's side (it may allocate): three notes per block, ahead of time."""
        for _ in range(3 * blocks):
            frame = first + int(rng.integers(0, blocks * 4096))
            feed.send(frame, messages[int(rng.integers(0, len(messages)))])

    def play(blocks: int, first: int) -> None:
        for block in range(blocks):
            feed.render(out, first + block * 4096)

    feed.fade = Fade(0, 10**7, 1.0, 0.0)
    queue(100, 0)
    play(100, 0)  # every voice has been used: its attributes hold values of their final types
    queue(100, 100 * 4096)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        play(100, 100 * 4096)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 2048
    assert peak - before < 8192  # one block of float32 would be 16 KiB


def test_the_click_renderer_scales_each_click_by_its_gain() -> None:
    bank = SoundBank(RATE)
    accent = bank.index(Level.ACCENT)
    renderer = ClickRenderer(bank.arrays)
    for k, gain in enumerate((1.0, 0.5, 0.25, 0.0)):
        renderer.schedule(k * 12_000, accent, gain)
    heard = np.zeros(48_000, dtype=np.float32)
    for start in range(0, 48_000, 100):
        renderer.render(heard[start : start + 100], start)
    sound = bank.arrays[accent]
    for k, gain in enumerate((1.0, 0.5, 0.25, 0.0)):
        np.testing.assert_array_equal(heard[k * 12_000 : k * 12_000 + len(sound)], sound * np.float32(gain))
