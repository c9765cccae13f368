"""The benchmarks that need no JACK server run to the end and print their JSON.

Benchmarks are not part of the test suite's assertions (speed is measured, not asserted), but one that no
longer runs is a README figure nobody can renew: `benchmarks/store.py` stopped at a goal domain the record
had stopped accepting, unnoticed for several stops. These two take seconds; the JACK ones are run by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("script", "figures"),
    [
        ("store.py", ("tap_to_durable", "five_years_weekly")),
        ("library.py", ("load_shipped", "search", "suggest_3_goals")),
    ],
)
def test_the_benchmark_runs_and_prints_its_figures(
    script: str, figures: tuple[str, ...], tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert all(name in report for name in figures), sorted(report)
