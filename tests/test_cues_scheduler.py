"""The scheduler hands a source back what it never sent (stop, flush), so the source can end its notes.

Real scheduler thread, real clock; the "port" is a list of what was sent, which is all the scheduler sees.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import mido

from audio.scheduler import MidiScheduler, ReleasingSource


def note(kind: str, pitch: int) -> mido.Message:
    return mido.Message(kind, note=pitch, velocity=90 if kind == "note_on" else 0)


class Holder:
    """Plays one note now and hands out its note-off for far later, as a song with a long note does."""

    def __init__(self, pitch: int, release_after: float = 5.0) -> None:
        self.pitch = pitch
        self.release_after = release_after
        self.started: float | None = None
        self.unsent: list[Sequence[tuple[float, mido.Message]]] = []

    def events_until(self, horizon: float) -> list[tuple[float, mido.Message]]:
        if self.started is not None:
            return []
        self.started = time.perf_counter()
        return [
            (self.started, note("note_on", self.pitch)),
            (self.started + self.release_after, note("note_off", self.pitch)),
        ]

    def dropped(self, unsent: Sequence[tuple[float, mido.Message]]) -> list[mido.Message]:
        self.unsent.append(list(unsent))
        return [message for _, message in unsent if message.type == "note_off"]


class Broken(Holder):
    def dropped(self, unsent: Sequence[tuple[float, mido.Message]]) -> list[mido.Message]:
        raise RuntimeError("a bug in a source")


def running(*sources: Holder) -> tuple[MidiScheduler, list[mido.Message]]:
    sent: list[mido.Message] = []
    scheduler = MidiScheduler(sent.append, on_error=lambda error: None)
    for source in sources:
        scheduler.add_source(source)
    scheduler.start()
    time.sleep(0.1)
    return scheduler, sent


def test_a_releasing_source_is_a_protocol_the_scheduler_recognises() -> None:
    assert isinstance(Holder(60), ReleasingSource)


def test_stop_gives_each_source_its_unsent_messages_and_sends_what_it_returns() -> None:
    first, second = Holder(60), Holder(62)
    scheduler, sent = running(first, second)
    assert sent == [note("note_on", 60), note("note_on", 62)] or sent == [
        note("note_on", 62),
        note("note_on", 60),
    ]
    scheduler.stop()
    assert [[m for _, m in u] for u in first.unsent] == [[note("note_off", 60)]]
    assert [[m for _, m in u] for u in second.unsent] == [[note("note_off", 62)]]
    assert sorted(m.note for m in sent[2:]) == [60, 62]  # sent at once, by the stopping thread


def test_flush_releases_while_the_scheduler_keeps_running() -> None:
    source = Holder(64)
    scheduler, sent = running(source)
    scheduler.flush()
    time.sleep(0.1)
    assert sent == [note("note_on", 64), note("note_off", 64)]
    assert [[m for _, m in u] for u in source.unsent] == [[note("note_off", 64)]]
    scheduler.stop()
    assert source.unsent[-1] == [] and len(sent) == 2


def test_a_removed_source_still_gets_back_what_it_left_queued() -> None:
    source = Holder(65)
    scheduler, sent = running(source)
    scheduler.remove_source(source)
    time.sleep(0.05)
    scheduler.stop()
    assert sent == [note("note_on", 65), note("note_off", 65)]


def test_a_source_failing_to_release_does_not_keep_the_others_notes_hanging() -> None:
    broken, fine = Broken(66), Holder(67)
    scheduler, sent = running(broken, fine)
    scheduler.stop()
    assert note("note_off", 67) in sent
