"""The `companion` command line: one click group; each area registers its own subcommands."""

from __future__ import annotations

import click

from companion import __version__
from companion.cli import serve_commands


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="companion")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Companion: intervention plans, a precise metronome and quick-tap session data for music therapists.

    Run without a subcommand to open the app.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


serve_commands.register(main)
