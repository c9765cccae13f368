"""A practice with staff in a real SQLite record: an admin, two therapists and a supervisor, each with a
client of their own, and one client from the solo days that nobody owns yet.

Hashing uses cheap argon2 parameters (`QUICK`) so the many sign-ins of the tests stay fast; a test of
rehashing swaps in the default ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher

from companion.record import Record

PASSWORD = "correct horse battery"
QUICK = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass(frozen=True)
class Staffed:
    data_dir: Path
    ava: int  # Tom's client
    ben: int  # Tess's client
    cleo: int  # from before there were staff: nobody's yet
    staff: dict[str, int]  # name -> staff id

    def open_as(self, name: str | None) -> Record:
        """The record signed in as `name` (None: nobody)."""
        record = Record.open(self.data_dir, backup_every=None)
        record.staff.hasher = QUICK
        if name is not None:
            record.staff.sign_in(name, PASSWORD)
        return record


def make_staffed(data_dir: Path) -> Staffed:
    with Record.open(data_dir, backup_every=None) as record:
        record.staff.hasher = QUICK
        cleo = record.caseload.add_client("Cleo")  # a solo practice's client, before any staff
        record.staff.add("Ada", PASSWORD, "MT-BC", role="admin")
        record.staff.sign_in("Ada", PASSWORD)
        record.staff.add("Tom", PASSWORD, "MT-BC", role="therapist")
        record.staff.add("Tess", PASSWORD, "MT-BC, NMT", role="therapist")
        record.staff.add("Sue", PASSWORD, "MT-BC", role="supervisor")
        ids = {m.name: m.id for m in record.staff.members()}
        ava = record.caseload.add_client("Ava")
        record.sharing.assign(ava.id, ids["Tom"])
        ben = record.caseload.add_client("Ben")
        record.sharing.assign(ben.id, ids["Tess"])
    return Staffed(data_dir, ava.id, ben.id, cleo.id, ids)
