"""`companion devices` and `companion metronome`: the tempo engine from a terminal, without the app.

Why one-line errors: a therapist types these mid-session; a bad value must say what is wrong in one line
(exit code 2, as usage errors are), never a usage screen or a traceback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from audio.engine_events import OutputProblem
from audio.tempo import (
    MAX_BPM,
    MIN_BPM,
    LinearRamp,
    Ramp,
    StepRamp,
    TempoError,
    TempoSettings,
    TimeSignature,
    exact,
)

if TYPE_CHECKING:
    from audio.engine_client import RemoteMetronome
    from audio.engine_config import AudioConfig, EngineStatus, MidiConfig
    from audio.midi_output import MidiSettings

JACK_BACKEND = "mido.backends.rtmidi/UNIX_JACK"
F = TypeVar("F", bound=Callable[..., Any])


class OneLineUsageError(click.UsageError):
    """A usage error shown as one line: `companion metronome: error: ...`."""

    def show(self, file: Any = None) -> None:
        name = self.ctx.command_path if self.ctx is not None else "companion"
        click.echo(f"{name}: error: {self.format_message()}", err=True, file=file)


class OneLineCommand(click.Command):
    """Turns click's own parsing errors into one-line errors as well."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise OneLineUsageError(exc.format_message(), ctx) from None


@click.command(cls=OneLineCommand)
def devices() -> None:
    """List audio and MIDI outputs/inputs per backend, and which ones work here."""
    from audio.devices import survey

    found = survey()
    sections = (
        ("Audio (PortAudio host APIs; JACK direct: --audio-device jack, exact on lost cycles)", found.audio),
        ("MIDI (python-rtmidi APIs)", found.midi),
    )
    for title, backends in sections:
        click.echo(title)
        for backend in backends:
            if not backend.available:
                click.echo(f"  {backend.name}: unavailable: {backend.reason}")
                continue
            click.echo(f"  {backend.name}:")
            for output in backend.outputs:
                mark = " (default)" if output == backend.default_output else ""
                click.echo(f"    output  {output}{mark}")
            for port in backend.inputs:
                click.echo(f"    input   {port}")
            if not backend.outputs and not backend.inputs:
                click.echo("    (no ports)")
    click.echo(
        f"MIDI backend in use: {found.midi_backend}; MIDO_BACKEND chooses another, e.g. {JACK_BACKEND}"
    )
    working = [f"{kind}: {', '.join(b.name for b in found.working(kind))}" for kind in ("audio", "midi")]
    click.echo("Working outputs: " + "; ".join(w if not w.endswith(": ") else w + "none" for w in working))


def ramp_from(options: dict[str, Any]) -> Ramp | None:
    """The ramp the --ramp-* options describe (see `ramp_options`), or None."""
    ramp_to, ramp_beats = options["ramp_to"], options["ramp_beats"]
    percent, every, limit = options["ramp_percent"], options["ramp_every_bars"], options["ramp_max"]
    if (ramp_to is None) != (ramp_beats is None):
        raise TempoError("--ramp-to and --ramp-beats go together (e.g. --ramp-to 110 --ramp-beats 64)")
    if (percent is None) != (every is None):
        raise TempoError(
            "--ramp-percent and --ramp-every-bars go together (e.g. --ramp-percent 5 --ramp-every-bars 8)"
        )
    if ramp_to is not None and percent is not None:
        raise TempoError("choose one ramp: --ramp-to/--ramp-beats or --ramp-percent/--ramp-every-bars")
    if ramp_to is not None and ramp_beats is not None:
        return LinearRamp(to_bpm=exact(ramp_to, "--ramp-to"), beats=ramp_beats)
    if percent is not None and every is not None:
        top = exact(limit, "--ramp-max") if limit is not None else None
        return StepRamp(percent=exact(percent, "--ramp-percent"), every_bars=every, max_bpm=top)
    return None


def ramp_options(command: F) -> F:
    """--ramp-to/--ramp-beats (linear) and --ramp-percent/--ramp-every-bars/--ramp-max (RAS steps)."""
    for option in reversed(
        (
            click.option("--ramp-to", type=float, default=None, help="Ramp linearly to this bpm ..."),
            click.option("--ramp-beats", type=int, default=None, help="... over this many beats."),
            click.option(
                "--ramp-percent", type=float, default=None, help="RAS ramp: change tempo by this percent ..."
            ),
            click.option("--ramp-every-bars", type=int, default=None, help="... every this many bars ..."),
            click.option("--ramp-max", type=float, default=None, help="... until this bpm."),
        )
    ):
        command = option(command)
    return command


class LatencyParam(click.ParamType):
    """--latency: "low", "high" or seconds, checked by the audio output itself."""

    name = "low|high|SECONDS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from audio.audio_output import check_latency

        try:
            return check_latency(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def latency_option(command: F) -> F:
    """--latency: the speaker's buffer (high by default: safe, and clicks stay on their exact samples)."""
    return click.option(
        "--latency",
        type=LatencyParam(),
        default="high",
        show_default=True,
        help="Audio buffer: high (safe on a busy machine, equally accurate), low, or seconds.",
    )(command)


def output_options(command: F) -> F:
    """--output audio|midi|both, --audio-device, --latency, --midi-port and --virtual: where it plays."""
    for option in reversed(
        (
            click.option(
                "--output", type=click.Choice(["audio", "midi", "both"]), default="audio", show_default=True
            ),
            click.option("--audio-device", default=None, help="Audio output name (see `companion devices`)."),
            latency_option,
            click.option("--midi-port", default=None, help="MIDI output port name (or a unique part of it)."),
            click.option("--virtual", default=None, help="Create a virtual MIDI output port with this name."),
        )
    ):
        command = option(command)
    return command


def output_configs(
    ctx: click.Context, options: dict[str, Any], midi_settings: MidiSettings | None = None
) -> tuple[AudioConfig | None, MidiConfig | None]:
    """The engine's output configuration from `output_options`, refusing contradictory choices in one line."""
    from audio.engine_config import AudioConfig, MidiConfig
    from audio.midi_output import MidiSettings

    output = options["output"]
    if options["midi_port"] and options["virtual"]:
        raise OneLineUsageError("use --midi-port NAME or --virtual NAME, not both", ctx)
    if output == "audio" and (options["midi_port"] or options["virtual"]):
        raise OneLineUsageError("--midi-port/--virtual need --output midi or both", ctx)
    audio = (
        AudioConfig(device=options["audio_device"], latency=options["latency"])
        if output in ("audio", "both")
        else None
    )
    midi = (
        MidiConfig(
            port=options["midi_port"],
            virtual=options["virtual"],
            settings=midi_settings or MidiSettings(),
        )
        if output in ("midi", "both")
        else None
    )
    return audio, midi


def start_engine(
    ctx: click.Context,
    command: str,
    settings: TempoSettings,
    audio: AudioConfig | None,
    midi: MidiConfig | None,
) -> RemoteMetronome:
    """A metronome in the timing engine's own process; says (on stderr) how that process keeps time
    when the OS refused it realtime priority or locked memory. A failing start exits 1 with the cause."""
    from audio.engine_client import RemoteMetronome
    from audio.errors import OutputError

    try:
        engine = RemoteMetronome(settings, audio=audio, midi=midi)
    except OutputError as exc:
        click.echo(f"companion {command}: error: {exc}", err=True)
        ctx.exit(1)
    hello = engine.process.hello
    for note in hello.notes if hello is not None else ():
        click.echo(f"note: {note}", err=True)
    return engine


def report_problem(event: OutputProblem) -> None:
    """An output problem (or its recovery) as one line: recoveries on stdout, problems on stderr."""
    if event.recovered:
        click.echo(f"{event.output}: {event.message}")
    else:
        click.echo(f"{event.output} output problem: {event.message}", err=True)


def run_headless(
    ctx: click.Context,
    command: str,
    engine: RemoteMetronome,
    seconds: float | None,
    finished: threading.Event,
    before_close: Callable[[], None] = lambda: None,
) -> None:
    """Start `engine` and play until Ctrl-C, `seconds` or `finished`, then close it (after `before_close`,
    which stops what plays on it and reads its final status). A start that fails exits 1 with the cause."""
    from audio.errors import OutputError

    try:
        engine.start()
    except OutputError as exc:
        engine.close()
        click.echo(f"companion {command}: error: {exc}", err=True)
        ctx.exit(1)
    try:
        finished.wait(seconds)
    except KeyboardInterrupt:
        pass
    finally:
        before_close()
        engine.close()
        time.sleep(0.01)  # let the last note-offs leave before the process ends


@click.command(cls=OneLineCommand)
@click.option("--bpm", type=float, required=True, help=f"Tempo in beats per minute ({MIN_BPM}-{MAX_BPM}).")
@click.option("--meter", default="4/4", show_default=True, help="Time signature, e.g. 3/4, 6/8, 7/8.")
@click.option("--accent", default=None, help="Level per beat: A accent, B beat, S sub, - silent (e.g. A-B-).")
@click.option(
    "--subdivide", default="1", type=click.Choice(["1", "2", "3", "4", "triplet"]), help="Clicks per beat."
)
@click.option("--swing", type=float, default=0.0, show_default=True, help="0-0.5; 1/3 is triplet swing.")
@click.option("--count-in", type=int, default=0, show_default=True, help="Bars of count-in before beat 0.")
@ramp_options
@output_options
@click.option("--channel", type=click.IntRange(1, 16), default=10, show_default=True, help="MIDI channel.")
@click.option("--clock", is_flag=True, help="Also send MIDI clock (24 ppqn) with Start/Stop.")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=None, help="Stop after S s.")
@click.pass_context
def metronome(ctx: click.Context, **options: Any) -> None:
    """Play a metronome headless until Ctrl-C or --seconds, printing each beat and the tempo."""
    from audio.engine_events import BeatEvent, EngineEvent, OutputProblem
    from audio.midi_output import MidiSettings

    try:
        settings = TempoSettings(
            bpm=options["bpm"],
            meter=TimeSignature.parse(options["meter"]),
            accents=options["accent"],
            subdivision=3 if options["subdivide"] == "triplet" else int(options["subdivide"]),
            swing=options["swing"],
            count_in_bars=options["count_in"],
            ramp=ramp_from(options),
        )
    except TempoError as exc:
        raise OneLineUsageError(str(exc), ctx) from None
    midi_settings = MidiSettings(channel=options["channel"], clock=options["clock"])
    audio, midi = output_configs(ctx, options, midi_settings)
    engine = start_engine(ctx, "metronome", settings, audio, midi)

    def show(event: EngineEvent) -> None:
        if isinstance(event, BeatEvent):
            if not event.is_subdivision:
                label = "count-in" if event.count_in else f"bar {event.bar + 1:>3}"
                level, bpm = event.level.value, float(event.bpm)
                click.echo(f"{label}  beat {event.beat + 1}  {level:<6}  {bpm:6.1f} bpm")
        elif isinstance(event, OutputProblem):
            report_problem(event)

    engine.add_listener(show)
    final: list[EngineStatus] = []
    forever = threading.Event()  # the metronome has no end of its own: Ctrl-C or --seconds
    run_headless(ctx, "metronome", engine, options["seconds"], forever, lambda: final.append(engine.status()))
    status = final[0]
    playing = [name for name, state in status.outputs.items() if state.available]
    click.echo(
        f"stopped: outputs {', '.join(playing) or 'none'}; xruns {status.xruns}; "
        f"late clicks {status.late_clicks}; dropped events {status.dropped_events}"
    )
