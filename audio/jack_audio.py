"""Speaker output straight into JACK (or PipeWire's JACK): every block knows its exact frame.

Why beside the PortAudio output: through PortAudio a callback learns only an estimate of the time, so
after lost cycles (an xrun) it must guess how many frames the server played without it, and a run of
late callbacks can look like lost frames. A JACK client reads the first frame of the cycle it renders
(`last_frame_time`), so the stream's sample count follows JACK's frame count exactly: after a lost cycle
the next click is on its exact sample, and lost cycles are counted as they happen. Chosen with the audio
device "jack" (to the physical playback ports) or "jack:PATTERN" (to the input ports matching PATTERN).

The clock mapping is the PortAudio output's (`StreamClock`: the least delayed callback of the last two
windows), now over exact sample numbers, so MIDI and beats follow the card. Not JACK's own clock filter:
read from a late callback after xruns it gave times seconds off (MIDI sent minutes "late" in an hour's
run); a minimum over callbacks cannot jump.

Closing: jack2 cancels the process thread when a client deactivates; a Python callback waiting for the
interpreter lock at that moment would die holding it. The engine closes audio only after its scheduler
stopped (no other thread busy), and the close runs in a helper thread abandoned after a timeout, as the
PortAudio output's does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from audio.audio_output import StreamClock, close_abandoning_after
from audio.errors import OutputError
from audio.jack_clock import JackClock
from audio.render import MAX_BLOCK, SampleSource, mix_sources

JACK_DEVICE = "jack"
CHANNELS = 2


def is_jack_device(device: str | int | None) -> bool:
    return isinstance(device, str) and (device == JACK_DEVICE or device.startswith(JACK_DEVICE + ":"))


class JackAudioOutput:
    """A JACK client with two output ports, connected to the speakers (or to the ports named)."""

    def __init__(
        self,
        device: str = JACK_DEVICE,
        *,
        client_name: str = "Companion audio",
        on_stream_end: Callable[[str], None] | None = None,
    ) -> None:
        self.device = device
        self.connect_to = device.partition(":")[2] or None
        self.client_name = client_name
        self.sources: Sequence[SampleSource] = ()
        self.samplerate = 0
        self.output_latency = 0.0
        self.frames = 0
        """Samples of the stream so far: JACK frames since the first cycle, lost cycles included."""
        self.xruns = 0
        """Times the stream lost cycles (JACK ran on without us)."""
        self.callbacks = 0
        self._on_stream_end = on_stream_end
        self._client: Any = None
        self._ports: list[Any] = []
        self.clock = StreamClock()
        self._last_cycle: int | None = None
        """JACK frame of the last cycle rendered, and its stream sample (JACK frames wrap at 2^32)."""
        self._last_start = 0
        self._mix = np.zeros(0, dtype=np.float32)
        self._closing = False

    def open(self) -> None:
        """Register, activate, connect; raise OutputError naming the cause and the fix."""
        import jack

        self._closing, self._last_cycle, self._last_start = False, None, 0
        self.frames = self.xruns = self.callbacks = 0
        try:
            client = jack.Client(self.client_name, no_start_server=True)
        except jack.JackError as exc:
            raise OutputError(
                f"cannot reach the JACK server ({exc})",
                "start JACK (jackd, QjackCtl or PipeWire's JACK), or choose another audio device",
            ) from None
        self._client = client
        self.samplerate = client.samplerate
        self.clock.reset(self.samplerate)
        self._mix = np.zeros(MAX_BLOCK, dtype=np.float32)
        self._ports = [client.outports.register(f"out_{n}") for n in range(CHANNELS)]
        client.set_process_callback(self._process)
        client.set_shutdown_callback(self._shutdown)
        client.activate()
        try:
            self._connect(client)
        except OutputError:
            self.close()
            raise
        latency = JackClock(client).playback_latency
        self.output_latency = max(latency(port) for port in self._ports) / self.samplerate

    def _connect(self, client: Any) -> None:
        if self.connect_to is None:
            targets = client.get_ports(is_physical=True, is_input=True, is_audio=True)
        else:
            targets = client.get_ports(self.connect_to, is_input=True, is_audio=True)
        if not targets:
            what = (
                "no speakers (physical playback ports)"
                if self.connect_to is None
                else (f"no JACK audio input matches {self.connect_to!r}")
            )
            raise OutputError(f"JACK has {what}", "check the JACK graph (QjackCtl) or name ports: jack:NAME")
        for port, target in zip(self._ports, [*targets, targets[0]], strict=False):
            client.connect(port, target)

    def close(self, timeout: float = 2.0) -> None:
        """Deactivate and close in a helper thread given up after `timeout` (a dead server blocks)."""
        self._closing = True
        client, self._client = self._client, None
        if client is None:
            return

        close_abandoning_after(timeout, client.deactivate, client.close)

    # --- clock ----------------------------------------------------------------------------------------

    def perf_at(self, sample: int) -> float:
        """The engine-clock time at which stream sample `sample` is played into the JACK graph."""
        return self.clock.perf_at(sample)

    def sample_at(self, perf_time: float) -> int:
        return self.clock.sample_at(perf_time)

    # --- JACK's process thread ------------------------------------------------------------------------

    def _process(self, frames: int) -> None:
        now = time.perf_counter()
        client = self._client
        if client is None:  # closing: JACK may run us once more before deactivate() returns
            for port in self._ports:
                port.get_array().fill(0.0)
            return
        cycle = client.last_frame_time
        if self._last_cycle is None:  # the first cycle is stream sample 0
            self._last_cycle = cycle
        start = self._last_start + ((cycle - self._last_cycle) & 0xFFFFFFFF)
        if start != self.frames:  # JACK ran cycles without us: they stay counted, nothing moves
            self.xruns += 1
            self.clock.forget()
        self._last_cycle, self._last_start = cycle, start
        self.clock.observe(now, self.output_latency, start)
        mix = mix_sources(self._mix, self.sources, start, frames)
        for port in self._ports:
            port.get_array()[:] = mix
        self.frames = start + frames
        self.callbacks += 1

    def _shutdown(self, status: Any, reason: str) -> None:
        if not self._closing and self._on_stream_end is not None:
            self._on_stream_end(f"the JACK server shut down ({reason})")
