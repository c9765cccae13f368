"""What the app works on, opened once off the UI thread: the session record and the plan library.

Kept free of Textual so the same object can serve a terminal app, a browser session and a benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from companion.paths import plans_dir
from companion.record import Record
from companion.record.backups import DEFAULT_BACKUP_EVERY
from companion.record.cipher import DataKey
from interventions import Library


@dataclass
class Services:
    record: Record
    library: Library
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def open(
        cls,
        data_dir: Path | None,
        backup_every: timedelta | None = DEFAULT_BACKUP_EVERY,
        busy_timeout: float = 2.0,
        key: DataKey | None = None,
    ) -> Services:
        """Open the record (raises StorageError with the cause and fix) and load every plan that is valid.

        Problems that do not stop the work (a failed backup, a broken plan file) become `warnings`. A
        record with staff opens with nobody signed in: it hands out no client data until someone signs
        in (the app's sign-in screen), while the plan library, which holds none, is loaded at once.
        """
        record = Record.open(data_dir, backup_every=backup_every, busy_timeout=busy_timeout, key=key)
        library = Library.load(plans_dir(record.data_dir))
        warnings = []
        if record.events.restored:
            warnings.append(
                f"{record.events.restored} entries an earlier run could not save (it quit or stopped while "
                "the database refused them) were added to the record from its rescue file."
            )
        if record.events.restore_error is not None:
            warnings.append(
                "Entries an earlier run could not save could not be added yet: "
                f"{record.events.restore_error}. Their rescue files stay where they are and are tried again "
                "at the next start."
            )
        outbox = record.events.outbox
        if outbox is not None and outbox.adopted:
            warnings.append(
                f"{outbox.adopted} entries an earlier run left on this computer for the practice's server "
                "(it quit or stopped before the server took them) are being sent now."
            )
        if outbox is not None and outbox.adopt_error is not None:
            warnings.append(
                f"Entries an earlier run left for the practice's server could not be read: "
                f"{outbox.adopt_error}. The file stays where it is and is tried again at the next start."
            )
        if record.backups.backup_error is not None:
            warnings.append(f"The automatic backup failed: {record.backups.backup_error}")
        if library.errors:
            listed = "; ".join(str(error) for error in library.errors[:3])
            more = f" (and {len(library.errors) - 3} more)" if len(library.errors) > 3 else ""
            warnings.append(
                f"{len(library.errors)} plan file(s) could not be loaded and were skipped: {listed}{more}. "
                "Run `companion plans validate` to see every problem and its fix."
            )
        return cls(record, library, warnings)

    @cached_property
    def titles(self) -> dict[str, str]:
        """Plan id -> title, for notes and logs."""
        return {plan.id: plan.title for plan in self.library.plans}

    def close(self) -> None:
        self.record.close()
