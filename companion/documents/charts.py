"""Progress charts as PNG bytes, drawn with matplotlib's Agg canvas.

We build a `Figure` and render it with `FigureCanvasAgg` directly instead of using pyplot: no global
backend switch, no GUI toolkit, nothing left open between reports, safe from worker threads.
"""

from __future__ import annotations

import io
from datetime import date

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import date2num
from matplotlib.figure import Figure

from companion.record import ObjectiveProgress

WIDTH_IN, HEIGHT_IN, DPI = 7.5, 3.15, 130


def progress_chart(progress: ObjectiveProgress, title: str, dates_shown: bool = True) -> bytes:
    """Session values, the criterion threshold and the least-squares trend line of one objective.
    Without `dates_shown` (a de-identified report) the axis counts weeks from the first session."""
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    dates = [p.date for p in progress.points]

    def to_x(day: date) -> float:
        return float(date2num(day)) if dates_shown else (day - dates[0]).days / 7

    xs = [to_x(d) for d in dates]
    values = [p.value for p in progress.points]
    criterion = progress.objective.criterion
    axes.plot(xs, values, marker="o", color="#1f5f8b", linewidth=1.6, label="per session")
    axes.axhline(criterion.threshold, color="#2e8b57", linestyle="--", linewidth=1, label="criterion")
    if progress.slope_per_week is not None and len(dates) >= 2:
        mean_days = sum((d - dates[0]).days for d in dates) / len(dates)
        mean_value = sum(values) / len(values)
        ends = [dates[0], dates[-1]]
        trend = [mean_value + progress.slope_per_week * ((d - dates[0]).days - mean_days) / 7 for d in ends]
        axes.plot(
            [xs[0], xs[-1]],
            trend,
            color="#c0504d",
            linewidth=1,
            label=f"trend {progress.slope_per_week:+.1f}/week",
        )
    if progress.mastered_on is not None:
        axes.axvline(
            to_x(progress.mastered_on),
            color="#2e8b57",
            alpha=0.4,
            linewidth=6,
            label="criterion met",
        )
    for change in progress.phase_changes():  # single-case design: a vertical line per phase change
        x = to_x(change.since)
        axes.axvline(x, color="#555555", linestyle=":", linewidth=1.2)
        axes.annotate(
            change.phase,
            (x, 1.0),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            rotation=90,
            va="top",
            ha="right",
            color="#555555",
        )
    axes.set_title(title, fontsize=9, loc="left")
    axes.set_ylabel(criterion.metric.replace("_", " "), fontsize=8)
    if dates_shown:
        axes.xaxis_date()
        figure.autofmt_xdate()
    else:
        axes.set_xlabel("weeks since the first session", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
