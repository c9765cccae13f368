"""`companion play` and `companion songs`: musical cues from a terminal, without the app.

Why here and not in the app: a therapist preparing a session checks that a client's song file loads and
how it sounds at the target tempo (`companion play SONG --bpm 90`), and lists which songs a client has
(`companion songs list --client Ava`). Bad files and bad arguments give one line naming the cause and the
fix, as the metronome command does.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import click

from audio.cues import Cue, GrooveCue, SongCue, groove_meter, settings_for_cue, song_choices
from audio.grooves import GROOVES
from audio.song import Loop, Song
from audio.song_file import SongError, load_song
from audio.tempo import TempoError, TempoSettings, TimeSignature
from companion.cli.engine_commands import (
    OneLineCommand,
    OneLineUsageError,
    output_configs,
    output_options,
    ramp_from,
    ramp_options,
    report_problem,
    run_headless,
    start_engine,
)
from companion.cli.record_access import open_record


@click.group()
def songs() -> None:
    """Songs for musical cues: check MIDI files, list a client's songs."""


@songs.command("info", cls=OneLineCommand)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def songs_info(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Show title, meter, bars, tempo and length of each MIDI FILE (exit 1 if one cannot be played)."""
    failed = False
    for path in files:
        try:
            song = load_song(path)
        except SongError as exc:
            click.echo(f"companion songs info: error: {exc}", err=True)
            failed = True
            continue
        click.echo(_describe(song))
    if failed:
        ctx.exit(1)


def _describe(song: Song) -> str:
    tempi = ", ".join(f"{change.bpm:g} from beat {change.beat}" for change in song.tempo_changes)
    meters = ", ".join(f"{change.signature} from bar {change.bar}" for change in song.meter_changes)
    channels = sorted({event.message.channel + 1 for event in song.events if event.message.type == "note_on"})
    notes = sum(event.message.type == "note_on" for event in song.events)
    return "\n".join(
        [
            song.summary,
            f"  file:     {song.path}",
            f"  meter:    {meters}",
            f"  tempo:    {tempi} (quarter notes per minute; the main tempo is {song.original_bpm:g})",
            f"  plays at: the metronome's bpm is the song's {song.meter} beat "
            f"(its own speed is {song.original_meter_bpm:g} bpm)",
            f"  notes:    {notes} on channel{'s' if len(channels) > 1 else ''} "
            f"{', '.join(map(str, channels))}",
        ]
    )


@songs.command("list")
@click.option("--client", default=None, help="Client (id or name) whose preferred songs come first.")
@click.pass_context
def songs_list(ctx: click.Context, client: str | None) -> None:
    """The songs a session offers: the client's preferred songs (*) first, then the demo songs."""
    preferred: tuple[str, ...] = ()
    if client is not None:
        with open_record(ctx) as record:
            preferred = record.caseload.find_client(client).preferred_songs
    for number, choice in enumerate(song_choices(preferred), start=1):
        click.echo(f"{number:>3}  {choice.label}")
        if choice.song is not None:
            click.echo(f"     {choice.path}")


@songs.command("add", cls=OneLineCommand)
@click.argument("client")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def songs_add(ctx: click.Context, client: str, files: tuple[Path, ...]) -> None:
    """Add MIDI FILES to CLIENT's preferred songs (offered first in sessions); a file that cannot be
    played is refused with the reason."""
    good, failed = [], False
    for path in files:
        try:
            load_song(path)
        except SongError as exc:
            click.echo(f"companion songs add: error: {exc}", err=True)
            failed = True
            continue
        good.append(str(path.expanduser().resolve()))
    with open_record(ctx) as record:
        found = record.caseload.find_client(client)
        songs = [*found.preferred_songs, *(path for path in good if path not in found.preferred_songs)]
        record.caseload.update_client(found.id, preferred_songs=songs)
    click.echo(f"{found.display_name} has {len(songs)} preferred song{'s' if len(songs) != 1 else ''}")
    if failed:
        ctx.exit(1)


@songs.command("remove", cls=OneLineCommand)
@click.argument("client")
@click.argument("song")
@click.pass_context
def songs_remove(ctx: click.Context, client: str, song: str) -> None:
    """Remove SONG (its number in `songs list --client`, or its path) from CLIENT's preferred songs."""
    with open_record(ctx) as record:
        found = record.caseload.find_client(client)
        songs = list(found.preferred_songs)
        if song.isdigit() and 1 <= int(song) <= len(songs):
            removed = songs.pop(int(song) - 1)
        elif str(Path(song).expanduser().resolve()) in songs:
            removed = str(Path(song).expanduser().resolve())
            songs.remove(removed)
        else:
            raise OneLineUsageError(
                f"{found.display_name} has no preferred song {song!r}: "
                f"give its number (1-{len(songs)}) or path from `companion songs list --client`",
                ctx,
            )
        record.caseload.update_client(found.id, preferred_songs=songs)
    click.echo(f"removed {removed}")


def _loop(text: str | None, song: Song) -> Loop | None:
    if text is None:
        return None
    if text.strip().lower() == "all":
        return Loop(1, song.bars)
    first, dash, last = text.partition("-")
    if not (dash and first.strip().isdigit() and last.strip().isdigit()):
        raise ValueError(f"--loop {text!r}: give bars as A-B, e.g. 5-8, or 'all'")
    return Loop(int(first), int(last))


def _cue(song_path: Path | None, options: dict[str, Any]) -> Cue:
    """The cue the options ask for; a SongError for a bad file, a ValueError for options that clash."""
    groove, meter = options["groove"], options["meter"]
    if song_path is not None and groove is not None:
        raise ValueError("play a SONG or a --groove, not both")
    if groove is not None:
        if meter is not None:  # "the rock groove is in 4/4; for 3/4 use waltz"
            groove_meter(GROOVES[groove], TimeSignature.parse(meter))
        return GrooveCue(GROOVES[groove], options["intensity"])
    if song_path is None:
        raise ValueError("give a SONG (a MIDI file) or --groove NAME; `companion metronome` plays the click")
    song = load_song(song_path)
    if meter is not None:
        raise ValueError(f"--meter is for a groove: {song.title} plays in its own meter ({song.meter})")
    return SongCue(song, loop=_loop(options["loop"], song), start_bar=options["start_bar"])


@click.command(cls=OneLineCommand)
@click.argument("song", required=False, type=click.Path(path_type=Path))
@click.option("--groove", type=click.Choice(sorted(GROOVES)), default=None, help="A drum groove instead.")
@click.option("--intensity", type=click.IntRange(1, 3), default=2, show_default=True, help="Groove level.")
@click.option("--bpm", type=float, required=True, help="Target tempo: the song's beat plays at this bpm.")
@click.option("--meter", default=None, help="Meter for a groove (a song plays in its own meter).")
@click.option("--count-in", type=int, default=0, show_default=True, help="Bars of count-in.")
@ramp_options
@click.option(
    "--click/--no-click",
    "layer_click",
    default=None,
    help="Layer the click (default: with a song, not a groove).",
)
@click.option("--loop", default=None, help="Repeat bars A-B of the song (e.g. 5-8), or 'all'.")
@click.option("--start-bar", type=int, default=1, show_default=True, help="Bar of the song to start at.")
@output_options
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=None, help="Stop after S s.")
@click.pass_context
def play(ctx: click.Context, song: Path | None, **options: Any) -> None:
    """Play SONG (a MIDI file) or a --groove at the target tempo, until it ends, Ctrl-C or --seconds."""
    from audio.engine_client import RemoteCuePlayer
    from audio.engine_events import BeatEvent, EngineEvent, OutputProblem

    try:
        if options["loop"] is not None and song is None:
            raise ValueError("--loop repeats bars of a song; a groove repeats anyway")
        cue = _cue(song, options)
        settings, note = settings_for_cue(
            TempoSettings(
                bpm=options["bpm"],
                meter=TimeSignature.parse(options["meter"] or "4/4"),
                count_in_bars=options["count_in"],
                ramp=ramp_from(options),
            ),
            cue,
        )
    except SongError as exc:
        click.echo(f"companion play: error: {exc}", err=True)
        ctx.exit(1)
    except (TempoError, ValueError) as exc:
        raise OneLineUsageError(str(exc), ctx) from None
    audio, midi = output_configs(ctx, options)
    if note is not None:
        click.echo(note, err=True)
    engine = start_engine(ctx, "play", settings, audio, midi)
    for problem in engine.open():
        click.echo(f"{problem.output} output problem: {problem.message}", err=True)
    player = RemoteCuePlayer(engine, cue)
    layer_click = options["layer_click"]
    player.set_click(isinstance(cue, SongCue) if layer_click is None else layer_click)
    click.echo(f"playing {cue.summary} at {float(settings.bpm):g} bpm in {settings.meter}")
    finished = threading.Event()

    def show(event: EngineEvent) -> None:
        if isinstance(event, BeatEvent):
            if event.beat == 0 and event.sub == 0 and not event.count_in:
                state = player.state()
                where = f", song bar {state.bar}" if state.bar is not None else ""
                click.echo(f"bar {event.bar + 1:>3}{where}  {float(event.bpm):6.1f} bpm")
                if state.finished:
                    finished.set()
        elif isinstance(event, OutputProblem):
            report_problem(event)

    engine.add_listener(show)
    run_headless(ctx, "play", engine, options["seconds"], finished, player.close)
    click.echo("finished" if finished.is_set() else "stopped")
