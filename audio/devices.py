"""What can make sound here: audio and MIDI outputs/inputs per backend, each with a reason when unusable.

Why it never raises: the app and `companion devices` must start on a machine with no sound card, no
PortAudio library or no MIDI system, and say what is missing and how to get it, instead of crashing.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from audio.errors import OutputError
from audio.midi_output import backend_name, compiled_apis, load_backend, probe_api


@dataclass(frozen=True)
class Backend:
    """One audio host API or MIDI API: usable or not (`reason` says why not), and its ports."""

    kind: str  # "audio" or "midi"
    name: str
    available: bool
    reason: str = ""
    outputs: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    default_output: str | None = None


@dataclass(frozen=True)
class Survey:
    audio: list[Backend] = field(default_factory=list)
    midi: list[Backend] = field(default_factory=list)
    midi_backend: str = ""
    """The mido backend the engine will use (`MIDO_BACKEND`, or the first working MIDI system), with why
    it is that one or cannot be used."""

    def working(self, kind: str) -> list[Backend]:
        """Backends of `kind` that can play: audio ones with an output; MIDI ones with an output port or,
        except on Windows (WinMM), the ability to create a virtual port for a synth to listen to."""
        if kind == "audio":
            return [b for b in self.audio if b.available and b.outputs]
        return [b for b in self.midi if b.available and (b.outputs or "Windows" not in b.name)]


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence C libraries (libjack, ALSA) that print to fd 2 while they are probed; our reasons say it."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        sys.stderr.flush()
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def audio_backends() -> list[Backend]:
    """One entry per PortAudio host API, or one unavailable 'PortAudio' entry naming the missing piece."""
    from audio.audio_output import load_sounddevice

    try:
        sd = load_sounddevice()
    except OutputError as exc:
        return [Backend("audio", "PortAudio", False, str(exc))]
    try:
        devices = list(sd.query_devices())
        apis = list(sd.query_hostapis())
    except Exception as exc:  # PortAudio can fail to enumerate on a broken audio system
        return [Backend("audio", "PortAudio", False, f"cannot list audio devices ({exc})")]
    backends = []
    for index, api in enumerate(apis):
        mine = [d for d in devices if d["hostapi"] == index]
        outputs = tuple(d["name"] for d in mine if d["max_output_channels"] > 0)
        inputs = tuple(d["name"] for d in mine if d["max_input_channels"] > 0)
        default = api.get("default_output_device", -1)
        default_name = devices[default]["name"] if 0 <= default < len(devices) else None
        reason = "" if outputs or inputs else "no devices (is the server running / the card plugged in?)"
        usable = bool(outputs or inputs)
        backends.append(Backend("audio", api["name"], usable, reason, outputs, inputs, default_name))
    return backends


def jack_audio_backend() -> Backend:
    """JACK played straight into (`--audio-device jack`): exact frames, the choice on a JACK rig."""
    name = "JACK direct"
    try:
        import jack
    except (ImportError, OSError) as exc:
        return Backend("audio", name, False, f"JACK-Client cannot load libjack ({exc}): install libjack")
    try:
        client = jack.Client("companion-survey", no_start_server=True)
    except jack.JackError:
        return Backend("audio", name, False, "JACK server not running: start jackd (or qjackctl)")
    try:
        speakers = tuple(p.name for p in client.get_ports(is_physical=True, is_input=True, is_audio=True))
    finally:
        client.close()
    return Backend("audio", name, True, "", ("jack", *(f"jack:{p}" for p in speakers)), (), "jack")


def midi_backends() -> list[Backend]:
    """One entry per python-rtmidi API compiled in (ALSA, JACK, CoreMIDI, WinMM)."""
    try:
        apis = compiled_apis()
    except OutputError as exc:
        return [Backend("midi", "python-rtmidi", False, str(exc))]
    backends = []
    for api in apis:
        try:
            outputs, inputs = probe_api(api)
        except OutputError as exc:
            backends.append(Backend("midi", api.display_name, False, str(exc)))
            continue
        default = outputs[0] if outputs else None
        backends.append(Backend("midi", api.display_name, True, "", outputs, inputs, default))
    return backends


def midi_backend_in_use() -> str:
    """The mido backend MIDI output will use, and why that one (or why none can be used)."""
    chosen_by = "from MIDO_BACKEND" if os.environ.get("MIDO_BACKEND") else "the first MIDI system that works"
    try:
        name = backend_name()
        load_backend(name)
    except OutputError as exc:
        return f"none usable ({exc})"
    return f"{name} ({chosen_by})"


def survey() -> Survey:
    """Everything at once, quietly; never raises."""
    with quiet_stderr():
        audio = [*audio_backends(), jack_audio_backend()]
        midi = midi_backends()
        chosen = midi_backend_in_use()
    return Survey(audio, midi, chosen)
