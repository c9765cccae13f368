"""`companion listen` and `companion cadence`: listening to the client from a terminal, without the app.

`listen` plays the metronome and prints, for every hit on the MIDI drum or keyboard, how early or late it
was, and for every block of beats the synchronisation figures; with `--client`, `--objective` or
`--session` the blocks are logged to the session record as the app would. `cadence` is tap tempo from
MIDI: tap each of the client's steps on a pedal or pad, get the cadence and RAS's starting tempo.

Errors follow `companion metronome`: bad arguments are one line and exit 2; a device or record that
cannot be used says why and exits 1.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import click

from audio.cadence import AdaptiveMode, AdaptiveState, CadenceError
from audio.live_sync import HitFeedback
from audio.midi_hits import Hit, MidiInputError
from audio.midi_input import MidiInput
from audio.sync_analysis import Tolerance
from audio.tempo import MAX_BPM, MIN_BPM, TempoError, TempoSettings, TimeSignature
from companion.cli.engine_commands import (
    OneLineCommand,
    OneLineUsageError,
    output_configs,
    output_options,
    start_engine,
)
from companion.cli.record_access import open_record
from companion.live.cadence_taps import CadenceTaps
from companion.live.listening import SyncSession, SyncSettings, adaptive_settings
from companion.live.listening_record import BlockReport, LogTarget
from companion.record import Record, StorageError, UnknownRecord


def _midi_in_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The MIDI input and record options `listen` and `cadence` share."""
    options = [
        click.option("--midi-in", default=None, help="MIDI input to listen to (name or unique part)."),
        click.option("--virtual-in", default=None, help="Instead, create a virtual MIDI input of this name."),
        click.option("--notes", default=None, help="Only these MIDI notes count, e.g. 36,38 (default all)."),
        click.option("--client", default=None, help="Log to a new session of this client (id or name)."),
        click.option("--objective", type=int, default=None, help="Log against this objective (id)."),
        click.option("--session", type=int, default=None, help="Log to this existing session (id)."),
        click.option("--setting", default="", help="Setting of a new session, e.g. clinic or in-home."),
        click.option("--seconds", type=click.FloatRange(min=0, min_open=True), help="Stop after S s."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _notes(ctx: click.Context, text: str | None) -> frozenset[int] | None:
    if text is None:
        return None
    try:
        notes = frozenset(int(part) for part in text.split(","))
    except ValueError:
        raise OneLineUsageError(f"--notes {text!r} must be MIDI note numbers like 36,38", ctx) from None
    if not notes or min(notes) < 0 or max(notes) > 127:
        raise OneLineUsageError(f"--notes {text!r}: MIDI notes are 0-127", ctx)
    return notes


def _check_input(ctx: click.Context, options: dict[str, Any]) -> None:
    if options["midi_in"] and options["virtual_in"]:
        raise OneLineUsageError("use --midi-in NAME or --virtual-in NAME, not both", ctx)


@contextlib.contextmanager
def _log_target(ctx: click.Context, options: dict[str, Any]) -> Iterator[LogTarget | None]:
    """The session to log to: an existing one (--session), else a new one for the client or objective's
    client, ended when the command ends; None when no logging was asked for."""
    client_ref, objective_id, session_id = options["client"], options["objective"], options["session"]
    if client_ref is None and objective_id is None and session_id is None:
        yield None
        return
    with open_record(ctx) as record:
        client_id = record.caseload.find_client(client_ref).id if client_ref is not None else None
        if objective_id is not None:
            owner = record.caseload.objective(objective_id).client_id
            if client_id is not None and client_id != owner:
                raise click.ClickException(f"objective {objective_id} belongs to another client")
            client_id = owner
        if session_id is not None:
            session = record.sessions.session(session_id)
            click.echo(f"logging to session {session.id}")
            yield LogTarget(record, session.id, client_id=client_id, objective_id=objective_id)
            return
        if client_id is None:
            raise click.ClickException("to log, give --client, --objective or --session")
        session = record.sessions.start_session([client_id], options["setting"])
        click.echo(f"logging to new session {session.id} of {record.caseload.client(client_id).display_name}")
        try:
            yield LogTarget(record, session.id, objective_id=objective_id)
        finally:
            _end_session(record, session.id)


def _end_session(record: Record, session_id: int) -> None:
    try:
        record.sessions.end_session(session_id)
    except StorageError as exc:
        click.echo(f"session {session_id} could not be closed ({exc}); its events are saved", err=True)


def _open_input(ctx: click.Context, options: dict[str, Any], on_hit: Callable[[Hit], None]) -> MidiInput:
    midi = MidiInput(
        options["midi_in"],
        virtual=options["virtual_in"],
        client_name="Companion listen",
        on_hit=on_hit,
        on_status=lambda message: click.echo(message, err=True),
    )
    try:
        midi.open()
    except MidiInputError as exc:
        click.echo(f"{ctx.command_path}: error: {exc}", err=True)
        ctx.exit(1)
    click.echo(f"listening to {midi.name} ({midi.timing})")
    return midi


def _wait(seconds: float | None) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait(seconds)


def describe_hit(feedback: HitFeedback) -> str:
    """One line per hit: which beat, how early or late, on the beat or not, the block's running %."""
    if feedback.beat_index is None or feedback.asynchrony_ms is None:
        return "hit    (no beat: count-in, stopped, or its beat already closed)"
    ms = feedback.asynchrony_ms
    when = f"{'early' if ms < 0 else 'late '} {abs(ms):6.1f} ms"
    verdict = "extra hit" if feedback.extra else "on beat" if feedback.on_beat else "off beat"
    running = f"block {feedback.pct_on_beat:5.1f}% on beat"
    return f"beat {feedback.beat_index + 1:>4}  {when}  {verdict:<9}  {running}"


@click.command(cls=OneLineCommand)
@click.option("--bpm", type=float, required=True, help=f"Tempo in beats per minute ({MIN_BPM}-{MAX_BPM}).")
@click.option("--meter", default="4/4", show_default=True, help="Time signature, e.g. 3/4.")
@click.option("--count-in", type=int, default=1, show_default=True, help="Bars of count-in (not analysed).")
@output_options
@click.option("--tolerance-ms", type=click.FloatRange(min=0, min_open=True), default=50.0, show_default=True)
@click.option("--block", type=click.IntRange(min=2), default=16, show_default=True, help="Beats per block.")
@click.option(
    "--adaptive",
    type=click.Choice([m.value for m in AdaptiveMode]),
    default="off",
    show_default=True,
    help="Follow the client's tempo, or step up when the client is entrained (R >= 0.9 over 16 beats).",
)
@click.option("--min-bpm", type=float, default=None, help="Lowest tempo adaptive tempo may choose.")
@click.option("--max-bpm", type=float, default=None, help="Highest tempo adaptive tempo may choose.")
@_midi_in_options
@click.pass_context
def listen(ctx: click.Context, **options: Any) -> None:
    """Play the metronome and report how the client's MIDI hits match the beat, per hit and per block."""
    from audio.errors import OutputError

    _check_input(ctx, options)
    notes = _notes(ctx, options["notes"])
    try:
        tempo = TempoSettings(
            bpm=options["bpm"],
            meter=TimeSignature.parse(options["meter"]),
            count_in_bars=options["count_in"],
            bpm_min=options["min_bpm"],
            bpm_max=options["max_bpm"],
        )
    except TempoError as exc:
        raise OneLineUsageError(str(exc), ctx) from None
    audio, midi_out = output_configs(ctx, options)
    settings = SyncSettings(
        block_beats=options["block"],
        tolerance=Tolerance(ms=options["tolerance_ms"]),
        notes=notes,
        adaptive=adaptive_settings(tempo, options["adaptive"]),
    )
    blocks: list[BlockReport] = []
    changes = [0]

    def show_block(report: BlockReport) -> None:
        blocks.append(report)
        click.echo(report.describe())

    def show_tempo(state: AdaptiveState) -> None:
        if state.changes != changes[0]:
            changes[0] = state.changes
            click.echo(f"tempo: {state.reason}")

    with _log_target(ctx, options) as target:
        metronome = start_engine(ctx, "listen", tempo, audio, midi_out)
        for problem in metronome.open():
            click.echo(f"{problem.output} output problem: {problem.message}", err=True)
        sync = SyncSession(
            metronome,
            settings,
            target=target,
            on_feedback=lambda feedback: click.echo(describe_hit(feedback)),
            on_block=show_block,
            on_adaptive=show_tempo,
        )
        midi = _open_input(ctx, options, sync.hit)
        try:
            with sync:
                try:
                    metronome.start()
                except OutputError as exc:
                    click.echo(f"{ctx.command_path}: error: {exc}", err=True)
                    ctx.exit(1)
                _wait(options["seconds"])
        finally:
            midi.close()
            metronome.close()
        saved = sum(report.saved for report in blocks)
        where = f" to session {target.session_id}" if target is not None else " (no session given)"
        click.echo(f"stopped: {sync.state.hits} hits; {saved} of {len(blocks)} blocks saved{where}")


@click.command(cls=OneLineCommand)
@click.option("--taps", type=click.IntRange(min=5), default=None, help="Stop after this many taps.")
@_midi_in_options
@click.pass_context
def cadence(ctx: click.Context, **options: Any) -> None:
    """Tap tempo from MIDI: tap every step of the client's walk on a pedal or pad to get the cadence
    (of the last walk: a pause starts a new one, as in the app)."""
    _check_input(ctx, options)
    capture = CadenceTaps(_notes(ctx, options["notes"]))
    enough = threading.Event()
    tapped = threading.Event()

    def tap(hit: Hit) -> None:
        reading = capture.hit(hit)
        if reading is None:
            return
        if reading.taps == 1 and tapped.is_set():
            click.echo(f"a pause over {capture.pause_s:g} s: the taps start a new walk")
        tapped.set()
        found = reading.cadence
        so_far = f"  cadence so far {found.steps_per_min:.1f} steps/min" if found is not None else ""
        click.echo(f"tap {reading.taps:>3}{so_far}")
        if options["taps"] is not None and reading.taps >= options["taps"]:
            enough.set()

    with _log_target(ctx, options) as target:
        midi = _open_input(ctx, options, tap)
        try:
            with contextlib.suppress(KeyboardInterrupt):
                enough.wait(options["seconds"])
        finally:
            midi.close()
        try:
            measured = capture.measure()
        except CadenceError as exc:
            click.echo(f"{ctx.command_path}: no cadence: {exc}", err=True)
            ctx.exit(1)
        click.echo(
            f"cadence {measured.steps_per_min:.1f} steps/min (CV {100 * measured.cv:.1f}%), "
            f"{measured.steps} steps in {measured.duration_s:.1f} s "
            f"({measured.double_taps} double taps dropped, {measured.missed_taps} missed filled in); "
            f"RAS baseline {capture.baseline_bpm():.1f} bpm"
        )
        if target is not None:
            try:
                capture.log(target)
            except (StorageError, UnknownRecord, ValueError) as exc:
                raise click.ClickException(f"the cadence was not saved: {exc}") from exc
            click.echo(f"saved to session {target.session_id}")


def register(group: click.Group) -> None:
    for command in (listen, cadence):
        group.add_command(command)
