"""Constant-memory aggregates: running stats with a log histogram, and a self-coarsening timeline.

A profile of a week-long run holds the same few kilobytes as one of ten seconds: nothing here
keeps a list that grows with the number of steps or samples.
"""

from __future__ import annotations

import math
from typing import Any

_LOW_S = 1e-6  # histogram floor: 1 µs
_PER_DECADE = 40  # bins per factor of 10: quantiles within ~6 % of the value
_BINS = 11 * _PER_DECADE  # 1 µs .. 1e5 s
_INV_LOW = 1.0 / _LOW_S
_log10 = math.log10


class Stats:
    """Count, total, min, max and a log-spaced histogram of a positive quantity (seconds)."""

    __slots__ = ("bins", "count", "max", "min", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = 0.0
        self.bins = [0] * (_BINS + 1)

    def add(self, value: float) -> None:
        # Called for every batch: plain comparisons, no min()/max() calls.
        if value < 0.0:
            value = 0.0
        self.count += 1
        self.total += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        index = 0 if value < _LOW_S else int(_log10(value * _INV_LOW) * _PER_DECADE) + 1
        self.bins[index if index < _BINS else _BINS] += 1

    def quantile(self, q: float) -> float | None:
        """The q-quantile, as the geometric middle of its bin clipped to [min, max]."""
        if not self.count:
            return None
        rank = q * (self.count - 1)
        seen = 0
        for index, n in enumerate(self.bins):
            seen += n
            if seen > rank:
                if index == 0:
                    return self.min
                middle = _LOW_S * 10 ** ((index - 0.5) / _PER_DECADE)
                return min(max(middle, self.min), self.max)
        return self.max

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "total_s": _r(self.total),
            "mean_s": _r(self.mean),
            "p50_s": _r(self.quantile(0.5)),
            "p95_s": _r(self.quantile(0.95)),
            "max_s": _r(self.max) if self.count else None,
        }


def _r(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


class Timeline:
    """Per-bucket sums of ``fields`` over time; when full, neighbouring buckets merge in pairs.

    Starts at ``width_s`` resolution; a run longer than ``capacity * width_s`` doubles the bucket
    width as often as needed, so memory stays ``capacity * fields`` numbers.
    """

    def __init__(self, origin: float, fields: int, width_s: float = 0.1, capacity: int = 256):
        self.origin = origin
        self.fields = fields
        self.width = width_s
        self.capacity = capacity
        self.buckets: list[list[float]] = []

    def widen(self, fields: int) -> None:
        """Room for more fields (zero so far) in every bucket, present and future."""
        if fields > self.fields:
            for bucket in self.buckets:
                bucket.extend([0.0] * (fields - self.fields))
            self.fields = fields

    def _index(self, t: float) -> int:
        index = int(max(t - self.origin, 0.0) / self.width)
        while index >= self.capacity:
            self._coarsen()
            index = int(max(t - self.origin, 0.0) / self.width)
        while len(self.buckets) <= index:
            self.buckets.append([0.0] * self.fields)
        return index

    def _coarsen(self) -> None:
        merged = []
        for i in range(0, len(self.buckets), 2):
            pair = self.buckets[i : i + 2]
            merged.append([sum(values) for values in zip(*pair)] if len(pair) == 2 else pair[0])
        self.buckets = merged
        self.width *= 2

    def add(self, t: float, field: int, value: float) -> None:
        index = int((t - self.origin) / self.width) if t > self.origin else 0
        if index < len(self.buckets):  # the common case: the current bucket exists
            self.buckets[index][field] += value
        else:  # _index may coarsen, replacing the bucket list: index the new one
            index = self._index(t)
            self.buckets[index][field] += value

    def add_interval(self, t0: float, t1: float, field: int) -> None:
        """Add the seconds of [t0, t1] that fall in each bucket."""
        if t1 <= t0:
            return
        index = int((t0 - self.origin) / self.width) if t0 > self.origin else 0
        last = int((t1 - self.origin) / self.width) if t1 > self.origin else 0
        if index == last and last < len(self.buckets):  # within one existing bucket
            self.buckets[index][field] += t1 - t0
            return
        self._index(t1)  # coarsen first, so both ends use the final width
        index = self._index(t0)
        while t0 < t1:
            end = min(t1, self.origin + (index + 1) * self.width)
            self.buckets[index][field] += end - t0
            t0, index = end, index + 1
            if index >= len(self.buckets):
                break

    def span(self, t0: float, t1: float) -> range:
        """Indices of the buckets overlapping [t0, t1]."""
        first = int(max(t0 - self.origin, 0.0) / self.width)
        last = int(max(t1 - self.origin, 0.0) / self.width)
        return range(first, min(last + 1, len(self.buckets)))

    def total(self, field: int, indices: range | None = None) -> float:
        rows = self.buckets if indices is None else [self.buckets[i] for i in indices]
        return sum(row[field] for row in rows)

    def over(self, field: int, start: float, end: float) -> float:
        """The sum of ``field`` over [start, end) (seconds after the origin), a bucket that
        straddles an end counted pro rata: another timeline's points read from this one
        whatever the two widths."""
        width = self.width
        first = max(int(start / width), 0)
        last = min(int(end / width), len(self.buckets) - 1)
        total = 0.0
        for index in range(first, last + 1):
            b0 = index * width
            overlap = min(b0 + width, end) - max(b0, start)
            if overlap > 0:
                total += self.buckets[index][field] * overlap / width
        return total
