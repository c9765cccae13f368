"""Benchmark: how long the intervention library takes to load, search and suggest. Prints JSON.

Target: loading the whole library (shipped plans plus a user folder) under 100 ms, so the app and every
`companion plans` command can simply load it on start. Each figure is the median and the worst of
several runs in a fresh `Library` (nothing cached between runs), judged on the median because the
machine is shared and the worst run measures the neighbours; the first, cold run is reported apart
because it includes importing pydantic's validators and reading files from disk.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from interventions import SHIPPED_DIR, GoalWords, Library

RUNS = 30
LOAD_TARGET_MS = 100.0
USER_PLANS = 20


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def summary(samples: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(samples), 2), "max_ms": round(max(samples), 2)}


def user_folder(directory: Path) -> None:
    """A user folder with copies of shipped plans under new ids, as a busy practice might have."""
    for number, source in enumerate(sorted(SHIPPED_DIR.glob("*.toml"))[:USER_PLANS]):
        text = source.read_text(encoding="utf-8").replace(f'id = "{source.stem}"', f'id = "mine-{number}"', 1)
        (directory / f"mine-{number}.toml").write_text(text, encoding="utf-8")


def import_time_ms() -> float:
    """Importing the library in a fresh interpreter (pydantic builds its validators at import)."""
    code = "import time; t = time.perf_counter(); import interventions; print(time.perf_counter() - t)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(output) * 1000


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty"
        busy = Path(tmp) / "busy"
        busy.mkdir()
        user_folder(busy)
        cold = timed(lambda: Library.load(empty))
        load = [timed(lambda: Library.load(empty)) for _ in range(RUNS)]
        load_busy = [timed(lambda: Library.load(busy)) for _ in range(RUNS)]
        library = Library.load(busy)
        plan_count = len(library.plans)
        first_search = timed(lambda: Library.load(empty).search("drum"))  # includes building the index
        library.search("warm up")  # builds the index, measured above
        search = [timed(lambda: library.search("walk with a steady beat")) for _ in range(RUNS)]
        goals: list[GoalWords] = ["walk with a steady cadence", ("communication", "request with AAC"), "calm"]
        suggest = [timed(lambda: library.suggest(goals)) for _ in range(RUNS)]
    result = {
        "benchmark": "interventions.library",
        "python": sys.version.split()[0],
        "shipped_plans": len(list(SHIPPED_DIR.glob("*.toml"))),
        "plans_with_user_folder": plan_count,
        "runs": RUNS,
        "import_ms": round(import_time_ms(), 2),
        "cold_first_load_ms": round(cold, 2),
        "load_shipped": summary(load),
        "load_shipped_plus_user": summary(load_busy),
        "load_target_ms": LOAD_TARGET_MS,
        "load_within_target": statistics.median(load_busy) < LOAD_TARGET_MS,
        "load_and_first_search_ms": round(first_search, 2),
        "search": summary(search),
        "suggest_3_goals": summary(suggest),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
