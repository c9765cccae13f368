"""Timestamps in one format everywhere: UTC ISO-8601 with milliseconds, so text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """UTC ISO text for a datetime; naive datetimes are taken as local time."""
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)
