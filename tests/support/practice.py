"""A small, seeded practice in a real SQLite record, shared by the app's tests (checked in
test_seeded_practice.py).

Three clients: Ava (two objectives, the default prompt hierarchy), Ben (one objective, his own
three-level hierarchy) and Cleo (no objectives yet), so the tests meet every shape the screens handle.
Dates come from a fixed clock so snapshots and assertions never depend on the day the tests run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from audio.songs import demo_song_paths
from companion.record import EventDraft, MasteryCriterion, Record, Tempo, Trial

TODAY = date(2025, 3, 4)
NOW = datetime(2025, 3, 4, 10, 30, tzinfo=UTC)
TWINKLE = next(p for p in demo_song_paths() if p.name.startswith("twinkle"))


@dataclass(frozen=True)
class Practice:
    data_dir: Path
    ava: int
    ben: int
    cleo: int
    ava_requests: int  # objective ids
    ava_turns: int
    ben_reach: int

    def open(self) -> Record:
        return Record.open(self.data_dir, backup_every=None)


def make_practice(data_dir: Path, history: bool = True) -> Practice:
    """Create the practice in `data_dir`; with `history`, Ava has four past weekly sessions."""
    with Record.open(data_dir, backup_every=None) as record:
        ava = record.caseload.add_client(
            "Ava", birth_year=2017, pseudonym="Client A", population="autism, age 8"
        )
        record.caseload.update_client(ava.id, preferred_music="Moana, drums")
        ben = record.caseload.add_client(
            "Ben", birth_year=1950, pseudonym="Client B", population="stroke, gait"
        )
        cleo = record.caseload.add_client("Cleo", birth_year=2015, pseudonym="Client C")
        record.caseload.set_prompt_hierarchy(["independent", "verbal", "physical"], client_id=ben.id)
        talk = record.caseload.add_goal(ava.id, "communication", "Increase functional requests")
        requests = record.caseload.add_objective(
            talk.id,
            "Requests an instrument with a 2-word phrase",
            MasteryCriterion("percent_independent", 80, 3),
        )
        play = record.caseload.add_goal(ava.id, "social", "Reciprocal play")
        turns = record.caseload.add_objective(
            play.id, "Takes turns on the drum", MasteryCriterion("count", 6, 3)
        )
        walk = record.caseload.add_goal(ben.id, "gross motor", "Walk with a steady cadence")
        reach = record.caseload.add_objective(walk.id, "Reaches to strike the drum on the beat")
        if history:
            for week in range(4, 0, -1):
                started = NOW - timedelta(weeks=week)
                session = record.sessions.start_session([ava.id], "in-home", started_at=started)
                drafts = [EventDraft(Tempo(80, "4/4"), wall_time=started)]
                drafts += [
                    EventDraft(
                        Trial(k < 5 - week + 3, "independent"),
                        objective_id=requests.id,
                        wall_time=started + timedelta(minutes=k + 1),
                    )
                    for k in range(8)
                ]
                record.events.log_many(session.id, drafts)
                record.sessions.end_session(session.id, ended_at=started + timedelta(minutes=45))
    return Practice(data_dir, ava.id, ben.id, cleo.id, requests.id, turns.id, reach.id)


def make_practice_with_songs(folder: Path) -> Practice:
    """The seeded practice in `folder / "data"`; Ava's preferred songs are a broken file, then the shipped
    Twinkle."""
    practice = make_practice(folder / "data")
    broken = folder / "broken.mid"
    broken.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")  # a header cut short
    with practice.open() as record:
        record.caseload.update_client(practice.ava, preferred_songs=(str(broken), str(TWINKLE)))
    return practice


@contextmanager
def write_lock(database: Path) -> Iterator[None]:
    """Hold the database's write lock from a second connection, as another program would."""
    other = sqlite3.connect(database, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()
