"""Start and stop a private `jackd -d dummy` server: shared by the pytest fixture and the benchmarks.

Why a plain module: the timing benchmark needs the same server as the tests (a real JACK graph without a
sound card), and one copy of the start/stop code keeps them measuring the same thing. A benchmark puts
`tests/` on `sys.path` and imports `support.jackd`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 48_000
PERIOD = 128
LOG_ENV = "COMPANION_TEST_JACKD_LOG"
"""Where the running test server's log is (set by `dummy_jack`), for witnesses to quote from."""


class JackUnavailable(RuntimeError):
    """No JACK server can be started here; the message says what is missing."""


@dataclass(frozen=True)
class JackServer:
    """A running dummy JACK server and the settings tests need to talk to it."""

    name: str
    samplerate: int
    blocksize: int
    realtime: bool = False
    log: Path | None = None
    """jackd's own output: it names the client that missed a cycle at each xrun (see `witness.ServerLog`)."""


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


def _die_with_parent() -> None:
    """Linux: jackd gets SIGTERM when the process that started it dies, even by SIGKILL or a timeout.

    Why: JACK allows only a few servers per machine; leaked servers from killed runs fill that quota and
    make every later run fail with "Too many servers already active".
    """
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _realtime_flag() -> str:
    """Realtime scheduling where this user may have it (root, or an rtprio limit), as a real rig runs.

    Why: on a busy shared machine a non-realtime dummy driver falls behind and then runs cycles back to
    back to catch up, which distorts the very timeline the timing tests measure against.
    """
    import resource

    allowed = os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_RTPRIO)[0] > 0
    return "--realtime" if allowed else "--no-realtime"


@contextmanager
def dummy_jack(
    name: str | None = None, log_dir: Path | None = None, samplerate: int = SAMPLE_RATE, period: int = PERIOD
) -> Iterator[JackServer]:
    """Run `jackd -d dummy -r RATE -p PERIOD` (realtime when allowed) and point every JACK client at it.

    JACK_DEFAULT_SERVER is read by libjack itself, so python-rtmidi's JACK API, PortAudio's JACK host
    API (through sounddevice) and JACK-Client all reach this server without extra arguments. Raises
    JackUnavailable when jackd or libjack is missing.
    """
    jackd = shutil.which("jackd")
    if jackd is None:
        raise JackUnavailable("no `jackd` on PATH (Debian package jackd2)")
    try:
        import jack  # noqa: F401
    except (ImportError, OSError) as exc:
        raise JackUnavailable(f"JACK-Client cannot load libjack: {exc}") from None
    name = name or f"companion-test-{os.getpid()}"
    log = Path(log_dir or tempfile.mkdtemp(prefix="jackd-")) / "jackd.log"
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    realtime = _realtime_flag()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [jackd, realtime, "-n", name, "-d", "dummy", "-r", str(samplerate), "-p", str(period)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_die_with_parent,
        )
    previous = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER", LOG_ENV)}
    try:
        _wait_for_server(name, proc, log)
        os.environ["JACK_DEFAULT_SERVER"] = name
        os.environ["JACK_NO_START_SERVER"] = "1"
        os.environ[LOG_ENV] = str(log)
        _rescan_portaudio()
        yield JackServer(name, samplerate, period, realtime == "--realtime", log)
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        # PortAudio must let go of the server before it stops, or its JACK host API asserts at exit.
        _release_portaudio()
        if not _stop(proc):
            _reclaim_slot(jackd, name, env)
        _rescan_portaudio()


def _stop(proc: subprocess.Popen[bytes]) -> bool:
    """SIGTERM, then SIGKILL after 10 s; True when the server shut down cleanly."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


def _reclaim_slot(jackd: str, name: str, env: dict[str, str]) -> None:
    """A killed jackd leaves its entry in JACK's machine-wide registry of (at most 8) servers, and only
    a server of the same name frees it; so start one under that name and stop it cleanly."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        proc = subprocess.Popen(
            [jackd, "--no-realtime", "-n", name, "-d", "dummy"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            preexec_fn=_die_with_parent,
        )
        time.sleep(1.0)
        _stop(proc)


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


def find_ports(pattern: str, **kinds: bool) -> list[str]:
    """Port names matching `pattern` (a regex, as JACK takes it), from a short-lived client."""
    import jack

    client = jack.Client("companion-port-lookup", no_start_server=True)
    try:
        return [p.name for p in client.get_ports(pattern, **kinds)]
    finally:
        client.close()
