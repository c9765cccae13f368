"""The metronome control's thread contract: one lock for its state, one control thread for the slow steps.

Each test drives the control from two threads the way the app does (the UI thread and a worker, or the
engine's event thread) and slows one engine step down, so a control that did that step on the caller's
thread, or checked-then-built a cue player without holding its lock, fails here every time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import companion.live.metronome_transport as metronome_transport
from audio.cues import CLICK, GrooveCue
from audio.engine_client import RemoteCuePlayer, RemoteMetronome
from audio.engine_events import OutputProblem
from audio.grooves import GROOVES
from companion.live.metronome_control import MetronomeControl

SLOW_S = 0.3
"""How long a slowed engine step takes: far longer than any UI call may wait."""
UI_WAIT_S = 0.1
"""The most a call from the UI may take while an engine step is slow."""


@pytest.fixture
def control() -> Iterator[MetronomeControl]:
    control = MetronomeControl("none")
    try:
        yield control
    finally:
        control.close().result(timeout=10)


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run `calls` on threads of their own, released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results


def returns_quickly(call: Callable[[], object]) -> bool:
    """Whether `call` returned within UI_WAIT_S (run on a thread, so a blocking one cannot hang the test)."""
    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(UI_WAIT_S)
    return not worker.is_alive()


@pytest.fixture
def players(monkeypatch: pytest.MonkeyPatch) -> list[RemoteCuePlayer]:
    """Every cue player the control attaches; attaching takes SLOW_S, so racing threads overlap."""
    made: list[RemoteCuePlayer] = []

    class SlowPlayer(RemoteCuePlayer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            time.sleep(SLOW_S)
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(metronome_transport, "RemoteCuePlayer", SlowPlayer)
    return made


def slowed(monkeypatch: pytest.MonkeyPatch, method: str) -> threading.Event:
    """Make `RemoteMetronome.<method>` wait until the returned event is set (a device that takes long)."""
    release = threading.Event()
    original = getattr(RemoteMetronome, method)

    def waiting(self: RemoteMetronome, *args: Any, **kwargs: Any) -> Any:
        release.wait(10)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RemoteMetronome, method, waiting)
    return release


def test_two_threads_fading_the_click_at_once_attach_one_cue_player(
    control: MetronomeControl, players: list[RemoteCuePlayer]
) -> None:
    control.start()
    gains = at_once(control.fade_click, control.fade_click)
    control.stop().result(timeout=10)  # after every step asked before it
    assert len(players) == 1
    assert sorted(gains) == [0.0, 1.0]  # one press faded out, the other back in
    engine = control.engine
    assert engine is not None and engine.click_gain == 1.0


def test_a_cue_chosen_while_the_click_fades_plays_on_the_one_player(
    control: MetronomeControl, players: list[RemoteCuePlayer]
) -> None:
    rock = GrooveCue(GROOVES["rock"])
    control.start()
    at_once(lambda: control.set_cue(rock), control.fade_click)
    control.stop().result(timeout=10)
    assert len(players) == 1
    playing = control.state().playing
    assert playing is not None and playing.cue == rock and playing.click_gain == 0.0


def test_cue_changes_while_a_worker_opens_the_outputs_neither_wait_nor_make_a_second_player(
    control: MetronomeControl, players: list[RemoteCuePlayer], monkeypatch: pytest.MonkeyPatch
) -> None:
    release = slowed(monkeypatch, "open")
    rock = GrooveCue(GROOVES["rock"])
    worker = threading.Thread(target=control.start)
    worker.start()
    try:
        assert returns_quickly(lambda: control.set_cue(rock))
        assert returns_quickly(lambda: control.change_intensity(1))
        assert returns_quickly(control.state)
    finally:
        release.set()
        worker.join(timeout=10)
    assert control.running and len(players) == 1
    playing = control.state().playing
    assert playing is not None and playing.cue == GrooveCue(GROOVES["rock"], 3)


def test_stop_close_and_a_new_output_from_the_ui_do_not_wait_for_the_engine(
    control: MetronomeControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    control.start()
    stopping = slowed(monkeypatch, "stop")
    assert returns_quickly(control.stop)
    assert not control.state().running  # the panel says so at once
    stopping.set()
    closing = slowed(monkeypatch, "close")
    assert returns_quickly(lambda: control.set_output("midi"))
    assert returns_quickly(control.close)
    closed = control.close()
    assert not closed.done()
    closing.set()
    closed.result(timeout=10)
    assert control.engine is None and not control.owns_outputs and control.output == "midi"


def test_problems_from_the_event_thread_are_all_kept_while_the_ui_reads_them(
    control: MetronomeControl,
) -> None:
    """The engine's event thread records problems while the UI copies them for the panel."""
    outputs = [f"output-{n}" for n in range(2000)]
    done = threading.Event()
    seen: list[int] = []

    def relay(names: list[str]) -> None:
        for name in names:
            control._relay(OutputProblem(name, f"{name} unplugged"))

    def read() -> None:
        while not done.is_set():
            seen.append(len(control.state().problems))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        at_once(lambda: relay(outputs[::2]), lambda: relay(outputs[1::2]))
    finally:
        done.set()
        reader.join(timeout=10)
    assert control.state().problems.keys() == set(outputs)
    assert seen == sorted(seen)  # never one lost, then seen again
    assert control.state().cue is CLICK
