"""Storage benchmarks for the session record; prints one JSON object.

- tap-to-durable latency: wall time of `record.events.log` (commit + fsync of the WAL, synchronous=FULL),
  p50/p99/max over many taps (target p99 < 10 ms);
- summary of one client over 5 years of weekly sessions with 200 events each (target < 100 ms);
- quarterly report generation (figures + PDF with charts);
- database size per 1,000 events.

Run: `.venv/bin/python benchmarks/store.py [--dir DIR]` (DIR defaults to a temporary folder; choose one on
the disk that will hold real data, since fsync cost is a property of the disk).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from companion.documents.report import build_report, report_pdf
from companion.record import Count, EventDraft, Latency, MasteryCriterion, Note, Rating, Record, Tempo, Trial

TAPS = 2000
YEARS_OF_WEEKS = 5 * 52
EVENTS_PER_SESSION = 200
REPEATS = 7


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def tap_latency(directory: Path) -> dict[str, float]:
    with Record.open(directory, backup_every=None) as record:
        client = record.caseload.add_client("Tap bench")
        objective = record.caseload.add_objective(
            record.caseload.add_goal(client.id, "gross motor", "g").id, "o"
        )
        session = record.sessions.start_session([client.id])
        levels = ("independent", "verbal")
        timings = []
        for i in range(TAPS):
            draft = EventDraft(Trial(i % 3 != 0, levels[i % 2]), objective_id=objective.id)
            started = time.perf_counter()
            record.events.log(session.id, draft)
            timings.append((time.perf_counter() - started) * 1000)
    return {
        "taps": TAPS,
        "p50_ms": round(percentile(timings, 50), 3),
        "p99_ms": round(percentile(timings, 99), 3),
        "max_ms": round(max(timings), 3),
        "mean_ms": round(statistics.fmean(timings), 3),
    }


def session_drafts(rng: random.Random, start: datetime, objectives: list[int]) -> list[EventDraft]:
    drafts = [EventDraft(Tempo(rng.choice((72, 84, 96))), wall_time=start)]
    for i in range(EVENTS_PER_SESSION - 1):
        moment = start + timedelta(seconds=10 * i)
        objective = objectives[i % len(objectives)]
        kind = i % 10
        if kind < 6:
            payload: Trial | Count | Latency | Rating | Note = Trial(rng.random() < 0.7, "independent")
        elif kind < 8:
            payload = Count("initiation")
        elif kind == 8:
            payload = Latency(round(rng.uniform(0.5, 6), 2))
        else:
            payload = Rating("engagement", rng.randint(0, 10)) if i % 20 else Note("observation " * 4)
        drafts.append(EventDraft(payload, objective_id=objective, wall_time=moment))
    return drafts


def timed(action: Callable[[], object]) -> float:
    """Median wall time of `action` in ms over REPEATS runs."""
    runs = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        action()
        runs.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(runs), 1)


def five_years(directory: Path) -> dict[str, float]:
    rng = random.Random(5)
    first = datetime(2020, 1, 6, 15, 0, tzinfo=UTC)
    with Record.open(directory, backup_every=None) as record:
        client = record.caseload.add_client("Five years")
        goal = record.caseload.add_goal(client.id, "communication", "g")
        objectives = [
            record.caseload.add_objective(
                goal.id, f"objective {n}", MasteryCriterion("percent_correct", 80, 3)
            ).id
            for n in range(4)
        ]
        build_started = time.perf_counter()
        for week in range(YEARS_OF_WEEKS):
            start = first + timedelta(weeks=week)
            session = record.sessions.start_session([client.id], "clinic", started_at=start)
            record.events.log_many(session.id, session_drafts(rng, start, objectives))
            record.sessions.end_session(session.id, ended_at=start + timedelta(minutes=45))
        build_s = time.perf_counter() - build_started
        record.database.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        events = YEARS_OF_WEEKS * EVENTS_PER_SESSION

        last = record.sessions.sessions(client.id)[-1]
        progress_ms = timed(lambda: record.progress.client_progress(client.id))
        objective_ms = timed(lambda: record.progress.objective_progress(objectives[0]))
        session_ms = timed(lambda: record.progress.summary(last.id))
        end = last.date
        quarter = end - timedelta(weeks=13)

        report_ms = timed(lambda: report_pdf(build_report(record, client.id, quarter, end)))
        all_years_ms = timed(lambda: report_pdf(build_report(record, client.id, date(2020, 1, 1), end)))
        size = record.path.stat().st_size
    return {
        "sessions": YEARS_OF_WEEKS,
        "events": events,
        "generate_s": round(build_s, 2),
        "client_progress_5y_ms": progress_ms,
        "objective_progress_5y_ms": objective_ms,
        "session_summary_ms": session_ms,
        "quarterly_report_pdf_ms": report_ms,
        "five_year_report_pdf_ms": all_years_ms,
        "db_bytes": size,
        "db_kib_per_1000_events": round(size / 1024 / events * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="folder for the databases (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        result = {
            "benchmark": "store",
            "tap_to_durable": tap_latency(root / "taps"),
            "five_years_weekly": five_years(root / "five-years"),
            "targets": {"tap_p99_ms": 10, "client_summary_5y_ms": 100},
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
