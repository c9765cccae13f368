"""`companion export` and `companion report`: sessions as Markdown, PDF, CSV or JSON, and the quarterly
progress report, written privately into the exports folder (or where `--out` says)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import cast

import click

from companion.cli.record_access import open_record, parse_day
from companion.documents.export import FORMATS, ExportNotWritten, Format, file_slug, render, write_private
from companion.documents.report import build_report, report_file_name, report_pdf
from companion.documents.selection import select
from companion.paths import exports_dir


@click.command("export")
@click.argument("session_id", type=int, required=False)
@click.option("--client", help="Export this client's sessions (id or name) instead of one session.")
@click.option("--from", "start", help="First date (YYYY-MM-DD), with --client.")
@click.option("--to", "end", help="Last date (YYYY-MM-DD), with --client.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True)
@click.option("--deidentify", is_flag=True, help="Pseudonyms instead of names, no birth years.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="File to write ('-' = stdout).")
@click.pass_context
def export(
    ctx: click.Context,
    session_id: int | None,
    client: str | None,
    start: str | None,
    end: str | None,
    fmt: str,
    deidentify: bool,
    out: Path | None,
) -> None:
    """Export SESSION_ID, or --client C [--from D --to D], as Markdown, PDF, CSV (a row per event) or JSON."""
    if (session_id is None) == (client is None):
        raise click.UsageError("give either a SESSION_ID or --client (with optional --from/--to)")
    with open_record(ctx) as record:
        client_id = record.caseload.find_client(client).id if client else None
        chosen = select(
            record,
            session_id=session_id,
            client_id=client_id,
            start=parse_day(start),
            end=parse_day(end),
            deidentify=deidentify,
        )
        content = render(chosen, cast(Format, fmt))
        if out is not None and str(out) == "-":
            if fmt == "pdf":
                raise click.UsageError("a PDF cannot be written to the terminal; give --out FILE.pdf")
            click.echo(content.decode("utf-8"), nl=False)
            return
        target = out or exports_dir(record.data_dir) / f"{file_slug(chosen.title)}.{fmt}"
    written = _written(target, content)
    click.echo(f"Wrote {len(chosen.sessions)} session(s) to {written}")


def _written(target: Path, content: bytes) -> Path:
    """`write_private`, its refusal (full disk, bad --out) ending the command with its message."""
    try:
        return write_private(target, content)
    except ExportNotWritten as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("report")
@click.option("--client", required=True, help="Client (id or name).")
@click.option("--from", "start", help="First date (default: 13 weeks before --to).")
@click.option("--to", "end", help="Last date (default: today).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="PDF file to write.")
@click.option("--deidentify", is_flag=True, help="Pseudonym instead of name, no birth year.")
@click.option("--recommendations", help="Your recommendations (default: suggestions drafted from the data).")
@click.pass_context
def report(
    ctx: click.Context,
    client: str,
    start: str | None,
    end: str | None,
    out: Path | None,
    deidentify: bool,
    recommendations: str | None,
) -> None:
    """Write a quarterly progress report (PDF with charts) for a client over a date range."""
    last = parse_day(end) or date.today()
    first = parse_day(start) or last - timedelta(weeks=13)
    with open_record(ctx) as record:
        found = record.caseload.find_client(client)
        built = build_report(
            record, found.id, first, last, recommendations=recommendations, deidentify=deidentify
        )
        target = out or exports_dir(record.data_dir) / report_file_name(built)
    written = _written(target, report_pdf(built))
    name, count = built.client.display_name, len(built.sessions)
    click.echo(f"Wrote the progress report for {name} ({count} sessions) to {written}")


def register(group: click.Group) -> None:
    """Add `export` and `report` to the main `companion` group."""
    group.add_command(export)
    group.add_command(report)
