"""What a MIDI input delivers, and what every way of reading one shares.

A `Hit` per note-on (velocity > 0) on the engine clock; `DeltaAnchor` for backends that only give delta
times; the port a person named (`input_port`); the `HitSource` protocol the JACK and rtmidi readers
follow (`audio.jack_midi_reader`, `audio.rtmidi_source`), so `audio.midi_input.MidiInput` can use either.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from audio.errors import OutputError
from audio.midi_output import backend_name
from audio.midi_ports import PortNotFound, resolve_port

CHECK_INTERVAL_S = 0.5


NOTE_ON = 0x90


@dataclass(frozen=True)
class Hit:
    """One note-on from the client: when (engine clock, seconds), which note, how hard."""

    time_s: float
    note: int
    velocity: int


class MidiInputError(RuntimeError):
    """The MIDI input cannot be opened; the message names the cause and the fix."""


Emit = Callable[[Hit], None]


def note_on(data: Sequence[int] | bytes) -> tuple[int, int] | None:
    """(note, velocity) of a note-on with velocity > 0 (velocity 0 is a note-off by convention)."""
    if len(data) >= 3 and data[0] & 0xF0 == NOTE_ON and data[2] > 0:
        return data[1], data[2]
    return None


def input_backend(backend: str | None) -> str:
    """The mido backend to listen on: `backend`, else `MIDO_BACKEND`, else the first MIDI system with an
    input port (not rtmidi's own default, which tries only its first system: ALSA, on a JACK-only machine
    that has no ALSA sequencer, would refuse an instrument `companion devices` shows on JACK)."""
    if backend:
        return backend
    try:
        return backend_name("input")
    except OutputError as problem:
        raise MidiInputError(str(problem)) from None


def input_port(wanted: str | None, available: Sequence[str]) -> str:
    """The input port `resolve_port` finds, or a MidiInputError saying what to plug in or type."""
    try:
        return resolve_port(wanted, available)
    except PortNotFound as missing:
        listing = ", ".join(repr(name) for name in available) or "none"
        if wanted is None:
            raise MidiInputError(
                "no MIDI input found: plug in and switch on the drum pad or keyboard, "
                "or open a virtual port and connect the instrument to it"
            ) from None
        if missing.matches:
            raise MidiInputError(
                f"MIDI input {wanted!r} matches several ports ({listing}): give more of the name"
            ) from None
        raise MidiInputError(
            f"no MIDI input {wanted!r}: check the drum pad or keyboard is plugged in and switched on. "
            f"Ports available: {listing}"
        ) from None


class DeltaAnchor:
    """Turns a backend's per-message delta times into engine-clock times, without drift.

    Summed deltas give each message's time on the backend's clock, which ticks at the engine clock's
    rate but from an unknown origin. A message reaches Python at backend time + offset + a delivery delay
    that is never negative, so the smallest (arrival - backend time) is the best estimate of the offset.
    Taking that minimum over a sliding window (not all time) follows a slow rate difference between the
    two clocks instead of letting it accumulate.
    """

    def __init__(self, window_s: float = 30.0) -> None:
        self.window_s = window_s
        self._backend_s = 0.0
        self._offsets: deque[tuple[float, float]] = deque()  # (arrival, offset), offsets increasing

    def stamp(self, delta_s: float, arrival_s: float) -> float:
        """Engine-clock time of a message that came `delta_s` after the previous one and arrived now."""
        self._backend_s += delta_s
        offset = arrival_s - self._backend_s
        while self._offsets and self._offsets[-1][1] >= offset:
            self._offsets.pop()
        self._offsets.append((arrival_s, offset))
        while self._offsets[0][0] < arrival_s - self.window_s:
            self._offsets.popleft()
        return self._backend_s + self._offsets[0][1]


class HitSource(Protocol):
    """One connection to a MIDI system, able to notice a lost device and to recover it."""

    name: str
    timing: str

    def open(self) -> None: ...
    def check(self) -> bool:
        """True while hits can arrive; reconnects a device that came back."""
        ...

    def close(self) -> None: ...
