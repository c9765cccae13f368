"""Which MIDI system the metronome plays on without MIDO_BACKEND: the one `companion devices` reports as
working (issue 14: devices said "midi: Jack", the metronome said "no MIDI backend ... install
python-rtmidi", with python-rtmidi installed).

Why they disagreed: with no system named, rtmidi tries only its first one (ALSA) and gives up when that
fails, while `companion devices` probes every system. The machine here is simulated (JACK running, no ALSA
sequencer) by standing in for python-rtmidi's port classes, so the test needs neither.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import rtmidi
from click.testing import CliRunner
from support.engine_takes import COMPANION

from audio.devices import survey
from audio.errors import OutputError
from audio.midi_hits import MidiInputError, input_backend
from audio.midi_output import MidiOutput, backend_name
from companion.cli import main
from companion.live.listening_control import NO_INPUT, midi_inputs

ALSA_MISSING = "MidiOutAlsa::initialize: error creating ALSA sequencer client object."


class JackOnly:
    """rtmidi.MidiOut/MidiIn where JACK runs and there is no ALSA sequencer: as in RtMidi, asking for no
    system in particular tries ALSA first and fails with it."""

    def __init__(self, rtapi: int = rtmidi.API_UNSPECIFIED, name: str | None = None, **_: object) -> None:
        if rtapi in (rtmidi.API_UNSPECIFIED, rtmidi.API_LINUX_ALSA):
            raise rtmidi.SystemError(ALSA_MISSING)
        self.api = rtapi
        self.virtual: str | None = None

    def get_ports(self) -> list[str]:
        return []

    def get_current_api(self) -> int:
        return self.api

    def open_virtual_port(self, name: str) -> None:
        self.virtual = name

    def close_port(self) -> None:
        self.virtual = None

    def delete(self) -> None:
        pass


@pytest.fixture
def jack_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIDO_BACKEND", raising=False)
    monkeypatch.setattr(rtmidi, "get_compiled_api", lambda: [rtmidi.API_LINUX_ALSA, rtmidi.API_UNIX_JACK])
    monkeypatch.setattr(rtmidi, "MidiOut", JackOnly)
    monkeypatch.setattr(rtmidi, "MidiIn", JackOnly)


@pytest.mark.usefixtures("jack_only")
def test_without_mido_backend_midi_plays_on_the_system_devices_reports_working() -> None:
    found = survey()
    assert [b.name for b in found.working("midi")] == ["Jack"]
    assert backend_name() == "mido.backends.rtmidi/UNIX_JACK"
    output = MidiOutput(virtual="Companion")
    output.open()  # what `companion metronome --output midi` opens
    try:
        assert output.name == "Companion"
    finally:
        output.close()
    listing = CliRunner().invoke(main, ["devices"])
    assert "ALSA: unavailable: ALSA sequencer unavailable" in listing.output
    assert "MIDI backend in use: mido.backends.rtmidi/UNIX_JACK (the first MIDI system that works)" in (
        listing.output
    )
    assert "midi: Jack" in listing.output


def test_a_mido_backend_that_cannot_work_here_names_the_cause_and_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MIDO_BACKEND", "mido.backends.rtmidi/UNIX_JACK")
    monkeypatch.setattr(rtmidi, "get_compiled_api", lambda: [rtmidi.API_UNIX_JACK])

    def no_jack_server(*args: object, **kwargs: object) -> None:
        raise rtmidi.SystemError("MidiOutJack::initialize: JACK server not running?")

    monkeypatch.setattr(rtmidi, "MidiOut", no_jack_server)
    with pytest.raises(OutputError) as refused:
        MidiOutput(virtual="Companion").open()
    message = str(refused.value)
    assert "mido.backends.rtmidi/UNIX_JACK cannot be used here: JACK server not running" in message
    assert "start jackd" in message and "install python-rtmidi" not in message


def test_metronome_on_midi_with_no_midi_system_says_why_each_failed_not_install_rtmidi(
    tmp_path: Path,
) -> None:
    """A real run on this machine with no JACK server; ALSA too when it has no sequencer."""
    env = {k: v for k, v in os.environ.items() if k not in ("JACK_DEFAULT_SERVER", "MIDO_BACKEND")}
    env["JACK_DEFAULT_SERVER"] = f"companion-absent-{os.getpid()}"  # a server nobody runs
    env["JACK_NO_START_SERVER"] = "1"
    if Path("/dev/snd/seq").exists():
        pytest.skip("this machine has an ALSA sequencer: MIDI works here without JACK")
    run = subprocess.run(
        [COMPANION, "metronome", "--bpm", "90", "--output", "midi", "--virtual", "x", "--seconds", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert run.returncode == 1
    assert "no MIDI system works here" in run.stderr, run.stderr
    assert "ALSA sequencer unavailable" in run.stderr and "JACK server not running" in run.stderr
    assert "install python-rtmidi" not in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.usefixtures("jack_only")
def test_without_mido_backend_listening_asks_the_system_devices_reports_working() -> None:
    """Listening chose rtmidi's own default, ALSA, and said "the MIDI inputs cannot be listed" on a
    JACK-only machine where the metronome played: it now asks the same working system."""
    assert input_backend(None) == "mido.backends.rtmidi/UNIX_JACK"
    assert input_backend("mido.backends.rtmidi/LINUX_ALSA") == "mido.backends.rtmidi/LINUX_ALSA"
    with pytest.raises(MidiInputError) as raised:
        midi_inputs()
    assert str(raised.value) == NO_INPUT  # JACK answered: no instrument plugged in, not "cannot be listed"
