"""Small descriptive statistics and a least-squares trend, without numpy so the record stays light."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Describe:
    """n, mean, SD (sample; 0 for one value), min, median, max of a list of numbers."""

    n: int
    mean: float
    sd: float
    minimum: float
    median: float
    maximum: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Describe | None:
        if not values:
            return None
        return cls(
            n=len(values),
            mean=statistics.fmean(values),
            sd=statistics.stdev(values) if len(values) > 1 else 0.0,
            minimum=min(values),
            median=statistics.median(values),
            maximum=max(values),
        )


def percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else 100.0 * part / whole


def least_squares_slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Slope of the least-squares line through (x, y); None when x does not vary (fewer than 2 dates)."""
    if len(xs) != len(ys) or len(xs) < 2:
        return None
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
