"""Turning figures into the short clinical sentences notes and reports are made of.

One place for the wording, so the SOAP note, the Markdown export and the quarterly report describe the
same data in the same words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from companion.record import Goal, GroupSummary, MasteryCriterion, Objective, ObjectiveProgress
from companion.record.model import SUMMARY_WORDS
from companion.record.payloads import Walk
from companion.record.summary_stats import DurationStats, MeasureStats, TrialStats, WalkStats

# NMT and common technique abbreviations written in capitals when a plan id starts with them.
ACRONYMS = {"ras", "timp", "pse", "mit", "ts", "sycom", "mact", "iso", "dslm", "rsc", "omrex", "vit", "mat"}


def plan_label(plan_id: str, titles: Mapping[str, str] | None = None) -> str:
    """A readable name for an intervention plan: its title when known, else its id made readable."""
    if titles and plan_id in titles:
        return titles[plan_id]
    words = plan_id.split("-")
    first = words[0].upper() if words[0] in ACRONYMS else words[0].capitalize()
    return " ".join([first, *words[1:]])


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"


def num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def seconds(value: float) -> str:
    minutes, secs = divmod(round(value), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def _rule(criterion: MasteryCriterion | None, metric: str) -> str | None:
    """The objective's summary rule for takes of this metric's kind (None: not this objective's figure)."""
    return criterion.summary_rule if criterion is not None and criterion.metric == metric else None


def duration_figure(duration: DurationStats, criterion: MasteryCriterion | None) -> str:
    """E.g. "2 min 5 s" (a total) or "best 12 s of 3", by the objective's summary rule."""
    rule = _rule(criterion, "duration_seconds")
    figure = duration.summarised(criterion) if criterion is not None else None
    if rule in (None, "sum") or duration.episodes < 2 or figure is None:
        return seconds(duration.total_seconds)
    return f"{SUMMARY_WORDS[rule]} {seconds(figure)} of {duration.episodes}"


def measure_figure(measure: MeasureStats, criterion: MasteryCriterion | None) -> str:
    """E.g. "80 → 95 degrees", "42 cm" or "mean 11.3 s of 3", by the objective's summary rule."""
    rule = _rule(criterion, "measure_last")
    figure = measure.summarised(criterion) if criterion is not None else None
    if rule in (None, "last", "change") or measure.n < 2 or figure is None:
        if measure.before is not None and measure.after is not None:
            return f"{num(measure.before)} → {num(measure.after)} {measure.unit}"
        return f"{num(measure.last)} {measure.unit}"
    return f"{SUMMARY_WORDS[rule]} {num(figure)} {measure.unit} of {measure.n}"


def walk_figures(walk: Walk) -> str:
    """E.g. "10 m in 12.1 s · 0.83 m/s · 99 steps/min · stride 1.00 m"."""
    text = f"{num(walk.distance_m)} m in {walk.seconds:g} s · {walk.velocity_m_s:.2f} m/s"
    if walk.cadence_spm is not None and walk.stride_m is not None:
        text += f" · {num(walk.cadence_spm)} steps/min · stride {walk.stride_m:.2f} m"
    return text + (f" ({walk.condition})" if walk.condition else "")


def walks_sentence(walks: WalkStats) -> str:
    """The session's timed walks as the 10-metre walk test reports them: mean velocity, then cadence and
    stride length where steps were counted."""
    each = ", ".join(f"{v:.2f}" for v in walks.velocities)
    trials = "walk" if walks.n == 1 else f"mean of {walks.n} walks: {each} m/s"
    text = f"Timed {num(walks.distance_m)} m walk: {walks.velocity:.2f} m/s ({trials})"
    if walks.cadence is not None and walks.stride is not None:
        text += f", cadence {num(walks.cadence)} steps/min, stride length {walks.stride:.2f} m"
    if walks.conditions:
        text += f" ({', '.join(walks.conditions)})"
    return text + "."


def trial_sentence(trials: TrialStats) -> str:
    text = (
        f"{trials.independent}/{trials.n} independent trials ({pct(trials.pct_independent)}), "
        f"{trials.correct}/{trials.n} correct ({pct(trials.pct_correct)})"
    )
    prompted = [
        f"{level} {correct}/{correct + wrong}"
        for level, (correct, wrong) in list(trials.by_level.items())[1:]
        if correct + wrong
    ]
    others = [
        f"{n} {what}" for n, what in ((trials.no_response, "no response"), (trials.refused, "refused")) if n
    ]
    text += f"; prompted: {', '.join(prompted)}" if prompted else ""
    return text + (f"; {', '.join(others)} (counted as not correct)" if others else "")


def group_sentences(group: GroupSummary, titles: Mapping[str, str] | None = None) -> list[str]:
    """The data of one client/objective group as sentences, most important first."""
    context = ""
    if group.tempo is not None:
        context += f" at {group.tempo.describe()}"
    if group.plan_ids:
        context += " during " + ", ".join(plan_label(p, titles) for p in group.plan_ids)
    lines = []
    if group.trials is not None:
        lines.append(trial_sentence(group.trials) + context + ".")
        context = ""
    for label, count in group.counts.items():
        observed = f" observed over {seconds(group.observed_minutes * 60)}" if group.observed_minutes else ""
        lines.append(f"{label.capitalize()}: {count.total} ({count.per_minute:.2f}/min{observed}){context}.")
        context = ""
    for label, duration in group.durations.items():
        still = f", {duration.open_episodes} not stopped" if duration.open_episodes else ""
        episodes = "episode" if duration.episodes == 1 else "episodes"
        figure = duration_figure(duration, group.criterion)
        if figure == seconds(duration.total_seconds):
            lines.append(f"{label.capitalize()}: {figure} over {duration.episodes} {episodes}{still}.")
        else:
            each = ", ".join(seconds(v) for v in duration.values)
            lines.append(f"{label.capitalize()}: {each}; {figure} {episodes}{still}.")
    if group.latency is not None:
        lat = group.latency
        span = f"{num(lat.minimum)}-{num(lat.maximum)} s"
        lines.append(f"Latency cue-to-response: mean {num(lat.mean)} s (range {span}, n={lat.n}).")
    for rating in group.ratings.values():
        low, high = rating.scale
        parts = []
        if rating.before is not None:
            parts.append(f"{num(rating.before)} before")
        if rating.during:
            parts.append("during " + ", ".join(num(v) for v in rating.during))
        if rating.after is not None:
            parts.append(f"{num(rating.after)} after")
        change = "" if rating.change is None else f" (change {rating.change:+.1f})"
        lines.append(f"{rating.label.capitalize()} ({num(low)}-{num(high)}): {', '.join(parts)}{change}.")
    for measure in group.measures.values():
        figure = measure_figure(measure, group.criterion)
        if measure.n > 1 and figure.endswith(f" of {measure.n}"):
            each = ", ".join(num(v) for v in measure.values)
            lines.append(f"{measure.label.capitalize()}: {each} {measure.unit}; {figure} measurements.")
        elif measure.before is not None and measure.after is not None:
            before, after = measure.before, measure.after
            change = ("-" if after < before else "+") + num(abs(after - before))
            lines.append(
                f"{measure.label.capitalize()}: {num(before)} {measure.unit} before, "
                f"{num(after)} {measure.unit} after (change {change} {measure.unit})."
            )
        else:
            taken = "measurement" if measure.n == 1 else f"latest of {measure.n} measurements"
            lines.append(f"{measure.label.capitalize()}: {num(measure.last)} {measure.unit} ({taken}).")
    if group.cadence is not None:
        cad = group.cadence
        lines.append(
            f"Cadence {num(cad.first)} -> {num(cad.last)} steps/min (max {num(cad.maximum)}, "
            f"mean CV {cad.mean_cv * 100:.1f}%, {cad.measurements} measurements){context}."
        )
        context = ""
    if group.walks is not None:
        lines.append(walks_sentence(group.walks))
    if group.sync is not None:
        sync = group.sync
        lines.append(
            f"Synchronisation: {sync.pct_within:.0f}% of {sync.beats} beats hit within the window, "
            f"mean asynchrony {sync.mean_asynchrony_ms:+.0f} ms (SD {sync.mean_sd_ms:.0f} ms), "
            f"{sync.missed} missed, {sync.extra} extra{context}."
        )
    lines.extend(
        f"{s.label.capitalize()} ({s.method} time sampling, every {num(s.interval_s)} s): {s.occurred} of "
        f"{s.intervals} intervals ({s.pct:.0f}%)."
        for s in group.samples.values()
    )
    lines.extend(
        f"ABC: {entry.antecedent} -> {entry.behaviour} -> {entry.consequence}." for entry in group.abc
    )
    lines.extend(f'Note: "{text}"' for text in group.notes)
    return lines


def progress_sentence(progress: ObjectiveProgress) -> str:
    """One line on an objective's progress across sessions, for reports and the Assessment section."""
    criterion = progress.objective.criterion
    if not progress.points:
        return "No data in this period."
    metric = criterion.metric.replace("_", " ")
    trend = (
        "trend n/a (one session)"
        if progress.slope_per_week is None
        else f"trend {progress.slope_per_week:+.1f} per week"
    )
    status = (
        f"criterion met on {progress.mastered_on.isoformat()}"
        if progress.mastered_on
        else f"not yet met ({progress.current_run} of {criterion.consecutive_sessions} sessions in a row)"
    )
    sessions = f"{len(progress.points)} session{'' if len(progress.points) == 1 else 's'}"
    levels = f"{metric} from {num(progress.baseline or 0)} to {num(progress.latest or 0)}"
    return f"{sessions}; {levels}; {trend}; {status}."


def objective_heading(objective: Objective | None, number: int | None = None) -> str:
    if objective is None:
        return "Other observations"
    prefix = f"Objective {number}: " if number is not None else ""
    return f"{prefix}{objective.description}"


def number_objectives(goals: Sequence[Goal], objectives: Sequence[Objective]) -> dict[int, int]:
    """Objective id -> its number as the app shows it: goal by goal, counting on across goals."""
    ordered = [o for goal in goals for o in objectives if o.goal_id == goal.id]
    return {objective.id: number for number, objective in enumerate(ordered, start=1)}


METRIC_UNITS: dict[str, str] = {
    "percent_correct": "%",
    "percent_independent": "%",
    "sync_pct_within": "%",
    "interval_pct": "%",
    "count_per_minute": "/min",
    "duration_seconds": " s",
    "latency_seconds": " s",
    "cadence_spm": " steps/min",
    "gait_velocity": " m/s",
}
"""What a metric's values are in, as written after a number (a measure's unit is its own)."""


def with_unit(value: float, metric: str, unit: str = "") -> str:
    """The value as written with its unit: the metric's, or `unit` (a measure's own, e.g. "s", "deg")."""
    return f"{num(value)} {unit}" if unit else f"{num(value)}{METRIC_UNITS.get(metric, '')}"
