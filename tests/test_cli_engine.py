"""`companion devices` and `companion metronome`: one-line errors, no-device start, a real run on JACK."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from support.engine_takes import COMPANION, CliTake, record_cli_midi

from companion.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bpm", "500"], "bpm 500 is out of range: use 20-300 bpm"),
        (["--bpm", "abc"], "Invalid value for '--bpm'"),
        ([], "Missing option '--bpm'"),
        (["--bpm", "90", "--meter", "3-4"], "meter '3-4' is not a time signature"),
        (["--bpm", "90", "--accent", "Ab"], "accent pattern has 2 levels but the bar has 4 beats"),
        (["--bpm", "90", "--swing", "0.7"], "swing 0.7 is out of range"),
        (["--bpm", "90", "--ramp-to", "110"], "--ramp-to and --ramp-beats go together"),
        (["--bpm", "90", "--ramp-to", "400", "--ramp-beats", "8"], "ramp to_bpm 400 is out of range"),
        (["--bpm", "90", "--output", "midi", "--midi-port", "a", "--virtual", "b"], "not both"),
        (["--bpm", "90", "--virtual", "b"], "need --output midi or both"),
        (["--bpm", "90", "--output", "speaker"], "Invalid value for '--output'"),
        (["--bpm", "90", "--seconds", "-1"], "Invalid value for '--seconds'"),
    ],
)
def test_bad_metronome_arguments_give_one_line_and_exit_2(args, message):
    result = CliRunner().invoke(main, ["metronome", *args], prog_name="companion")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("companion metronome: error: ")
    assert message in lines[0]


def without_jack() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("JACK_DEFAULT_SERVER", "MIDO_BACKEND")}
    env["JACK_DEFAULT_SERVER"] = f"companion-absent-{os.getpid()}"  # a server nobody runs
    env["JACK_NO_START_SERVER"] = "1"
    return env


def test_the_app_and_devices_start_without_any_device():
    env = without_jack()
    app = subprocess.run([COMPANION], env=env, capture_output=True, text=True, timeout=60)
    assert app.returncode == 0, app.stderr
    listing = subprocess.run([COMPANION, "devices"], env=env, capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    out = listing.stdout
    assert "Audio (PortAudio host APIs" in out and "MIDI (python-rtmidi APIs)" in out
    assert "Jack: unavailable: JACK server not running: start jackd" in out
    assert "JACK direct: unavailable: JACK server not running: start jackd" in out
    assert out.strip().splitlines()[-1].startswith("Working outputs: ")
    assert "Traceback" not in listing.stderr


def test_metronome_without_any_output_says_why_and_exits_1():
    env = without_jack()
    env["MIDO_BACKEND"] = "mido.backends.rtmidi/UNIX_JACK"
    run = subprocess.run(
        [COMPANION, "metronome", "--bpm", "90", "--output", "midi", "--virtual", "x", "--seconds", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "no output could be opened" in run.stderr and "JACK" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.jack
def test_devices_lists_the_jack_outputs(jack_server):
    run = subprocess.run([COMPANION, "devices"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "JACK Audio Connection Kit:" in run.stdout
    assert "output  system (default)" in run.stdout
    assert "JACK direct:\n    output  jack (default)\n    output  jack:system:playback_1" in run.stdout
    assert "Working outputs: audio: JACK Audio Connection Kit, JACK direct; midi: Jack" in run.stdout


@pytest.mark.jack
def test_metronome_plays_a_virtual_midi_port_on_jack(jack_server):
    args = ["metronome", "--bpm", "120", "--meter", "3/4", "--count-in", "1", "--seconds", "2.5"]
    record_cli_midi(args, "cli-click", check=counts_in_then_keeps_time)


def counts_in_then_keeps_time(take: CliTake) -> None:
    """A bar of count-in, then bars of 3/4 at 120 bpm, every beat half a second after the last."""
    assert take.returncode == 0, take.err
    lines, rec = take.out.splitlines(), take.rec
    assert lines[:3] == [
        "count-in  beat 1  accent   120.0 bpm",
        "count-in  beat 2  beat     120.0 bpm",
        "count-in  beat 3  beat     120.0 bpm",
    ]
    assert "bar   1  beat 1  accent   120.0 bpm" in lines
    assert lines[-1].startswith("stopped: outputs midi; xruns 0;")
    notes = [frame for frame, _, _ in rec.note_ons()]
    assert len(notes) >= 5
    intervals = np.diff(notes) / 48_000
    assert np.all(np.abs(intervals - 0.5) < 128 / 48_000 + 0.004), intervals
