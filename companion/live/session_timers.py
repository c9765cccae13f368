"""The timers a session keeps running between taps: durations being timed and observation windows open,
rebuilt from a resumed session's events and wound back when a start or a stop is undone."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from companion.record import DurationStart, DurationStop, Event, ObservationStart, ObservationStop

DurationKey = tuple[int | None, int | None, str]  # (client, objective, label)
WindowKey = tuple[int | None, int | None]  # (client, objective)
K = TypeVar("K")


class SessionTimers:
    """Start offsets (seconds into the session) of the durations and observation windows running now."""

    def __init__(self) -> None:
        self.durations: dict[DurationKey, float] = {}
        self.observing: dict[WindowKey, float] = {}

    def toggle_duration(self, key: DurationKey, at: float) -> bool:
        """Start timing `key` at `at`, or stop it if it runs; True when it started."""
        return _toggle(self.durations, key, at)

    def toggle_observation(self, key: WindowKey, at: float) -> bool:
        """Open an observation window at `at`, or close it if it is open; True when it opened."""
        return _toggle(self.observing, key, at)

    def stop_durations(self) -> list[DurationKey]:
        """Every duration running (the session ends): they stop now."""
        running = list(self.durations)
        self.durations.clear()
        return running

    def track(self, event: Event) -> None:
        """Follow one event of a resumed session, in log order (undone events are not passed)."""
        payload = event.payload
        if isinstance(payload, DurationStart):
            self.durations[(event.client_id, event.objective_id, payload.label)] = event.offset_s
        elif isinstance(payload, DurationStop):
            self.durations.pop((event.client_id, event.objective_id, payload.label), None)
        elif isinstance(payload, ObservationStart):
            self.observing[(event.client_id, event.objective_id)] = event.offset_s
        elif isinstance(payload, ObservationStop):
            self.observing.pop((event.client_id, event.objective_id), None)

    def untrack(self, event: Event, counted: Iterable[Event]) -> None:
        """Undoing a start stops its timer; undoing a stop lets the timer run on from its start (the
        latest start among the events still `counted`)."""
        payload = event.payload
        if isinstance(payload, DurationStart):
            self.durations.pop((event.client_id, event.objective_id, payload.label), None)
        elif isinstance(payload, DurationStop):
            key = (event.client_id, event.objective_id, payload.label)
            start = _last_start(
                counted, lambda e: isinstance(e.payload, DurationStart) and _duration_key(e) == key
            )
            if start is not None:
                self.durations[key] = start
        elif isinstance(payload, ObservationStart):
            self.observing.pop((event.client_id, event.objective_id), None)
        elif isinstance(payload, ObservationStop):
            window = (event.client_id, event.objective_id)
            start = _last_start(
                counted,
                lambda e: isinstance(e.payload, ObservationStart) and (e.client_id, e.objective_id) == window,
            )
            if start is not None:
                self.observing[window] = start


def _toggle(running: dict[K, float], key: K, at: float) -> bool:
    if key in running:
        del running[key]
        return False
    running[key] = at
    return True


def _duration_key(event: Event) -> DurationKey:
    return (event.client_id, event.objective_id, getattr(event.payload, "label", ""))


def _last_start(counted: Iterable[Event], matches: Callable[[Event], bool]) -> float | None:
    starts = [e.offset_s for e in counted if matches(e)]
    return max(starts) if starts else None
