"""Time sampling (momentary, partial- and whole-interval recording): one yes/no per client per interval,
the method saying which question the therapist answers."""

from __future__ import annotations

from dataclasses import dataclass

from companion.record import Sample

QUESTIONS = {
    "momentary": "now, at the end of the interval",
    "partial": "at any time in the interval",
    "whole": "throughout the interval",
}


@dataclass(frozen=True)
class SamplingPlan:
    """What is sampled, how and how often, for the session screen's timer."""

    label: str
    method: str
    interval_s: float

    @classmethod
    def from_form(cls, label: str, method: str, every: str) -> SamplingPlan:
        """The plan as typed; ValueError (said to the therapist) unless the record would take its samples:
        a label, an interval of at least 1 s."""
        interval = float(every)
        Sample(label, True, method, interval)  # the record's own rules
        return cls(label, method, interval)

    def describe(self) -> str:
        return f"{self.label}: {self.method} time sampling every {self.interval_s:g} s"
