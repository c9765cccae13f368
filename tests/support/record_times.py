"""Fixed times for sessions logged straight into a record (summary and take tests), so figures never
depend on the day the tests run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2024, 9, 2, 15, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """`minutes` after `START`."""
    return START + timedelta(minutes=minutes)
