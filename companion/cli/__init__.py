"""The `companion` command line: one click group; each area registers its own subcommands."""

from __future__ import annotations

import click

from companion import __version__


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="companion")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Companion: intervention plans, a precise metronome and quick-tap session data for music therapists.

    Run without a subcommand to open the app.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


from companion.cli.engine_commands import devices, metronome  # noqa: E402  (registration)

main.add_command(devices)
main.add_command(metronome)
