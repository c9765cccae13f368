"""The audio/MIDI ownership lock, exercised across real processes.

The lock matters exactly when two processes (two browser tabs, or a tab and a terminal) open the same data
folder, so the main tests run the owner in a child process and contend from this one (the last ones with
the app's metronome layer, which takes the lock before opening any output).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from companion.live.metronome_control import MetronomeControl
from companion.live.metronome_transport import OutputsInUse
from companion.output_lock import LOCK_NAME, ORIGIN_ENV, Holder, OutputLock, OutputLockError

OWNER_SCRIPT = """
import sys
from pathlib import Path
from companion.output_lock import OutputLock

lock = OutputLock.acquire(Path(sys.argv[1]))
print("locked" if lock else "busy", flush=True)
sys.stdin.readline()
if lock and sys.argv[2] == "release":
    lock.release()
    print("released", flush=True)
    sys.stdin.readline()
"""


class Owner:
    """A child process that takes the lock and holds it until told to release, exit or die."""

    def __init__(self, data_dir: Path, origin: str, then: str = "exit") -> None:
        env = dict(os.environ, **{ORIGIN_ENV: origin})
        self.proc = subprocess.Popen(
            [sys.executable, "-c", OWNER_SCRIPT, str(data_dir), then],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.first_line = self.read_line()

    def read_line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def tell(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def owner_factory(tmp_path: Path) -> Iterator[list[Owner]]:
    owners: list[Owner] = []
    yield owners
    for owner in owners:
        owner.stop()


def test_second_process_is_refused_and_told_who_owns_the_outputs(
    tmp_path: Path, owner_factory: list[Owner]
) -> None:
    owner = Owner(tmp_path, origin="a browser tab on 192.168.1.20")
    owner_factory.append(owner)
    assert owner.first_line == "locked"

    assert OutputLock.acquire(tmp_path) is None
    holder = OutputLock.holder_of(tmp_path)
    assert holder is not None
    assert holder.pid == owner.proc.pid
    assert holder.origin == "a browser tab on 192.168.1.20"
    assert holder.started is not None
    assert abs(datetime.now().astimezone() - holder.started) < timedelta(minutes=1)
    message = holder.describe()
    assert f"in a browser tab on 192.168.1.20 (pid {owner.proc.pid})" in message
    assert "log taps but not play" in message

    second = Owner(tmp_path, origin="a terminal")
    owner_factory.append(second)
    assert second.first_line == "busy"


def test_a_killed_owner_frees_the_outputs_and_its_description_is_ignored(
    tmp_path: Path, owner_factory: list[Owner]
) -> None:
    owner = Owner(tmp_path, origin="a browser tab on 10.0.0.7")
    owner_factory.append(owner)
    assert owner.first_line == "locked"
    owner.proc.send_signal(signal.SIGKILL)
    owner.proc.wait(timeout=10)

    leftover = json.loads((tmp_path / LOCK_NAME).read_text())
    assert leftover["pid"] == owner.proc.pid, "the dead owner's description is still on disk"
    assert OutputLock.holder_of(tmp_path) is None

    with OutputLock.acquire(tmp_path, origin="a terminal") as lock:
        assert lock is not None
        holder = OutputLock.holder_of(tmp_path)
        assert holder is not None
        assert (holder.pid, holder.origin) == (os.getpid(), "a terminal")


def test_a_released_lock_can_be_taken_by_another_process(tmp_path: Path, owner_factory: list[Owner]) -> None:
    owner = Owner(tmp_path, origin="a browser tab", then="release")
    owner_factory.append(owner)
    assert owner.first_line == "locked"
    owner.tell()
    assert owner.read_line() == "released"

    assert OutputLock.holder_of(tmp_path) is None
    lock = OutputLock.acquire(tmp_path)
    assert lock is not None
    lock.release()
    assert not lock.held
    lock.release()  # idempotent


def test_the_same_process_cannot_take_the_outputs_twice(tmp_path: Path) -> None:
    first = OutputLock.acquire(tmp_path)
    assert first is not None
    try:
        assert OutputLock.acquire(tmp_path) is None
    finally:
        first.release()
    assert OutputLock.acquire(tmp_path) is not None


def test_lock_file_is_private_even_if_it_was_not(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).touch(mode=0o644)
    (tmp_path / LOCK_NAME).chmod(0o644)
    lock = OutputLock.acquire(tmp_path)
    assert lock is not None
    lock.release()
    assert (tmp_path / LOCK_NAME).stat().st_mode & 0o777 == 0o600


def test_missing_data_folder_names_the_file_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(OutputLockError) as info:
        OutputLock.acquire(missing)
    text = str(info.value)
    assert str(missing / LOCK_NAME) in text
    assert "does not exist" in text
    assert "--data-dir" in text
    assert OutputLock.holder_of(missing) is None


def test_nobody_holds_an_untouched_folder(tmp_path: Path) -> None:
    assert OutputLock.holder_of(tmp_path) is None


def test_description_wording() -> None:
    now = datetime(2025, 3, 4, 10, 30).astimezone()
    today = Holder(pid=42, started=now.replace(hour=10, minute=2), origin="a terminal")
    assert today.describe(now).startswith(
        "audio/MIDI are in use by the session started at 10:02 in a terminal (pid 42)"
    )
    earlier = Holder(pid=42, started=now - timedelta(days=1), origin="a terminal")
    assert "started 03 Mar 10:30 in a terminal" in earlier.describe(now)
    unknown = Holder(pid=None, started=None, origin=None)
    assert unknown.describe(now).startswith(
        "audio/MIDI are in use by the session in another Companion window;"
    )


@pytest.mark.parametrize("text", ["", '{"pid": 4', "[]", '{"started": "yesterday"}'])
def test_half_written_or_foreign_descriptions_are_not_trusted(text: str) -> None:
    assert Holder.from_json(text) is None


def test_description_round_trips() -> None:
    holder = Holder.of_this_process("a browser tab on 127.0.0.1")
    assert Holder.from_json(holder.to_json()) == holder


def test_the_apps_metronome_opens_nothing_while_another_session_owns_the_outputs(
    tmp_path: Path, owner_factory: list[Owner]
) -> None:
    owner = Owner(tmp_path, origin="a browser tab on 10.0.0.7")
    owner_factory.append(owner)
    control = MetronomeControl("audio", audio_device="no-such-sound-card-xyz", shared_data_dir=tmp_path)
    with pytest.raises(OutputsInUse) as refused:
        control.start()
    assert refused.value.holder.pid == owner.proc.pid
    assert f"in a browser tab on 10.0.0.7 (pid {owner.proc.pid})" in str(refused.value)
    assert not control.running and not control.owns_outputs
    assert control.state().problems == {}, "no output was tried"


def test_the_apps_metronome_keeps_the_outputs_until_closed_and_needs_none_for_the_beat_light(
    tmp_path: Path,
) -> None:
    control = MetronomeControl("audio", audio_device="no-such-sound-card-xyz", shared_data_dir=tmp_path)
    try:
        control.start()  # the sound card is missing: the beat light runs, the outputs stay claimed
        assert control.running and control.owns_outputs
        control.stop()
        assert OutputLock.holder_of(tmp_path) is not None, "stopping between exercises keeps them"
        control.reconnect()
        assert OutputLock.holder_of(tmp_path) is not None, "retrying the devices keeps them"
    finally:
        control.close().result()
    assert OutputLock.holder_of(tmp_path) is None
    beat_light_only = MetronomeControl("none", shared_data_dir=tmp_path)
    with OutputLock.acquire(tmp_path, origin="a terminal"):
        try:
            assert beat_light_only.start().running, "no output to own: another session's lock is no bar"
        finally:
            beat_light_only.close()
