"""Shared fixtures.

The JACK fixture starts a real `jackd -d dummy` server: it gives tests real audio and MIDI ports without
any sound card. Each test run uses its own server name so parallel runs never share a server. In CI
(CI=true) a missing JACK is a failure, not a skip: the timing tests are the point of the engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SAMPLE_RATE = 48_000
PERIOD = 128


@dataclass(frozen=True)
class JackServer:
    """A running dummy JACK server and the settings tests need to talk to it."""

    name: str
    samplerate: int
    blocksize: int


def _missing_jack(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"JACK is required in CI but unavailable: {reason}")
    pytest.skip(f"JACK unavailable: {reason}")


def _wait_for_server(name: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import jack

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jackd exited with {proc.returncode}: {log.read_text(errors='replace')}")
        try:
            client = jack.Client("companion-probe", servername=name, no_start_server=True)
        except jack.JackError:
            time.sleep(0.05)
            continue
        client.close()
        return
    raise RuntimeError(f"jackd did not come up within 10 s: {log.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def jack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JackServer]:
    """Start `jackd -d dummy -r 48000 -p 128` for the whole test session and point every client at it.

    JACK_DEFAULT_SERVER is read by libjack itself, so python-rtmidi's JACK API, PortAudio's JACK host
    API (through sounddevice) and JACK-Client all reach this server without extra arguments.
    """
    jackd = shutil.which("jackd")
    if jackd is None:
        _missing_jack("no `jackd` on PATH (Debian package jackd2)")
    try:
        import jack  # noqa: F401
    except (ImportError, OSError) as exc:
        _missing_jack(f"JACK-Client cannot load libjack: {exc}")
    name = f"companion-test-{os.getpid()}"
    log = tmp_path_factory.mktemp("jack") / "jackd.log"
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [jackd, "--no-realtime", "-n", name, "-d", "dummy", "-r", str(SAMPLE_RATE), "-p", str(PERIOD)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    previous = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    try:
        _wait_for_server(name, proc, log)
        os.environ["JACK_DEFAULT_SERVER"] = name
        os.environ["JACK_NO_START_SERVER"] = "1"
        _rescan_portaudio()
        yield JackServer(name=name, samplerate=SAMPLE_RATE, blocksize=PERIOD)
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        # PortAudio must let go of the server before it stops, or its JACK host API asserts at exit.
        _release_portaudio()
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        _rescan_portaudio()


def _release_portaudio() -> None:
    """Terminate PortAudio (every nested initialisation) so it holds no JACK client."""
    if "sounddevice" not in sys.modules:
        return
    sd = sys.modules["sounddevice"]
    while sd._initialized:
        sd._terminate()


def _rescan_portaudio() -> None:
    """PortAudio enumerates host APIs once at initialisation; re-initialise so it sees the current server."""
    if "sounddevice" not in sys.modules:
        return
    _release_portaudio()
    sys.modules["sounddevice"]._initialize()
