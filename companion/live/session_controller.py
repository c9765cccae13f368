"""The live session behind the session screen: one tap becomes one durable event, and what to show for it.

Why a Textual-free module: the rules of a running session must hold whether taps come from a terminal, a
browser tab or a test. Which client and objective a tap belongs to; that the tempo in force is logged just
before the trial it applies to; that undo cancels the therapist's last *tap* (never a tempo marker or an
intervention switch); that an entry the disk refused is kept, shown as pending and retried, never dropped.
The screen only draws what this module returns.

Threading: `draft_*` methods (`SessionDrafts`, session_drafts) only capture the current selection (no
I/O) and run on the UI thread, so a tap belongs to the objective that was selected when the key was
pressed. Everything that touches the disk (`commit`, `undo_last`, `switch_plan`, `retry`,
`settle_tempo`, `end`) runs in order on one `TapWriter` thread (tap_writer), so a locked or slow disk
never freezes the screen and taps keep their order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from companion.documents.wording import plan_label
from companion.live.log_lines import describe
from companion.live.session_drafts import TAP_KINDS, SessionDrafts
from companion.live.tallies import TALLIED, Tally
from companion.record import (
    Cadence,
    DurationStop,
    Event,
    EventDraft,
    Intervention,
    Measure,
    Rating,
    Record,
    Sample,
    Session,
    StorageError,
    Tempo,
    Tombstone,
    Trial,
)
from companion.record.summaries import summarise_group
from interventions import Library


@dataclass(frozen=True)
class SessionRequest:
    """Whom a session is with, where, and which plan opens it: what the start dialog asks."""

    client_ids: tuple[int, ...]
    setting: str
    plan_id: str | None
    second_observer_of: int | None = None
    """A second observer's blind record of this open session (inter-observer agreement)."""


@dataclass(frozen=True)
class LogEntry:
    """One line of the live log: the event, whether it is on disk, and whether it was undone."""

    event: Event
    saved: bool
    problem: str = ""
    undone: bool = False

    @property
    def id(self) -> str:
        return self.event.id


@dataclass(frozen=True)
class Update:
    """What one writer operation changed: entries to add or redraw (log order) and any storage problem."""

    entries: tuple[LogEntry, ...] = ()
    problem: str | None = None


class LiveSession(SessionDrafts):
    """A session being run now: selection (client, objective, plan), taps, undo, pending retry, end."""

    def __init__(
        self,
        record: Record,
        session: Session,
        library: Library | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._entries: dict[str, LogEntry] = {}
        self._order: list[str] = []
        self._tempo_due: Tempo | None = None
        self._tempo_logged: Tempo | None = None
        super().__init__(record, session, library, now)

    # -- opening -----------------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        record: Record,
        client_ids: Sequence[int],
        setting: str = "",
        plan_id: str | None = None,
        library: Library | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        second_observer_of: int | None = None,
    ) -> LiveSession:
        """Open a new session in the record; with a plan, its first event is the switch to that plan.
        `second_observer_of`: a second observer's blind record of that open session (agreement is
        computed when the later of the two ends)."""
        plans = [plan_id] if plan_id else []
        session = record.sessions.start_session(
            client_ids, setting, plan_ids=plans, second_observer_of=second_observer_of
        )
        record.events.prepare(session.id)
        live = cls(record, session, library, now)
        if plan_id is not None:
            live.switch_plan(plan_id)
        return live

    @classmethod
    def resume(
        cls,
        record: Record,
        session_id: int,
        library: Library | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> LiveSession:
        """Reopen a session that was not ended (the app closed or crashed): its log, plan and timers."""
        record.events.prepare(session_id)
        live = cls(record, record.sessions.session(session_id), library, now)
        stored = record.events.session_events(session_id, include_undone=True, include_pending=False)
        pending = {e.id for e in record.events.pending()}
        undone = {e.payload.target_event_id for e in stored if isinstance(e.payload, Tombstone)}
        for event in stored:
            if isinstance(event.payload, Tombstone):
                continue
            live._remember(LogEntry(event, event.id not in pending, undone=event.id in undone))
            if event.id not in undone:
                live.timers.track(event)
        return live

    def commit_samples(
        self, label: str, method: str, interval_s: float, occurred: Mapping[int, bool]
    ) -> Update:
        """One time-sampling interval: a sample per client (on that client's selected objective), written
        together so a group's interval is all there or, pending, all kept."""
        drafts = []
        for client_id, seen in occurred.items():
            objectives = self.objectives[client_id]
            objective = objectives[self._objective_index[client_id]] if objectives else None
            drafts.append(
                EventDraft(
                    Sample(label, seen, method, interval_s),
                    client_id=client_id,
                    objective_id=objective.id if objective is not None else None,
                )
            )
        with self._lock:
            drafts = [*self._take_tempo(), *drafts]
        return self._log(drafts)

    def last_cadence(self) -> Cadence | None:
        """The selected client's latest cadence: from this session, else from their earlier sessions."""
        client_id = self.client.id
        for entry in reversed(self.entries()):
            event = entry.event
            if event.client_id == client_id and isinstance(event.payload, Cadence) and not entry.undone:
                return event.payload
        found = self.record.events.latest_event(client_id, Cadence.kind)
        return found.payload if found is not None and isinstance(found.payload, Cadence) else None

    # -- tempo markers -----------------------------------------------------------------------------
    def note_tempo(self, bpm: float, meter: str, source: str = "metronome") -> None:
        """The tempo in force changed; it is logged before the next tap (or by `settle_tempo`)."""
        with self._lock:
            marker = Tempo(round(float(bpm), 2), meter, source)
            same = self._tempo_logged is not None and (marker.bpm, marker.meter) == (
                self._tempo_logged.bpm,
                self._tempo_logged.meter,
            )
            self._tempo_due = None if same else marker

    @property
    def tempo_due(self) -> bool:
        return self._tempo_due is not None

    # -- writer thread: everything that touches the disk ----------------------------------------------
    def commit(self, draft: EventDraft) -> Update:
        """Log one tap (after any tempo marker due); pending instead of lost if the disk refuses."""
        if isinstance(draft.payload, Trial):
            try:
                self._keep_plan_levels(draft)
            except StorageError as exc:  # the trial cannot be scored yet: not shown as taken, nothing lost
                return Update(problem=f"the trial was not logged ({exc}); tap it again")
        with self._lock:
            drafts = [*self._take_tempo(), draft]
        return self._log(drafts)

    def _keep_plan_levels(self, draft: EventDraft) -> None:
        """A first trial on the plan's own hierarchy makes it the objective's: its trials are scored against
        it from now on, in later sessions and in its progress, whatever plan is in use then."""
        client_id = draft.client_id if draft.client_id is not None else self.client.id
        objectives = self.objectives.get(client_id, [])
        index = next((i for i, o in enumerate(objectives) if o.id == draft.objective_id), None)
        if index is None or objectives[index].prompt_levels:
            return
        levels = self._plan_levels()
        if levels:
            with self._lock:
                objectives[index] = self.record.caseload.update_objective(
                    objectives[index].id, prompt_levels=levels
                )

    def settle_tempo(self) -> Update:
        """Log a tempo marker that is due (the metronome started or changed and has settled)."""
        with self._lock:
            drafts = self._take_tempo()
        return self._log(drafts) if drafts else Update()

    def switch_plan(self, plan_id: str) -> Update:
        """Switch intervention: logged, and the plan's taps, steps and tempo preset become current."""
        plan = self.library.get(plan_id) if self.library is not None else None
        if self.library is not None and plan is None:
            raise ValueError(f"there is no plan {plan_id!r} in the library")
        update = self._log([EventDraft(Intervention(plan_id))])
        with self._lock:
            self.plan = plan
            if self._tempo_logged is not None:  # a new intervention starts its own tempo record
                self._tempo_due, self._tempo_logged = self._tempo_logged, None
        return update

    def undo_last(self) -> Update:
        """Cancel the last tap still counted (a tombstone; nothing is deleted). Empty Update if none."""
        with self._lock:
            target = next(
                (
                    self._entries[i]
                    for i in reversed(self._order)
                    if not self._entries[i].undone and self._entries[i].event.kind in TAP_KINDS
                ),
                None,
            )
        if target is None:
            return Update()
        try:
            self.record.events.undo(target.event)
            saved, problem = True, ""
        except StorageError as exc:
            if not any(_undoes(e, target.id) for e in self.record.events.pending()):
                return Update(problem=f"the undo was not logged ({exc}); press u again")
            saved, problem = False, str(exc)
        with self._lock:
            counted = (e.event for e in self._entries.values() if not e.undone)
            self.timers.untrack(target.event, counted)
            undone = replace(target, undone=True, saved=target.saved and saved, problem=problem)
            self._entries[target.id] = undone
            changed = [undone] + (self._mark_saved() if saved else [])
        return Update(tuple(changed), problem or None)

    def retry(self) -> Update:
        """Write the pending entries again (the app calls this on a timer); Update lists those now saved."""
        if not self.record.events.pending():
            return Update()
        try:
            self.record.events.flush()
        except StorageError as exc:
            return Update(problem=str(exc))
        with self._lock:
            return Update(tuple(self._mark_saved()))

    def end(self) -> Session:
        """Stop running timers, write everything pending, and close the session in the record.

        Raises StorageError (nothing lost: the session stays open and can be ended again) if the disk
        still refuses, or a server record's server cannot take what waits for it.
        """
        with self._lock:
            stops = [
                EventDraft(DurationStop(label), client_id=client, objective_id=objective)
                for client, objective, label in self.timers.stop_durations()
            ]
            drafts = self._take_tempo() + stops
        if drafts:
            self._log(drafts)
        self.record.events.flush()
        self.record.events.send_waiting()
        self.session = self.record.sessions.end_session(self.session.id)
        return self.session

    @property
    def ended(self) -> bool:
        return self.session.ended_at is not None

    def agreement(self) -> list[str]:
        """A second observer's session, ended: its agreement with the observed one, as said to the
        therapist; empty until the observed session has ended too (it is computed then)."""
        observed = self.session.second_observer_of
        if observed is None or not self.record.sessions.session(observed).ended_at:
            return []
        return [a.describe() for a in self.record.sessions.agreement(observed)]

    # -- reading (any thread) ----------------------------------------------------------------------
    def entries(self) -> list[LogEntry]:
        with self._lock:
            return [self._entries[i] for i in self._order]

    def tallies(self, client_id: int | None = None) -> list[Tally]:
        """Running figures per objective of one client (default: the selected one), general data last."""
        client = client_id if client_id is not None else self.client.id
        minutes = max(self.elapsed(), 1.0) / 60
        grouped: dict[int | None, list[Event]] = defaultdict(list)
        with self._lock:
            for entry in (self._entries[i] for i in self._order):
                if entry.event.client_id == client and not entry.undone and entry.event.kind in TALLIED:
                    grouped[entry.event.objective_id].append(entry.event)
            running = defaultdict(list)
            for owner, objective_id, label in self.timers.durations:
                if owner == client:
                    running[objective_id].append(label)
        hierarchy = self.hierarchies[client]
        tallies = []
        for number, objective in enumerate(self.objectives[client], start=1):
            events = grouped.pop(objective.id, [])
            levels = self.levels_for(client, objective)
            summary = (
                summarise_group((client, objective.id), events, minutes, levels, (), objective.criterion)
                if events
                else None
            )
            observing = (client, objective.id) in self.timers.observing
            tallies.append(Tally(client, objective, number, summary, tuple(running[objective.id]), observing))
        general = [e for events in grouped.values() for e in events]
        if general:
            summary = summarise_group((client, None), general, minutes, hierarchy, ())
            tallies.append(Tally(client, None, 0, summary, tuple(running[None])))
        return tallies

    def describe(self, entry: LogEntry) -> str:
        """The log line: what was taken, after the number of the objective it counts for ("2· +1 turn"),
        numbered as the objective bar and the picker number them."""
        event = entry.event
        hierarchy = self._event_levels(event)
        if isinstance(event.payload, Intervention):
            plan = self.library.get(event.payload.plan_id) if self.library is not None else None
            return f"→ {plan.title if plan is not None else plan_label(event.payload.plan_id)}"
        objectives = self.objectives.get(event.client_id or -1, [])
        number = next((n for n, o in enumerate(objectives, start=1) if o.id == event.objective_id), None)
        return (f"{number}· " if number is not None else "") + describe(event, hierarchy)

    def _event_levels(self, event: Event) -> tuple[str, ...]:
        """The hierarchy an event's trial was scored on (its objective's own, else its client's)."""
        objective = next(
            (o for o in self.objectives.get(event.client_id or -1, []) if o.id == event.objective_id), None
        )
        if objective is not None and objective.prompt_levels:
            return objective.prompt_levels
        return self.hierarchies.get(event.client_id or -1, ())

    def rated_labels(self, kind: type[Rating | Measure] = Rating) -> set[str]:
        """Rating (or measure) labels already taken for the selected client in this session: the next one
        of the same label is not "before" any more."""
        with self._lock:
            return {
                entry.event.payload.label
                for entry in self._entries.values()
                if isinstance(entry.event.payload, kind)
                and not entry.undone
                and entry.event.client_id == self.client.id
            }

    def client_name(self, client_id: int | None) -> str:
        return next((c.display_name for c in self.clients if c.id == client_id), "group")

    # -- internals ---------------------------------------------------------------------------------
    def _take_tempo(self) -> list[EventDraft]:
        marker, self._tempo_due = self._tempo_due, None
        if marker is None:
            return []
        self._tempo_logged = marker
        return [EventDraft(marker)]

    def _log(self, drafts: list[EventDraft]) -> Update:
        try:
            events = self.record.events.log_many(self.session.id, drafts)
            saved, problem = True, ""
        except StorageError as exc:
            events = self.record.events.pending()[-len(drafts) :]
            saved, problem = False, str(exc)
        with self._lock:
            changed = self._mark_saved() if saved else []
            for event in events:
                entry = LogEntry(event, saved, problem)
                self._remember(entry)
                changed.append(entry)
        return Update(tuple(changed), problem or None)

    def _remember(self, entry: LogEntry) -> None:
        if entry.id not in self._entries:
            self._order.append(entry.id)
        self._entries[entry.id] = entry
        if isinstance(entry.event.payload, Intervention) and self.library is not None:
            self.plan = self.library.get(entry.event.payload.plan_id)
        if isinstance(entry.event.payload, Tempo) and not entry.undone:
            self._tempo_logged = entry.event.payload

    def _mark_saved(self) -> list[LogEntry]:
        """Entries that were pending and are durable now (a later write flushed them)."""
        pending = {e.id for e in self.record.events.pending()}
        changed = []
        for entry_id in self._order:
            entry = self._entries[entry_id]
            if not entry.saved and entry_id not in pending:
                self._entries[entry_id] = changed_entry = replace(entry, saved=True, problem="")
                changed.append(changed_entry)
        return changed


def _undoes(event: Event, target_id: str) -> bool:
    return isinstance(event.payload, Tombstone) and event.payload.target_event_id == target_id
