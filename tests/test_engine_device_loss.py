"""Audio device lost mid-run: the JACK server under the audio stream is killed; MIDI must play on.

The scenario runs in its own process (this file run as a script): PortAudio cannot terminate once its
server is gone (it blocks forever), so that process reports in JSON and leaves with `os._exit`. Audio and
MIDI sit on two different dummy JACK servers, so killing one is exactly "the sound card was unplugged".
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"


def scenario() -> None:
    sys.path[:0] = [str(HERE.parent), str(HERE)]
    from support.jackd import dummy_jack
    from support.recorder import RecorderProcess

    from audio.engine import Metronome
    from audio.engine_config import AudioConfig, MidiConfig
    from audio.engine_events import OutputProblem
    from audio.tempo import TempoSettings

    pid = os.getpid()
    with (
        dummy_jack(name=f"companion-midi-{pid}") as midi_server,
        dummy_jack(name=f"companion-doomed-{pid}") as doomed,
    ):
        import sounddevice  # noqa: F401  (PortAudio binds to the server named now: the doomed one)

        # python-rtmidi and the recorder join the other server.
        os.environ["JACK_DEFAULT_SERVER"] = midi_server.name
        events: list[object] = []
        metronome = Metronome(
            TempoSettings(bpm=240), audio=AudioConfig(), midi=MidiConfig(virtual="click", backend=JACK_MIDI)
        )
        metronome.add_listener(events.append)
        opened = [p.message for p in metronome.open()]
        recorder = RecorderProcess("loss-recorder", 10, midi="Companion:click")
        metronome.start()
        time.sleep(1.0)
        stop_server(doomed.name)  # SIGTERM: the server unregisters cleanly (SIGKILL would leak its slot)
        killed = time.perf_counter()
        time.sleep(2.5)
        status = metronome.status()
        take = recorder.stop()
        report = {
            "opened": opened,
            "killed": killed,
            "running": status.outputs["midi"].available and metronome.running,
            "audio": [status.outputs["audio"].available, status.outputs["audio"].message],
            "problems": [(e.output, e.message) for e in events if isinstance(e, OutputProblem)],
            "notes": [take.to_perf(frame) for frame, _, _ in take.note_ons()],
        }
        print(json.dumps(report), flush=True)
        if metronome.midi_output is not None:
            metronome.midi_output.close()
        stop_server(midi_server.name)
        os._exit(0)  # skips PortAudio's termination, which would wait for the dead server forever


def stop_server(name: str) -> None:
    """Terminate this process's jackd child serving `name` and wait until it has unregistered."""
    children = subprocess.check_output(["ps", "-o", "pid=,args=", "--ppid", str(os.getpid())], text=True)
    (jackd,) = [int(line.split()[0]) for line in children.splitlines() if f"-n {name} " in line]
    os.kill(jackd, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.waitpid(jackd, os.WNOHANG) == (0, 0):
        time.sleep(0.05)


@pytest.mark.jack
def test_losing_the_audio_device_is_reported_and_midi_plays_on(jack_server):
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    run = subprocess.run(
        [sys.executable, __file__], env=env, capture_output=True, text=True, timeout=120, cwd=HERE.parent
    )
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["opened"] == []
    available, message = report["audio"]
    assert available is False
    assert "stopped producing sound" in message and "reconnect" in message
    assert [output for output, _ in report["problems"]] == ["audio"]
    assert report["running"] is True
    notes = np.array(report["notes"])
    after = notes[notes > report["killed"] + 0.5]
    assert len(after) >= 6  # MIDI went on at 240 bpm after the audio server died
    assert np.all(np.abs(np.diff(after) - 0.25) < 128 / 48_000 + 0.004)


if __name__ == "__main__":
    scenario()
