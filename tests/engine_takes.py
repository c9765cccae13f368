"""Recording the engine on JACK: shared by the engine's and the cues' JACK tests.

A take starts a metronome, records its ports with a second JACK client (`jackd.JackRecorder`, the tests'
independent witness) and returns what was heard with the tempo map that played. MIDI over python-rtmidi's
JACK API leaves at the start of the next JACK period (128 frames = 2.67 ms), so MIDI tolerances are one
period plus scheduling slack; audio is exact.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from jackd import JackRecorder

from audio.engine import EngineStatus, Metronome, MidiConfig
from audio.events import OutputProblem
from audio.midi_output import MidiSettings
from audio.tempo import TempoMap, TempoSettings

JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"
PERIOD_S = 128 / 48_000
# MIDI leaves at the next period start (0..1 period late) plus thread wake-up slack on a shared machine.
MIDI_EARLY_S, MIDI_LATE_S = 0.001, PERIOD_S + 0.004
COMPANION = str(Path(sys.executable).with_name("companion"))


def engine_audio_ports(rec: JackRecorder) -> list[str]:
    return [p.name for p in rec.client.get_ports("PortAudio", is_audio=True, is_output=True)]


def engine_midi_port(rec: JackRecorder, virtual: str) -> str:
    (port,) = [p.name for p in rec.client.get_ports(f":{virtual}$", is_midi=True, is_output=True)]
    return port


@dataclass
class Take:
    """One recorded run: the witness, the tempo map that played, beat 0's time and what open() said."""

    rec: JackRecorder
    tempo: TempoMap
    origin: float
    problems: list[OutputProblem]
    status: EngineStatus


def play(
    recorder: Callable[[], JackRecorder],
    make: Callable[[], Metronome],
    seconds: float,
    *,
    audio: bool = False,
    midi: str | None = None,
    during: Callable[[Metronome], None] | None = None,
    attempts: int = 3,
) -> Take:
    """Play and record; retake (up to `attempts`) when JACK had an xrun, since then the witness's own
    timeline is broken (a busy shared machine), not the engine. The last take is returned regardless."""
    for _ in range(attempts):
        metronome = make()
        problems = metronome.open()
        rec = recorder()
        if audio:
            rec.connect_audio(engine_audio_ports(rec)[0])
        if midi:
            rec.connect_midi(engine_midi_port(rec, midi))
        try:
            origin = metronome.start()
            if during is not None:
                during(metronome)
            time.sleep(max(0.0, origin - time.perf_counter()) + seconds)
            tempo, status = metronome.tempo_map, metronome.status()
            metronome.stop()
            time.sleep(0.05)
        finally:
            rec.close()
            metronome.close()
        assert tempo is not None
        take = Take(rec, tempo, origin, problems, status)
        if rec.clean:
            break
    return take


def midi_metronome(settings: TempoSettings, midi: MidiSettings | None = None) -> Callable[[], Metronome]:
    config = MidiConfig(virtual="click", backend=JACK_MIDI, settings=midi or MidiSettings())
    return lambda: Metronome(settings, midi=config)


def held_notes(midi: Iterable[tuple[int, bytes]]) -> Counter[tuple[int, int]]:
    """What a keyboard would still hold after receiving these messages (a note-off for a silent note, or
    CC 123 all-notes-off, ends nothing more than what is sounding)."""
    held: Counter[tuple[int, int]] = Counter()
    for _, data in midi:
        kind, channel = data[0] & 0xF0, data[0] & 0x0F
        if kind == 0x90 and len(data) == 3 and data[2] > 0:
            held[(channel, data[1])] += 1
        elif (kind == 0x80 or (kind == 0x90 and data[2] == 0)) and held[(channel, data[1])]:
            held[(channel, data[1])] -= 1
        elif kind == 0xB0 and data[1] == 123:
            for key in [k for k in held if k[0] == channel]:
                del held[key]
    return +held


@dataclass
class CliTake:
    """A `companion` command that played into a virtual JACK MIDI port, and what the recorder heard."""

    returncode: int
    out: str
    err: str
    rec: JackRecorder


def record_cli_midi(args: list[str], virtual: str) -> CliTake:
    """Run `companion ARGS --output midi --virtual VIRTUAL` and record that port until the command ends.

    The recorder connects only once the port exists (see JackRecorder.close on why the order matters).
    """
    import jack

    env = dict(os.environ, MIDO_BACKEND=JACK_MIDI)
    proc = subprocess.Popen(
        [COMPANION, *args, "--output", "midi", "--virtual", virtual],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    rec = None
    try:
        probe = jack.Client(f"{virtual}-probe", no_start_server=True)
        deadline = time.monotonic() + 10
        while not probe.get_ports(f":{virtual}$", is_midi=True) and time.monotonic() < deadline:
            time.sleep(0.02)
        probe.close()
        rec = JackRecorder(f"{virtual}-recorder", seconds=10)
        (port,) = [p.name for p in rec.client.get_ports(f":{virtual}$", is_midi=True, is_output=True)]
        rec.connect_midi(port)
        out, err = proc.communicate(timeout=60)
    finally:
        if rec is not None:
            rec.close()
        if proc.poll() is None:
            proc.kill()
    return CliTake(proc.returncode, out, err, rec)
