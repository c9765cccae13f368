"""`companion` (no subcommand) and `companion app`: open the Textual app on the chosen data folder.

The app is a full-screen terminal program: without a terminal (a pipe, a cron job, a test's subprocess)
it would wait forever for keys nobody can press, so it says so instead. A Textual driver chosen in the
environment (`TEXTUAL_DRIVER`, as `companion serve`/textual-serve sets for the browser) counts as a
terminal.
"""

from __future__ import annotations

import os
import sys

import click

from companion.cli.engine_commands import latency_option
from companion.cli.record_access import checked_data_dir, folder_key
from companion.record import StorageError

OUTPUTS = ("audio", "midi", "both", "none")
NO_TERMINAL = (
    "the app needs a terminal: run `companion` in a terminal window, or `companion serve` to use it "
    "from a browser or tablet"
)


def interactive() -> bool:
    """Whether the app can show itself and receive keys here."""
    return "TEXTUAL_DRIVER" in os.environ or (sys.stdin.isatty() and sys.stdout.isatty())


@click.command("app")
@click.option(
    "--output",
    type=click.Choice(OUTPUTS),
    default="audio",
    show_default=True,
    help="Where the metronome plays: the speaker, a MIDI port, both, or none (beat light only).",
)
@click.option("--midi-port", help="Existing MIDI output port (default: a virtual port named 'Companion').")
@click.option("--audio-device", help="Audio output device name (default: the system's default output).")
@latency_option
@click.option("--light", is_flag=True, help="Start with the light theme (ctrl+t toggles it).")
@click.pass_context
def app(
    ctx: click.Context,
    output: str,
    midi_port: str | None,
    audio_device: str | None,
    latency: str | float,
    light: bool,
) -> None:
    """Open the app: today's clients, the live session screen, plans, review and notes."""
    if not interactive():
        raise click.ClickException(NO_TERMINAL)
    from companion.app import AppConfig, CompanionApp

    data_dir = (ctx.find_root().obj or {}).get("data_dir")
    try:  # asked here, before the app takes the terminal; other problems show on its start-up screen
        key = folder_key(checked_data_dir(data_dir))
    except StorageError as exc:
        raise click.ClickException(str(exc)) from exc
    config = AppConfig(
        data_dir=data_dir,
        key=key,
        metronome_outputs=output,
        midi_port=midi_port,
        audio_device=audio_device,
        audio_latency=latency,
        theme="textual-light" if light else "textual-dark",
    )
    CompanionApp(config).run()


def open_or_explain(ctx: click.Context) -> None:
    """`companion` alone: the app in a terminal; elsewhere the commands, and why the app did not open."""
    if interactive():
        ctx.invoke(app)
    else:
        click.echo(ctx.get_help())
        click.echo(f"\n(companion: {NO_TERMINAL})", err=True)


def register(main: click.Group) -> None:
    main.add_command(app)
