"""The speaker synth: notes on their exact sample whatever the block sizes, clean releases, no allocation."""

from __future__ import annotations

import tracemalloc
from fractions import Fraction

import mido
import numpy as np
import pytest

from audio.grooves import DRUM_CHANNEL, GROOVES
from audio.song_file import load_song
from audio.songs import DIRECTORY
from audio.synth import Synth

RATE = 48_000


def first_sound(signal: np.ndarray, threshold: float = 0.0) -> int:
    return int(np.flatnonzero(np.abs(signal) > threshold)[0])


def render_in_blocks(synth: Synth, frames: int, sizes: list[int], dtype: type = np.float64) -> np.ndarray:
    out = np.zeros(frames, dtype=dtype)
    done, i = 0, 0
    while done < frames:
        size = min(sizes[i % len(sizes)], frames - done)
        synth.render(out[done : done + size])
        done, i = done + size, i + 1
    return out


@pytest.mark.parametrize("frame", [0, 1, 127, 128, 129, 1000, 4095, 4096, 4097])
@pytest.mark.parametrize("channel", [0, DRUM_CHANNEL])
def test_a_note_starts_on_its_exact_sample(frame: int, channel: int) -> None:
    synth = Synth(RATE)
    synth.note_on(frame, 60 if channel == 0 else 36, 100, channel)
    out = render_in_blocks(synth, 6000, [128])
    assert first_sound(out) == frame


def test_each_note_of_a_mix_lands_on_its_sample() -> None:
    rng = np.random.default_rng(7)
    schedule = sorted(
        (int(frame), int(note), int(channel))
        for frame, note, channel in zip(
            rng.integers(0, 40_000, 12),
            rng.integers(40, 90, 12),
            rng.choice([0, 1, DRUM_CHANNEL], 12),
            strict=True,
        )
    )

    def render(skip: int | None) -> np.ndarray:
        synth = Synth(RATE)
        for i, (frame, note, channel) in enumerate(schedule):
            if i != skip:
                synth.note_on(frame, note, 90, channel)
                synth.note_off(frame + 4000, note, channel)
        return render_in_blocks(synth, 48_000, [256, 100, 1, 777])

    everything = render(None)
    for i, (frame, _, _) in enumerate(schedule):
        assert first_sound(everything - render(i), 1e-9) == frame


def test_block_sizes_do_not_change_the_sound() -> None:
    def render(sizes: list[int]) -> np.ndarray:
        synth = Synth(RATE)
        for frame, note in ((10, 60), (333, 64), (4100, 67), (9000, 72)):
            synth.note_on(frame, note, 100)
            synth.note_off(frame + 6000, note)
        synth.note_on(2222, 38, 110, DRUM_CHANNEL)
        return render_in_blocks(synth, 12_000, sizes)

    one_block = render([12_000])
    for sizes in ([1], [64], [128], [1000, 3, 4096, 17], [4097, 5000]):
        np.testing.assert_allclose(render(sizes), one_block, atol=1e-7)


def test_note_off_releases_within_a_fraction_of_a_second() -> None:
    held, released = Synth(RATE), Synth(RATE)
    for synth in (held, released):
        synth.note_on(0, 57, 100)
    released.note_off(RATE // 2, 57)
    a, b = render_in_blocks(held, RATE * 2, [512]), render_in_blocks(released, RATE * 2, [512])
    window = slice(RATE, RATE + 4800)  # half a second after the note-off
    assert np.sqrt(np.mean(a[window] ** 2)) > 0.01
    assert np.max(np.abs(b[window])) < 1e-3
    assert not np.any(b[RATE * 3 // 2 :])  # a second after it, the voice is free and silent
    assert np.array_equal(a[: RATE // 2], b[: RATE // 2])
    assert released.active_voices == 0 and held.active_voices == 1


def test_all_notes_off_fades_fast_and_forgets_queued_notes() -> None:
    synth = Synth(RATE)
    for note in (48, 52, 55, 60):
        synth.note_on(0, note, 110)
    synth.note_on(0, 49, 110, DRUM_CHANNEL)
    synth.note_on(RATE, 72, 110)  # queued for later: must never sound
    render_in_blocks(synth, 2400, [240])
    synth.all_notes_off()
    out = render_in_blocks(synth, RATE * 2, [240])
    assert np.max(np.abs(out[2400:])) < 1e-4  # 50 ms after: silent (the fade takes 5 ms)
    assert synth.active_voices == 0


def test_mono_stereo_float32_and_float64_outputs_get_the_same_signal() -> None:
    outputs = [np.zeros(5000), np.zeros((5000, 2), np.float32), np.full((5000, 1), 0.5)]
    for out in outputs:
        synth = Synth(RATE)
        synth.note_on(100, 64, 100)
        synth.render(out)
    mono = outputs[0]
    np.testing.assert_allclose(outputs[1][:, 0], mono, atol=1e-6)
    np.testing.assert_array_equal(outputs[1][:, 0], outputs[1][:, 1])
    np.testing.assert_allclose(outputs[2][:, 0], mono + 0.5)  # mixes into what is there
    with pytest.raises(TypeError, match="float32 or float64"):
        Synth(RATE).render(np.zeros(64, np.int16))


def test_render_follows_the_stream_sample_index_it_is_given() -> None:
    """The engine's SampleSource passes `start`: after a gap notes carry on, a new stream is silent."""
    steady, gapped = Synth(RATE), Synth(RATE)
    for synth in (steady, gapped):
        synth.note_on(100, 62, 100)
    whole = render_in_blocks(steady, 8192, [1024])
    head, tail = np.zeros(1024), np.zeros(1024)
    gapped.render(head, start=0)
    gapped.render(tail, start=4096)  # blocks 1024-4095 were lost (an xrun)
    np.testing.assert_array_equal(head, whole[:1024])
    np.testing.assert_allclose(tail, whole[4096:5120], atol=1e-12)
    assert gapped.frame == 5120
    gapped.note_on(6000, 70, 100)
    restarted = np.zeros(1024)
    gapped.render(restarted, start=0)  # a new stream: nothing of the old one may sound or stay queued
    assert not np.any(restarted) and gapped.active_voices == 0
    gapped.render(np.zeros(8192))
    assert gapped.active_voices == 0


def test_send_plays_mido_messages() -> None:
    direct, sent = Synth(RATE), Synth(RATE)
    direct.note_on(10, 60, 80)
    direct.note_off(3000, 60)
    sent.send(10, mido.Message("note_on", note=60, velocity=80))
    sent.send(3000, mido.Message("note_on", note=60, velocity=0))
    sent.send(20, mido.Message("program_change", program=5))  # ignored: one timbre
    np.testing.assert_array_equal(render_in_blocks(direct, 9000, [512]), render_in_blocks(sent, 9000, [512]))
    stop = Synth(RATE)
    stop.send(0, mido.Message("note_on", note=40, velocity=90, channel=3))
    stop.send(1000, mido.Message("control_change", channel=3, control=123, value=0))
    assert np.max(np.abs(render_in_blocks(stop, 6000, [512])[4000:])) < 1e-4


def test_drum_hits_ring_out_and_sound_like_drums() -> None:
    def hit(note: int) -> np.ndarray:
        synth = Synth(RATE)
        synth.note_on(0, note, 120, DRUM_CHANNEL)
        synth.note_off(10, note, DRUM_CHANNEL)  # ignored: a drum sound plays out
        return render_in_blocks(synth, RATE // 4, [512])

    def brightness(signal: np.ndarray) -> float:
        power = np.abs(np.fft.rfft(signal)) ** 2
        return float(np.sum(np.fft.rfftfreq(len(signal), 1 / RATE) * power) / np.sum(power))

    kick, hat = hit(36), hit(42)
    assert np.max(np.abs(kick[1000:2000])) > 0.05
    assert brightness(kick) < 300 < 4000 < brightness(hat)


def test_late_dropped_and_stolen_are_counted_not_fatal() -> None:
    synth = Synth(RATE, voices=2, queue_size=4)
    synth.render(np.zeros(1000))
    synth.note_on(500, 60, 90)  # already rendered: plays at once
    assert synth.late_events == 1
    for note in (62, 64, 65):
        synth.note_on(1000, note, 90)
    synth.note_on(1000, 67, 90)
    assert synth.dropped_events == 1  # the queue holds four
    out = np.zeros(2000)
    synth.render(out)
    assert synth.stolen_voices == 2
    assert first_sound(out) == 0


def test_render_allocates_nothing() -> None:
    synth = Synth(RATE, voices=24, max_block=4096)
    out = np.zeros((4096, 2), np.float32)
    rng = np.random.default_rng(3)

    def play(blocks: int) -> None:
        for _ in range(blocks):
            start = synth.frame
            synth.note_on(start + int(rng.integers(0, 4096)), int(rng.integers(40, 90)), 90)
            synth.note_on(start + int(rng.integers(0, 4096)), int(rng.integers(35, 82)), 90, DRUM_CHANNEL)
            synth.note_off(start + 3000, int(rng.integers(40, 90)))
            synth.render(out)

    play(100)  # every voice has been used: its attributes hold values of their final types
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        play(100)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 2048  # no growth over 100 blocks (a few retained scalars at most)
    assert peak - before < 8192  # no block-sized temporaries: one block of float64 would be 32 KiB


def test_a_demo_song_and_a_groove_play_cleanly_through_the_synth() -> None:
    synth = Synth(RATE)
    bpm = 90
    song = load_song(DIRECTORY / "yankee-doodle.mid").cursor().take_until(40)  # all of its 32 beats
    groove = GROOVES["march"].cursor(intensity=3)
    for item in song + groove.take_until(32) + groove.release(at=32):
        synth.send(round(item.beat * Fraction(60 * RATE, bpm)), item.message)
    out = render_in_blocks(synth, RATE * 24, [128], np.float32)
    assert 0.05 < np.max(np.abs(out)) < 1.0  # audible, and the default gain does not clip
    assert (synth.late_events, synth.dropped_events, synth.stolen_voices) == (0, 0, 0)
    assert synth.active_voices == 0
