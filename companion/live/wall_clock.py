"""The app's sense of "now", injectable so tests and snapshots show the same day every time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class FixedClock:
    """A clock stopped at one moment: the day and the session timers never move (snapshots, tests)."""

    moment: datetime

    def now(self) -> datetime:
        return self.moment


def today(clock: Clock) -> date:
    """The local calendar day, as sessions are dated."""
    return clock.now().astimezone().date()


def local_time(iso_text: str) -> str:
    """HH:MM:SS in local time for a stored UTC timestamp."""
    return datetime.fromisoformat(iso_text).astimezone().strftime("%H:%M:%S")


def clock_text(seconds: float) -> str:
    """A session timer: 4:05, or 1:02:03 past an hour."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
