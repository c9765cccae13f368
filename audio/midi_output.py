"""MIDI output: a mido port chosen by name or created as a virtual port, and the messages a click makes.

Why mido: it gives one port API over python-rtmidi's backends (ALSA, JACK, CoreMIDI, WinMM) and reads
`MIDO_BACKEND` (e.g. `mido.backends.rtmidi/UNIX_JACK`), which the engine honours at open time so the
same code drives a USB keyboard, a drum module or a JACK graph.

Without `MIDO_BACKEND` the MIDI system is the one `companion devices` reports as working (see
`default_backend`), not rtmidi's own default, which gives up when its first system fails.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import mido

from audio.errors import OutputError
from audio.midi_ports import PortNotFound, resolve_port
from audio.tempo import Level, TimeSignature

RTMIDI_BACKEND = "mido.backends.rtmidi"
CLOCKS_PER_QUARTER = 24
ALL_NOTES_OFF = 123

# General MIDI percussion (channel 10): hi/low wood block for beats, closed hi-hat for subdivisions.
GM_NOTES: Mapping[Level, int] = {Level.ACCENT: 76, Level.BEAT: 77, Level.SUB: 42}
VELOCITIES: Mapping[Level, int] = {Level.ACCENT: 120, Level.BEAT: 96, Level.SUB: 64}


@dataclass(frozen=True)
class MidiSettings:
    """What a click sends: channel (1-16, GM drums on 10), note and velocity per level, gate, clock."""

    channel: int = 10
    notes: Mapping[Level, int] = field(default_factory=lambda: dict(GM_NOTES))
    velocities: Mapping[Level, int] = field(default_factory=lambda: dict(VELOCITIES))
    gate_s: float = 0.05
    clock: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.channel <= 16:
            raise ValueError(f"MIDI channel {self.channel} is out of range: use 1-16")
        for level, note in self.notes.items():
            if not 0 <= note <= 127:
                raise ValueError(f"MIDI note {note} for {level.value} is out of range: use 0-127")
        for level, velocity in self.velocities.items():
            if not 1 <= velocity <= 127:
                raise ValueError(f"velocity {velocity} for {level.value} is out of range: use 1-127")
        if not 0.001 <= self.gate_s <= 2:
            raise ValueError(f"gate {self.gate_s} s is out of range: use 0.001-2 s")

    def note_messages(self, level: Level) -> tuple[mido.Message, mido.Message] | None:
        """The note-on and note-off of a click at `level`, or None when the level sends nothing."""
        if level is Level.SILENT or level not in self.notes:
            return None
        note, channel = self.notes[level], self.channel - 1
        velocity = self.velocities.get(level, VELOCITIES.get(level, 100))
        return (
            mido.Message("note_on", channel=channel, note=note, velocity=velocity),
            mido.Message("note_off", channel=channel, note=note, velocity=0),
        )

    def stop_messages(self) -> list[mido.Message]:
        """All notes off: CC 123, then a note-off for every note we use (some modules ignore CC 123)."""
        channel = self.channel - 1
        notes = sorted(set(self.notes.values()))
        return [mido.Message("control_change", channel=channel, control=ALL_NOTES_OFF, value=0)] + [
            mido.Message("note_off", channel=channel, note=n, velocity=0) for n in notes
        ]


def clocks_per_beat(meter: TimeSignature) -> int:
    """MIDI clock runs at 24 per quarter note; our beat is the meter's note value (an eighth in 6/8)."""
    return CLOCKS_PER_QUARTER * 4 // meter.unit


@dataclass(frozen=True)
class MidiApi:
    """One MIDI system python-rtmidi was built with, as `companion devices` and `MIDO_BACKEND` name it."""

    id: int
    """rtmidi's number for it (`rtmidi.API_UNIX_JACK`...)."""
    display_name: str
    """"ALSA", "Jack"... (what `companion devices` lists)."""
    backend: str
    """The `MIDO_BACKEND` value that chooses it, e.g. "mido.backends.rtmidi/UNIX_JACK"."""


def compiled_apis() -> list[MidiApi]:
    """The MIDI systems python-rtmidi has here, in rtmidi's order of preference; raises OutputError
    when python-rtmidi itself is missing."""
    try:
        import rtmidi
    except ImportError as exc:
        raise OutputError(
            f"no MIDI backend: {exc}", "install python-rtmidi (pip install python-rtmidi)"
        ) from None
    names = {
        getattr(rtmidi, attr): attr.removeprefix("API_") for attr in dir(rtmidi) if attr.startswith("API_")
    }
    return [
        MidiApi(api, rtmidi.get_api_display_name(api), f"{RTMIDI_BACKEND}/{names[api]}")
        for api in rtmidi.get_compiled_api()
    ]


def probe_api(api: MidiApi) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The output and input ports of one MIDI system; raises OutputError with the cause and the fix when
    the system cannot be used here (its server is not running, its driver is not loaded)."""
    import rtmidi

    try:
        output, midi_input = rtmidi.MidiOut(api.id), rtmidi.MidiIn(api.id)
        ports = tuple(output.get_ports()), tuple(midi_input.get_ports())
        output.delete()
        midi_input.delete()
    except Exception as exc:  # rtmidi raises its own SystemError types when a MIDI system is absent
        raise OutputError(*api_problem(api.display_name, exc)) from None
    return ports


def api_problem(api: str, exc: Exception) -> tuple[str, str]:
    """Why the MIDI system `api` ("ALSA", "UNIX_JACK"...) failed, and what to do: (cause, fix)."""
    if "alsa" in api.lower():
        missing = not os.path.exists("/dev/snd/seq")
        return (
            f"ALSA sequencer unavailable ({'no /dev/snd/seq' if missing else exc})",
            "load it with `sudo modprobe snd-seq`, or use JACK",
        )
    if "jack" in api.lower():
        return "JACK server not running", "start jackd (or qjackctl) to use JACK MIDI"
    return f"{api} unavailable ({exc})", "check that it is installed and running"


def default_backend(ports: Literal["output", "input"] = "output") -> str:
    """The MIDI system used when `MIDO_BACKEND` is not set: the first with a port of the kind asked for
    (outputs for the metronome, inputs for listening), else the first that works at all (a virtual port
    can be made there), as `companion devices` lists them.

    Not rtmidi's own default (`mido.backends.rtmidi`, no system named): it tries only the first system
    and gives up when that one fails (ALSA without /dev/snd/seq, on a JACK-only machine), so the
    metronome would refuse MIDI that `companion devices` showed working. Raises OutputError naming why
    each system failed when none works.
    """
    working: list[str] = []
    problems: list[str] = []
    for api in compiled_apis():
        try:
            outputs, inputs = probe_api(api)
        except OutputError as exc:
            problems.append(f"{api.display_name}: {exc}")
            continue
        if outputs if ports == "output" else inputs:
            return api.backend
        working.append(api.backend)
    if working:
        return working[0]
    raise OutputError(
        f"no MIDI system works here ({'; '.join(problems) or 'python-rtmidi was built without any'})",
        "fix one of them, then check with `companion devices`",
    )


def backend_name(ports: Literal["output", "input"] = "output") -> str:
    """The mido backend to use: `MIDO_BACKEND` if set (read now, not at import), else `default_backend`
    for `ports`. Raises OutputError when no MIDI system works here."""
    return os.environ.get("MIDO_BACKEND") or default_backend(ports)


def load_backend(name: str | None = None) -> Any:
    """Load a mido backend, or raise OutputError naming what failed and how to fix it."""
    name = name or backend_name()
    try:
        backend = mido.Backend(name, load=True)
    except ImportError as exc:
        raise OutputError(
            f"the MIDI backend {name} cannot be loaded ({exc})",
            "install python-rtmidi, or set MIDO_BACKEND to an installed mido backend",
        ) from None
    try:
        backend.get_output_names()
    except Exception as exc:
        cause, fix = api_problem(backend.api or name, exc)
        raise OutputError(
            f"the MIDI system {name} cannot be used here: {cause}",
            f"{fix}; or set MIDO_BACKEND to one that works (`companion devices` lists them), or unset it "
            "to use the first that works",
        ) from None
    return backend


class MidiOutput:
    """A MIDI output port opened by name (`port`) or created as a virtual port (`virtual`)."""

    def __init__(
        self,
        port: str | None = None,
        *,
        virtual: str | None = None,
        backend: str | None = None,
        client_name: str = "Companion",
    ) -> None:
        if port is not None and virtual is not None:
            raise ValueError("choose a MIDI port by name or a virtual port, not both")
        self.wanted = port
        self.virtual = virtual
        self.backend = backend
        self.client_name = client_name
        self.name: str | None = None
        self._port: Any = None
        self._backend: Any = None

    def open(self) -> None:
        """Open the port; raise OutputError naming the missing port and the ones that exist."""
        backend = load_backend(self.backend)
        self._backend = backend
        try:
            if self.virtual is not None:
                self._port = backend.open_output(self.virtual, virtual=True, client_name=self.client_name)
            else:
                names = backend.get_output_names()
                try:
                    chosen = resolve_port(self.wanted, names)
                except PortNotFound:
                    what = f"MIDI output {self.wanted!r}" if self.wanted else "a MIDI output"
                    raise OutputError(
                        f"{what} not found (available: {', '.join(names) or 'none'})",
                        "plug it in and run `companion devices`, or use a virtual port (--virtual NAME)",
                    ) from None
                # No client_name here: mido turns any port opened with one into a virtual port.
                self._port = backend.open_output(chosen)
        except OutputError:
            raise
        except Exception as exc:
            raise OutputError(
                f"cannot open MIDI output ({type(exc).__name__}: {exc})",
                "check the device and backend with `companion devices`",
            ) from None
        self.name = self._port.name

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def send(self, message: mido.Message) -> None:
        """Send now. Raises OutputError if the port has gone away."""
        port = self._port
        if port is None:
            raise OutputError("MIDI output is closed", "reconnect the device and press reconnect")
        try:
            port.send(message)
        except Exception as exc:
            raise OutputError(f"MIDI send failed on {self.name!r} ({exc})", "reconnect the device") from None

    def still_present(self) -> bool:
        """False once a named port has vanished from the backend's list (device unplugged)."""
        if self._port is None:
            return False
        if self.virtual is not None or self._backend is None:
            return True
        rt = getattr(self._port, "_rt", None)
        try:
            # Ask the open port's own client: a new one per check would cost a JACK client round trip.
            names = rt.get_ports() if rt is not None else self._backend.get_output_names()
            return self.name in names
        except Exception:
            return False

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()
