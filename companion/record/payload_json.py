"""How a payload is stored: its fields as a JSON object beside the event's `kind` column, and back.

Kept apart from the payload kinds so that adding a kind is one class in `payloads` plus one line here, and
so that reading tolerates what a newer version wrote (unknown keys are ignored).
"""

from __future__ import annotations

import dataclasses
from typing import Any

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

PAYLOAD_TYPES: dict[str, type[Payload]] = {
    cls.kind: cls
    for cls in (
        Trial,
        Count,
        DurationStart,
        DurationStop,
        Duration,
        ObservationStart,
        ObservationStop,
        Latency,
        Rating,
        Measure,
        Sample,
        Abc,
        Note,
        Tempo,
        Cadence,
        Walk,
        Sync,
        Intervention,
        Tombstone,
    )
}

FIELD_NAMES: dict[str, frozenset[str]] = {
    kind: frozenset(f.name for f in dataclasses.fields(cls)) for kind, cls in PAYLOAD_TYPES.items()
}


def payload_to_json(payload: Payload) -> dict[str, Any]:
    """The JSON object stored for a payload (the kind lives in its own column)."""
    return dataclasses.asdict(payload)


def payload_from_json(kind: str, data: dict[str, Any]) -> Payload:
    """Rebuild a payload read from the database; unknown keys from newer versions are ignored."""
    cls = PAYLOAD_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    names = FIELD_NAMES[kind]
    values = {k: v for k, v in data.items() if k in names}
    if cls is Rating and "scale" in values:
        values["scale"] = tuple(values["scale"])
    return cls(**values)
