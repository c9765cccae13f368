"""Speaker output: a sounddevice stream whose callback mixes sample sources at exact sample positions.

Timing lives in the sample count, not in the wall clock: the callback numbers every sample it produces,
and clicks are scheduled as sample numbers, so their spacing is exact whatever the callback's own jitter.
To share the engine clock (`time.perf_counter`) with MIDI, each callback compares perf_counter with the
stream's `currentTime`/`outputBufferDacTime` and keeps the smallest estimate of "perf time of sample 0"
over the last two windows of blocks (a callback can wake late, never early, so the minimum is the least
jittered one). The engine pins beat 0 to a stream sample once per start, so audio intervals stay exact,
and places MIDI through the current mapping, so MIDI follows the sound card's clock. After an xrun (the
server ran on without us) the sample count skips the lost blocks, so later clicks stay on the engine
clock instead of all shifting late.

The callback takes no lock and builds no array: settings arrive as one reference swap read at block
start (`sources`), and the mix buffer is allocated when the stream opens.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from audio.errors import OutputError
from audio.render import MAX_BLOCK, SampleSource, mix_sources

Latency = str | float
"""PortAudio's suggested output latency: "low", "high" or seconds."""
DEFAULT_LATENCY: Latency = "high"
"""A metronome's clicks are scheduled a look-ahead in advance on exact samples, so a larger buffer costs no
accuracy (the engine starts later by the buffer's length) and survives a busy machine without xruns."""
MAX_LATENCY_S = 1.0


def check_latency(value: Latency | str) -> Latency:
    """ "low", "high" or seconds (as a number or text, 0 < s <= 1); ValueError naming what is accepted."""
    if value in ("low", "high"):
        return value
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not 0 < seconds <= MAX_LATENCY_S:
        raise ValueError(
            f"audio latency {value!r} is not valid: use low, high (the default) or seconds up to "
            f"{MAX_LATENCY_S:g}, e.g. 0.05"
        )
    return seconds


_WINDOW = 256
"""Blocks per clock-offset window: long enough to catch one on-time callback, short enough to follow drift."""
_PROBE = 8
"""Blocks watched before deciding that frames were lost in an xrun (not just one late callback)."""


def load_sounddevice() -> ModuleType:
    """Import sounddevice, turning a missing PortAudio library into an OutputError with the fix."""
    try:
        import sounddevice
    except OSError as exc:
        raise OutputError(
            f"PortAudio library not found ({exc})",
            "install libportaudio2 (Debian/Ubuntu) or portaudio (Homebrew), then restart",
        ) from None
    return sounddevice


def close_abandoning_after(timeout: float, *steps: Callable[[], object]) -> None:
    """Run `steps` (stop, close) in a helper thread, given up after `timeout`: closing a client of an
    audio server that died can block forever (seen with JACK killed under it). A failing step ends it."""

    def close() -> None:
        with contextlib.suppress(Exception):
            for step in steps:
                step()

    closer = threading.Thread(target=close, name="companion-audio-close", daemon=True)
    closer.start()
    closer.join(timeout)


class StreamClock:
    """Where a stream's samples sound on the engine clock: perf_counter time of stream sample 0.

    Each callback offers `now + latency - first sample / rate`; a callback can wake late, never early, so
    the smallest offer of the last two windows of `_WINDOW` blocks is the least jittered, and a window
    later a drifting sound card's clock is followed. Nothing here can jump: one bad callback only raises
    an offer, which the minimum ignores.
    """

    def __init__(self) -> None:
        self.samplerate = 0
        self.reset()

    def reset(self, samplerate: int = 0) -> None:
        self.samplerate = samplerate
        self.offset = math.inf  # published: perf time of stream sample 0
        self.forget()

    def forget(self) -> None:
        """Start the minimum afresh from the next callback (the offset stays published until then): after
        lost cycles the server's frame count may stand elsewhere against the clock (JACK's dummy driver
        restarts its timeline), and the old minimum would hold the stream there for two windows."""
        self._window_min = self._previous_min = math.inf
        self._window_count = 0

    def observe(self, now: float, latency: float, first_sample: int) -> None:
        """From the callback: it ran at `now`, rendering `first_sample` to sound `latency` later."""
        estimate = now + latency - first_sample / self.samplerate
        if estimate < self._window_min:
            self._window_min = estimate
        self._window_count += 1
        if self._window_count >= _WINDOW:
            self._previous_min, self._window_min, self._window_count = self._window_min, math.inf, 0
        self.offset = min(self._previous_min, self._window_min)

    def sample_at(self, perf_time: float) -> int:
        """The stream sample that sounds at `perf_time` (engine clock)."""
        return round((perf_time - self.offset) * self.samplerate)

    def perf_at(self, sample: int) -> float:
        """The engine-clock time at which stream sample `sample` sounds."""
        return self.offset + sample / self.samplerate


class StreamOutput(Protocol):
    """What the engine needs of a speaker output: PortAudio's `AudioOutput` or `jack_audio.JackAudioOutput`.

    `sources` are mixed at stream samples; `frames` counts the stream's samples (its clock), `xruns` the
    cycles it lost; `perf_at`/`sample_at` map stream samples to the engine clock and back."""

    sources: Sequence[SampleSource]
    samplerate: int
    output_latency: float
    frames: int
    xruns: int

    def open(self) -> None: ...
    def close(self) -> None: ...
    def perf_at(self, sample: int) -> float: ...
    def sample_at(self, perf_time: float) -> int: ...


class AudioOutput:
    """One output stream; `open()` starts it (silent until sources schedule sound), `close()` ends it.

    `device` is a name (substring, as sounddevice matches it) or index; None is the system default.
    `on_stream_end` is called from a PortAudio thread if the stream ends without `close()` (device lost).
    """

    def __init__(
        self,
        device: str | int | None = None,
        *,
        samplerate: int | None = None,
        channels: int = 2,
        latency: Latency = DEFAULT_LATENCY,
        on_stream_end: Callable[[str], None] | None = None,
    ) -> None:
        self.device = device
        self.channels = channels
        self.latency = check_latency(latency)
        self.samplerate = samplerate or 0
        self.sources: Sequence[SampleSource] = ()
        self.frames = 0
        """Samples produced since `open()`: the stream's own clock."""
        self.xruns = 0
        self.callbacks = 0
        self._on_stream_end = on_stream_end
        self._requested_rate = samplerate
        self._stream: Any = None
        self._closing = False
        self._mix = np.zeros(MAX_BLOCK, dtype=np.float32)
        self.clock = StreamClock()
        self._excess_base = self._probe_min = math.inf
        self._probe_count = 0
        self.output_latency = 0.0

    # --- lifecycle ------------------------------------------------------------------------------

    def open(self, timeout: float = 2.0) -> None:
        """Open and start the stream, and wait until the clock mapping is known; raise OutputError."""
        sd = load_sounddevice()
        self._closing = False
        self.frames = self.callbacks = self.xruns = 0
        self.clock.reset()
        self._excess_base = self._probe_min = math.inf
        self._probe_count = 0
        try:
            info = sd.query_devices(self.device, "output")
            rate = self._requested_rate or int(info["default_samplerate"])
            stream = sd.OutputStream(
                device=self.device,
                samplerate=rate,
                channels=min(self.channels, int(info["max_output_channels"])),
                dtype="float32",
                latency=self.latency,
                callback=self._callback,
                finished_callback=self._finished,
            )
            self.samplerate = int(stream.samplerate)
            self.clock.reset(self.samplerate)
            self.channels = stream.channels
            self.output_latency = float(stream.latency)
            stream.start()
        except (ValueError, sd.PortAudioError) as exc:
            name = "the default output" if self.device is None else f"audio device {self.device!r}"
            raise OutputError(
                f"cannot open {name} ({exc})",
                "check it is plugged in and not used by another program; `companion devices` lists outputs",
            ) from None
        self._stream = stream
        deadline = time.perf_counter() + timeout
        while self.callbacks < 8:  # a few blocks, so the clock mapping is not one callback's guess
            if time.perf_counter() > deadline:
                self.close()
                raise OutputError(
                    f"audio device {self.device!r} opened but produced no audio within {timeout:g} s",
                    "check the device or audio server (JACK/PulseAudio) is running",
                )
            time.sleep(0.005)

    def close(self, timeout: float = 2.0) -> None:
        """Stop and close the stream; safe to call twice or after the device is gone.

        Closing a stream whose audio server died can block forever inside PortAudio (seen with JACK
        killed under it), so the close runs in a helper thread that is abandoned after `timeout`.
        """
        self._closing = True
        stream, self._stream = self._stream, None
        if stream is None:
            return

        close_abandoning_after(timeout, stream.abort, stream.close)

    @property
    def active(self) -> bool:
        return self._stream is not None and bool(self._stream.active)

    # --- clock ----------------------------------------------------------------------------------

    def sample_at(self, perf_time: float) -> int:
        """The stream sample that sounds at `perf_time` (engine clock), from the current mapping."""
        return self.clock.sample_at(perf_time)

    def perf_at(self, sample: int) -> float:
        """The engine-clock time at which stream sample `sample` sounds."""
        return self.clock.perf_at(sample)

    # --- PortAudio threads ----------------------------------------------------------------------

    def _callback(self, outdata: np.ndarray, frames: int, info: Any, status: Any) -> None:
        now = time.perf_counter()
        latency = info.outputBufferDacTime - info.currentTime
        if status.output_underflow:
            self.xruns += 1
        start = self.frames = self.frames + self._lost_frames(info.currentTime, frames)
        self.clock.observe(now, latency, start)
        sources = self.sources
        done = 0
        while done < frames:
            n = min(frames - done, MAX_BLOCK)
            outdata[done : done + n] = mix_sources(self._mix, sources, start + done, n)[:, None]
            done += n
        self.frames = start + frames
        self.callbacks += 1

    def _lost_frames(self, stream_time: float, frames: int) -> int:
        """Frames the server played without us (an xrun that skipped our callback), else 0.

        `stream_time * rate - frames produced` is constant plus the callback's lateness within its cycle
        (always >= 0). Its minimum over a probe of blocks rising by a block or more means whole blocks
        were skipped; smaller rises are clock drift (a sound card vs the system clock) and are absorbed.
        Deciding on a minimum, not one late callback, keeps a merely late callback from shifting clicks.
        """
        excess = stream_time * self.samplerate - self.frames
        if excess < self._excess_base:
            self._excess_base = excess
        self._probe_min = min(self._probe_min, excess - self._excess_base)
        self._probe_count += 1
        if self._probe_count < _PROBE:
            return 0
        rise, self._probe_min, self._probe_count = self._probe_min, math.inf, 0
        lost = round(rise / frames) * frames if rise >= 0.75 * frames else 0
        self._excess_base += rise - lost
        return lost

    def _finished(self) -> None:
        if not self._closing and self._on_stream_end is not None:
            self._on_stream_end(f"audio stream on {self.device or 'the default output'} stopped")
