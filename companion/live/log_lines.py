"""How the live log words one event, e.g. "✓ correct, verbal prompt" or "♩ 84 bpm 4/4": the session
screen's log and Review's session detail show events alike."""

from __future__ import annotations

from collections.abc import Sequence

from companion.documents.wording import num, seconds, walk_figures
from companion.record import (
    Abc,
    Cadence,
    Count,
    Duration,
    DurationStart,
    DurationStop,
    Event,
    Intervention,
    Latency,
    Measure,
    Note,
    ObservationStart,
    ObservationStop,
    Rating,
    Sample,
    Sync,
    Tempo,
    Tombstone,
    Trial,
    Walk,
)


def describe(event: Event, hierarchy: Sequence[str] = ()) -> str:
    """The event as the live log shows it, e.g. "✓ correct, verbal prompt" or "♩ 84 bpm 4/4"."""
    payload = event.payload
    match payload:
        case Trial(outcome=outcome) if outcome:
            return f"✗ {outcome}"
        case Trial(correct=correct, prompt_level=level):
            mark = "✓ correct" if correct else "✗ incorrect"
            independent = not hierarchy or level == hierarchy[0]
            return f"{mark}, {level}" if independent else f"{mark}, {level} prompt"
        case Count(label=label, delta=delta):
            return f"+{delta} {label}" if delta > 0 else f"{delta} {label}"
        case ObservationStart():
            return "◉ observing from here (counts become a rate over the time observed)"
        case ObservationStop():
            return "◉ observation stopped"
        case DurationStart(label=label):
            return f"▶ {label} started"
        case DurationStop(label=label):
            return f"■ {label} stopped"
        case Duration(label=label, seconds=secs):
            return f"{label}: {seconds(secs)}"
        case Latency(seconds=secs):
            return f"latency {num(secs)} s"
        case Rating(label=label, value=value, scale=scale, phase=phase):
            return f"{label} {num(value)}/{num(scale[1])} ({phase})"
        case Measure(label=label, value=value, unit=unit, phase=phase):
            return f"{label} {num(value)} {unit} ({phase})"
        case Sample(label=label, occurred=occurred, method=method):
            return f"{label}: {'yes' if occurred else 'no'} ({method} sample)"
        case Abc(antecedent=antecedent, behaviour=behaviour, consequence=consequence):
            return f"ABC: {antecedent} → {behaviour} → {consequence}"
        case Note(text=text):
            return f"“{text}”"
        case Tempo(bpm=bpm, meter=meter):
            return f"♩ {num(bpm)} bpm {meter}"
        case Cadence(steps_per_min=spm, n_steps=n, condition=condition):
            return f"cadence {num(spm)} steps/min ({n} steps{', ' + condition if condition else ''})"
        case Walk():
            return f"walk {walk_figures(payload)}"
        case Sync(pct_within=within, n_hits=hits):
            return f"sync {within:.0f}% of {hits} hits on the beat"
        case Intervention(plan_id=plan_id):
            return f"→ {plan_id}"
        case Tombstone():
            return "undo"
    return payload.kind
