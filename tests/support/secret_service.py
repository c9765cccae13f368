"""Start and stop a private Secret Service (GNOME Keyring on its own D-Bus) for the OS keyring tests.

Why a real one and not a mock: what `companion encrypt --keyring` promises (the key is in the keyring, the
folder opens with no prompt, a missing entry or keyring is named) is about a real keyring's entries and
failures, talked to over D-Bus by the same `keyring` library the app uses. The bus and the daemon live in a
temporary folder (the keyring file too, never the user's own), the bus can start no service by itself (so
no keyring other than ours can answer, nor a second copy of it that would pop up an unlock prompt), and the
daemon's login keyring is created unlocked from a password on its stdin.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

INSTALL_HINT = (
    "install them with `sudo apt-get install -y dbus-daemon gnome-keyring` (or `scripts/system-deps.sh test`)"
)
SECRETS_NAME = "org.freedesktop.secrets"
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={folder}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
"""A session bus with no <servicedir>: nothing is started on demand, only what we start ourselves runs."""


class SecretServiceUnavailable(RuntimeError):
    """No Secret Service can be started here; the message says what is missing."""


@contextlib.contextmanager
def private_secret_service(folder: Path) -> Iterator[str]:
    """Start a D-Bus session bus and GNOME Keyring's secrets component in `folder`; yield the bus address
    (for DBUS_SESSION_BUS_ADDRESS) once the keyring answers on it; stop both at the end."""
    programs = {name: shutil.which(name) for name in ("dbus-daemon", "gnome-keyring-daemon")}
    absent = [name for name, path in programs.items() if path is None]
    if absent:
        raise SecretServiceUnavailable(f"{' and '.join(absent)} not found: {INSTALL_HINT}")
    (folder / "bus.conf").write_text(BUS_CONFIG.format(folder=folder))
    runtime = folder / "run"
    runtime.mkdir(mode=0o700)
    bus_log = folder / "dbus-daemon.log"
    with open(bus_log, "wb") as output:  # its warnings (about an fd limit, say) stay out of the tests' output
        bus = subprocess.Popen(
            [
                str(programs["dbus-daemon"]),
                f"--config-file={folder / 'bus.conf'}",
                "--nofork",
                "--print-address",
            ],
            stdout=subprocess.PIPE,
            stderr=output,
            text=True,
        )
    keyring: subprocess.Popen[bytes] | None = None
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()
        if not address:
            raise SecretServiceUnavailable(
                f"dbus-daemon exited with {bus.wait()} before giving its address: {_tail(bus_log)}"
            )
        env = {
            **os.environ,
            "HOME": str(folder),
            "XDG_DATA_HOME": str(folder / "data"),
            "XDG_RUNTIME_DIR": str(runtime),
            "DBUS_SESSION_BUS_ADDRESS": address,
        }
        log = folder / "gnome-keyring.log"
        with open(log, "wb") as output:
            keyring = subprocess.Popen(
                [str(programs["gnome-keyring-daemon"]), "--foreground", "--unlock", "--components=secrets"],
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
            )
        assert keyring.stdin is not None
        keyring.stdin.write(b"the test login keyring's password")  # creates the login keyring, unlocked
        keyring.stdin.close()
        _wait_for_secrets(address, keyring, log)
        yield address
    finally:
        for process in (keyring, bus):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
        if bus.stdout is not None:
            bus.stdout.close()


def _wait_for_secrets(address: str, keyring: subprocess.Popen[bytes], log: Path) -> None:
    """Until the daemon owns the Secret Service's name on the bus (it registers it once it is ready)."""
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    deadline = time.monotonic() + 20
    with open_dbus_connection(bus=address) as connection:
        while time.monotonic() < deadline:
            if keyring.poll() is not None:
                raise SecretServiceUnavailable(
                    f"gnome-keyring-daemon exited with {keyring.returncode}: {_tail(log)}"
                )
            reply = connection.send_and_get_reply(message_bus.NameHasOwner(SECRETS_NAME))
            if reply.body[0]:
                return
            time.sleep(0.02)
    raise SecretServiceUnavailable(
        f"gnome-keyring-daemon did not answer within 20 s: {log.read_text(errors='replace')}"
    )


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]
