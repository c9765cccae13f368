"""The session record: clients, goals, objectives, sessions and durable quick-tap events.

Import what you need from here; `Record.open(data_dir)` is the entry point, and the record's parts
(`record.caseload`, `record.sessions`, `record.events` ...) are listed in `companion.record.record`. No
Textual imports, ever: the app drives this layer, never the reverse.
"""

from companion.record.errors import (
    CorruptDatabase,
    DatabaseLocked,
    DiskFull,
    ReadOnlyLocation,
    SchemaTooNew,
    StorageError,
    UnknownRecord,
)
from companion.record.model import (
    DEFAULT_PROMPT_HIERARCHY,
    Client,
    Event,
    EventDraft,
    Goal,
    MasteryCriterion,
    Objective,
    ObjectivePhase,
    Session,
    SessionNote,
)
from companion.record.payloads import (
    Abc,
    Cadence,
    Count,
    Duration,
    DurationStart,
    DurationStop,
    Intervention,
    Latency,
    Measure,
    Note,
    ObservationStart,
    ObservationStop,
    Payload,
    Rating,
    Sample,
    Sync,
    Tempo,
    Tombstone,
    Trial,
    Walk,
)
from companion.record.progress import ObjectiveProgress, ProgressPoint
from companion.record.record import Record
from companion.record.summaries import GroupSummary, SessionSummary

__all__ = [
    "DEFAULT_PROMPT_HIERARCHY",
    "Abc",
    "Cadence",
    "Client",
    "CorruptDatabase",
    "Count",
    "DatabaseLocked",
    "DiskFull",
    "Duration",
    "DurationStart",
    "DurationStop",
    "Event",
    "EventDraft",
    "Goal",
    "GroupSummary",
    "Intervention",
    "Latency",
    "MasteryCriterion",
    "Measure",
    "Note",
    "Objective",
    "ObjectivePhase",
    "ObjectiveProgress",
    "ObservationStart",
    "ObservationStop",
    "Payload",
    "ProgressPoint",
    "Rating",
    "ReadOnlyLocation",
    "Record",
    "Sample",
    "SchemaTooNew",
    "Session",
    "SessionNote",
    "SessionSummary",
    "StorageError",
    "Sync",
    "Tempo",
    "Tombstone",
    "Trial",
    "UnknownRecord",
    "Walk",
]
