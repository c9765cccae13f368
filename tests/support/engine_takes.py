"""Recording the engine on JACK: shared by the engine's and the cues' JACK tests.

A take starts a metronome, records its ports with a second JACK client in a process of its own
(`recorder.RecorderProcess`, the tests' independent witness) and returns what was heard with the tempo map
that played. MIDI over python-rtmidi's JACK API leaves at the start of the next JACK period (128 frames =
2.67 ms), so MIDI tolerances are one period plus scheduling slack; audio is exact.

A take is judged only when its witness is clean (`Witness.clean`: no JACK xrun, no missed cycle, no MIDI
in a late cycle); otherwise it is taken again, up to `ATTEMPTS` times (each retake first waits for a quiet
host, see `retake_after`), and a test whose witness is never clean fails saying so. Where a machine stalls
every few seconds (a CI host that lends its cores out), whole clean takes of several seconds become rare; the
app's takes then judge what the witness did see cleanly (`Witness.trusted`, `judge_or_retake`), never
what it missed. The engine plays in its own process (`RemoteMetronome`, as the app and the CLI run it) unless
a test needs the in-process `Metronome` itself.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from audio.engine import Metronome
from audio.engine_client import RemoteMetronome
from audio.engine_config import EngineStatus, MidiConfig
from audio.engine_events import OutputProblem
from audio.midi_output import MidiSettings
from audio.tempo import TempoSettings
from audio.tempo_map import TempoMap
from support.host_steal import wait_until_quiet
from support.jackd import find_ports
from support.recorder import JackRecorder, RecorderProcess
from support.witness import LATE_S, RecordedTake, Witness

JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"
PERIOD_S = 128 / 48_000
# MIDI leaves at the next period start (0..1 period late) plus thread wake-up slack on a shared machine.
# It is never early: a clean witness stamps no message more than LATE_S before it was sent.
MIDI_EARLY_S, MIDI_LATE_S = LATE_S, PERIOD_S + 0.004
COMPANION = str(Path(sys.executable).with_name("companion"))
ATTEMPTS = 6
RECORD_S = 20.0
"""The witness's buffer: longer than any take."""

Engine = Metronome | RemoteMetronome
T = TypeVar("T")


class WitnessNeverClean(AssertionError):
    """No take had a clean witness: nothing was judged, and the test must not pass."""


def never_clean(troubles: list[str]) -> WitnessNeverClean:
    takes = "; ".join(f"take {k}: {trouble}" for k, trouble in enumerate(troubles, 1))
    return WitnessNeverClean(f"the witness was never clean in {len(troubles)} takes, none judged: {takes}")


def clean_take(
    take: Callable[[], T],
    witness: Callable[[T], Witness],
    attempts: int = ATTEMPTS,
    check: Callable[[T], None] | None = None,
) -> T:
    """The first of up to `attempts` takes that is judged; WitnessNeverClean when none is.

    Without `check` a take is judged only when its witness is clean; with it, also when its witness was
    not clean but the check holds (`judge_or_retake`)."""
    troubles: list[str] = []
    for _ in range(attempts):
        result = take()
        heard = witness(result)
        if check is None:
            trouble = None if heard.clean else heard.trouble()
        else:
            trouble = judge_or_retake(heard.clean, heard.trouble(), partial(check, result))
        if trouble is None:
            return result
        troubles.append(trouble)
        retake_after(trouble)
    raise never_clean(troubles)


RETAKES: list[str] = []
"""Every retake of this test run, for the run's summary (`conftest.pytest_terminal_summary`)."""
QUIET_WAITS: list[float] = []
"""Seconds each retake waited for a quiet host, for the same summary."""


def retake_after(trouble: str) -> None:
    """Say on stderr (pytest shows it with a failure) why a take is played again, then wait until the
    host leaves the machine alone (`host_steal.wait_until_quiet`): a take played in the middle of the
    storm that spoiled the last one would most likely be spoiled too. Async tests run this in a thread,
    so that the app under test plays on meanwhile."""
    RETAKES.append(trouble)
    print(f"retake: the witness was not clean ({trouble})", file=sys.stderr)
    QUIET_WAITS.append(wait_until_quiet())


def judge_or_retake(clean: bool, trouble: str, check: Callable[[], None]) -> str | None:
    """Judge a take by `check` (assertions on what the witness heard): None when it is judged.

    A clean take's failed check fails the test. A take whose witness was not clean is judged when its
    check holds: a lost cycle can drop or move what the engine played, never put right what it played
    wrong, and the check itself asks for everything it expects to hear. When such a take's check fails,
    its trouble (with the failure) is returned and the take is to be played again."""
    if clean:
        check()
        return None
    try:
        check()
    except AssertionError as failure:
        return f"{trouble}; its check failed: {(str(failure).splitlines() or [''])[0][:200]}"
    return None


def engine_audio_port() -> str:
    """The engine's first audio output (PortAudio registers ports only for an open stream)."""
    return find_ports("PortAudio", is_audio=True, is_output=True)[0]


def engine_midi_port(virtual: str) -> str:
    (port,) = find_ports(f":{virtual}$", is_midi=True, is_output=True)
    return port


@dataclass
class Take:
    """One recorded run: the witness, the tempo map that played, beat 0's time and what open() said."""

    rec: RecordedTake
    tempo: TempoMap
    origin: float
    problems: list[OutputProblem]
    status: EngineStatus


def play(
    make: Callable[[], Engine],
    seconds: float,
    *,
    audio: bool = False,
    midi: str | None = None,
    during: Callable[[Engine], None] | None = None,
    stopped: Callable[[Engine], None] | None = None,
    attempts: int = ATTEMPTS,
    check: Callable[[Take], None] | None = None,
) -> Take:
    """Play `seconds` after beat 0 and record; `during` runs once started, `stopped` once stopped (the
    metronome still open). A take that is not judged is played again (a fresh metronome from `make`,
    `during` again), and WitnessNeverClean is raised when no take is: without `check` a take is judged
    only when its witness is clean, with it also when the check holds on an unclean witness (see
    `clean_take`; the test's assertions belong in `check`). The witness records until the metronome has
    stopped (stop messages included) and stops before the metronome closes.
    """

    def once() -> Take:
        metronome = make()
        try:
            problems = metronome.open()
            witness = RecorderProcess(
                "witness",
                RECORD_S,
                audio=engine_audio_port() if audio else None,
                midi=engine_midi_port(midi) if midi else None,
            )
            try:
                origin = metronome.start()
                if during is not None:
                    during(metronome)
                time.sleep(max(0.0, origin - time.perf_counter()) + seconds)
                tempo, status = metronome.tempo_map, metronome.status()
                metronome.stop()
                if stopped is not None:
                    stopped(metronome)
                time.sleep(0.05)
            finally:
                rec = witness.stop()
        finally:
            metronome.close()
        assert tempo is not None
        return Take(rec, tempo, origin, problems, status)

    return clean_take(once, lambda take: take.rec, attempts, check)


def midi_metronome(settings: TempoSettings, midi: MidiSettings | None = None) -> Callable[[], Engine]:
    """A metronome on a virtual JACK MIDI port "click", in the engine's own process."""
    config = MidiConfig(virtual="click", backend=JACK_MIDI, settings=midi or MidiSettings())
    return lambda: RemoteMetronome(settings, midi=config)


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


def record_cli_midi(args: list[str], virtual: str, check: Callable[[CliTake], None] | None = None) -> CliTake:
    """Run `companion ARGS --output midi --virtual VIRTUAL` and record that port until the command ends;
    run it again when the take is not judged (see `clean_take`).

    The recorder connects only once the port exists (see JackRecorder.close on why the order matters).
    """
    return clean_take(lambda: _record_cli_midi_once(args, virtual), lambda take: take.rec, check=check)


def _record_cli_midi_once(args: list[str], virtual: str) -> CliTake:
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
    gc.disable()  # no collection of the test process's objects in the recorder's callback (see recorder)
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
        gc.enable()
        if proc.poll() is None:
            proc.kill()
    return CliTake(proc.returncode, out, err, rec)
