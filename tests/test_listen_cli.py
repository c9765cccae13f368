"""`companion listen` and `companion cadence`: one-line errors, and real runs on JACK logging to a record."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.hit_sender import HitSender

from companion.cli import main
from companion.record import Cadence, Record, Sync

COMPANION = str(Path(sys.executable).with_name("companion"))
JACK_ENV = {"MIDO_BACKEND": "mido.backends.rtmidi/UNIX_JACK"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["listen", "--bpm", "500"], "bpm 500 is out of range"),
        (["listen", "--bpm", "90", "--midi-in", "a", "--virtual-in", "b"], "or --virtual-in NAME, not both"),
        (["listen", "--bpm", "90", "--block", "1"], "Invalid value for '--block'"),
        (["listen", "--bpm", "90", "--notes", "36,x"], "--notes '36,x' must be MIDI note numbers"),
        (["listen", "--bpm", "90", "--notes", "200"], "MIDI notes are 0-127"),
        (["listen", "--bpm", "90", "--adaptive", "sideways"], "Invalid value for '--adaptive'"),
        (["listen", "--bpm", "90", "--virtual", "v"], "need --output midi or both"),
        (["listen", "--bpm", "90", "--min-bpm", "100"], "outside this plan's range 100-300"),
        (["listen", "--bpm", "90", "--tolerance-ms", "0"], "Invalid value for '--tolerance-ms'"),
        (["cadence", "--taps", "2"], "Invalid value for '--taps'"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, message):
    result = CliRunner().invoke(main, args, prog_name="companion")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"companion {args[0]}: error: ")
    assert message in lines[0]


def test_an_unknown_client_is_named_before_any_device_opens(tmp_path):
    args = ["--data-dir", str(tmp_path), "cadence", "--client", "Nobody", "--seconds", "1"]
    result = CliRunner().invoke(main, args, prog_name="companion")
    assert result.exit_code == 1
    assert "no client named 'Nobody'" in result.output


def make_client(data: Path) -> tuple[int, int]:
    with Record.open(data, backup_every=None) as record:
        client = record.caseload.add_client("Robin")
        goal = record.caseload.add_goal(client.id, "fine motor", "Steady drumming")
        return client.id, record.caseload.add_objective(goal.id, "Drums on the beat at 120 bpm").id


def start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [COMPANION, *args],
        env=dict(os.environ, **JACK_ENV),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(proc: subprocess.Popen[str], prefix: str) -> list[str]:
    assert proc.stdout is not None
    lines = []
    while not (lines and lines[-1].startswith(prefix)):
        line = proc.stdout.readline()
        assert line, f"the command ended before {prefix!r}: {proc.stderr.read() if proc.stderr else ''}"
        lines.append(line.rstrip("\n"))
    return lines


@pytest.mark.jack
def test_listen_prints_each_hit_and_logs_blocks_against_the_objective(jack_server, tmp_path):
    client_id, objective_id = make_client(tmp_path)
    sender = HitSender(jack_server.name, "cli-drum")
    args = ["--data-dir", str(tmp_path), "listen", "--bpm", "120", "--count-in", "0", "--output", "midi"]
    args += ["--virtual", "cli-listen-click", "--midi-in", "cli-drum:out", "--block", "4", "--seconds", "5"]
    proc = start([*args, "--objective", str(objective_id)])
    try:
        head = wait_for_line(proc, "listening to")
        # The command starts the metronome just after that line, beat 0 at its 0.15 s lead: hits from
        # 0.15 s after reading the line are within milliseconds of the beats, far from a window's edge.
        begin = time.perf_counter() + 0.15
        sender.play_at([(begin + k * 0.5, 38, 100) for k in range(9)])
        out, err = proc.communicate(timeout=60)
    finally:
        sender.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    lines = head + out.splitlines()
    assert lines[0] == "logging to new session 1 of Robin"
    assert lines[1].startswith("listening to cli-drum:out (sample-accurate")
    assert sum(line.startswith("beat ") for line in lines) >= 7
    blocks = [line for line in lines if line.startswith("block ")]
    assert blocks and blocks[0].startswith("block 1 (4 beats at 120.0 bpm): ")
    assert blocks[0].endswith(": saved")
    assert lines[-1].startswith("stopped: 9 hits; ") and lines[-1].endswith("saved to session 1")
    with Record.open(tmp_path, backup_every=None) as record:
        events = record.events.session_events(1)
        session = record.sessions.session(1)
    syncs = [e for e in events if isinstance(e.payload, Sync)]
    assert len(syncs) >= 2 and {(e.client_id, e.objective_id) for e in syncs} == {(client_id, objective_id)}
    first = syncs[0].payload
    assert isinstance(first, Sync) and first.missed == 0 and first.sd_ms < 0.1  # one steady offset
    assert -50 < first.mean_asynchrony_ms < 100
    assert session.ended_at is not None


@pytest.mark.jack
def test_an_unknown_midi_input_names_the_ports_there_are(jack_server, tmp_path):
    sender = HitSender(jack_server.name, "cli-known")
    try:
        run = subprocess.run(
            [COMPANION, "listen", "--bpm", "90", "--output", "midi", "--virtual", "x", "--midi-in", "nodrum"],
            env=dict(os.environ, **JACK_ENV),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        sender.close()
    assert run.returncode == 1
    assert "companion listen: error: no MIDI input 'nodrum'" in run.stderr and "cli-known:out" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.jack
def test_cadence_from_pedal_taps_is_printed_and_saved(jack_server, tmp_path):
    make_client(tmp_path)
    sender = HitSender(jack_server.name, "cli-pedal")
    args = ["--data-dir", str(tmp_path), "cadence", "--midi-in", "cli-pedal", "--client", "Robin"]
    proc = start([*args, "--taps", "9", "--seconds", "20"])
    try:
        wait_for_line(proc, "listening to")
        taps = [time.perf_counter() + 0.3 + k * 0.6 for k in range(8)]
        taps.insert(2, taps[1] + 0.06)  # a bounce on the pedal
        sender.play_at([(t, 36, 100) for t in taps])
        out, err = proc.communicate(timeout=60)
    finally:
        sender.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[-2].startswith("cadence 100.0 steps/min (CV 0.0%), 8 steps in ")
    assert "1 double taps dropped" in lines[-2] and lines[-2].endswith("RAS baseline 100.0 bpm")
    assert lines[-1] == "saved to session 1"
    with Record.open(tmp_path, backup_every=None) as record:
        (event,) = record.events.session_events(1)
    assert isinstance(event.payload, Cadence)
    assert event.payload.steps_per_min == pytest.approx(100.0, abs=0.01)
