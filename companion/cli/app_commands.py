"""`companion` (no subcommand) and `companion app`: open the Textual app on the chosen data folder."""

from __future__ import annotations

import click

OUTPUTS = ("audio", "midi", "both", "none")


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
@click.option("--light", is_flag=True, help="Start with the light theme (ctrl+t toggles it).")
@click.pass_context
def app(
    ctx: click.Context, output: str, midi_port: str | None, audio_device: str | None, light: bool
) -> None:
    """Open the app: today's clients, the live session screen, plans, review and notes."""
    from companion.app import AppConfig, CompanionApp

    data_dir = (ctx.find_root().obj or {}).get("data_dir")
    config = AppConfig(
        data_dir=data_dir,
        metronome_outputs=output,
        midi_port=midi_port,
        audio_device=audio_device,
        theme="textual-light" if light else "textual-dark",
    )
    CompanionApp(config).run()


def register(main: click.Group) -> None:
    main.add_command(app)
