"""`companion serve`: open the app in a browser, on this computer or on a tablet on the same network."""

from __future__ import annotations

from pathlib import Path

import click

from companion.serve.access import TOKEN_ENV, validate_token
from companion.serve.server import (
    DEFAULT_FONT_SIZE,
    DEFAULT_PORT,
    CompanionServer,
    ServeError,
    access_for_bind,
    companion_command,
)


def register(group: click.Group) -> None:
    group.add_command(serve)


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. The default keeps the app on this computer; use 0.0.0.0 (or this "
    "computer's LAN address) to reach it from a tablet, which always requires an access token.",
)
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    help="Access token to require (at least 16 of A-Z a-z 0-9 - _ . ~). Default: a new random token for "
    "any non-local --host, none on this computer. Prefer the COMPANION_SERVE_TOKEN variable to keep it "
    "out of the process list.",
)
@click.option(
    "--font-size",
    default=DEFAULT_FONT_SIZE,
    show_default=True,
    type=click.IntRange(8, 64),
    help="Terminal font size in the browser, in pixels; larger means bigger buttons on a tablet "
    "(a page can override it with ?fontsize=N).",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, token: str | None, font_size: int) -> None:
    """Run Companion in the browser: each browser tab runs its own copy of the app, on one data folder."""
    if token is not None:
        try:
            validate_token(token)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--token") from exc
    data_dir: Path | None = (ctx.find_object(dict) or {}).get("data_dir")
    server = CompanionServer(
        companion_command(data_dir),
        host=host,
        port=port,
        policy=access_for_bind(host, token),
        font_size=font_size,
    )
    try:
        server.serve()
    except ServeError as exc:
        raise click.ClickException(str(exc)) from exc
