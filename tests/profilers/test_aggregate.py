"""Constant-memory aggregates: quantiles close to the truth, a timeline that never grows."""

from __future__ import annotations

import random
import sys

import pytest

from dldoctor.profilers.aggregate import Stats, Timeline


def test_quantiles_are_within_the_histograms_resolution():
    rng = random.Random(1)
    values = [rng.lognormvariate(-4, 1) for _ in range(20000)]
    stats = Stats()
    for v in values:
        stats.add(v)
    values.sort()
    for q in (0.5, 0.95):
        exact = values[int(q * (len(values) - 1))]
        assert abs(stats.quantile(q) - exact) / exact < 0.07
    assert stats.count == 20000 and stats.max == values[-1] and stats.min == values[0]
    assert abs(stats.mean - sum(values) / len(values)) < 1e-9


def test_empty_stats_say_nothing_rather_than_zero():
    assert Stats().to_dict() == {
        "count": 0, "total_s": 0.0, "mean_s": None, "p50_s": None, "p95_s": None, "max_s": None
    }  # fmt: skip


def test_a_long_run_coarsens_the_timeline_instead_of_growing_it():
    timeline = Timeline(origin=100.0, fields=2, width_s=0.1, capacity=64)
    t = 100.0
    for _ in range(200_000):  # a day of 0.5 s steps, each waiting 0.1 s
        timeline.add_interval(t, t + 0.1, 0)
        timeline.add(t, 1, 1)
        t += 0.5
    assert len(timeline.buckets) <= 64
    assert sys.getsizeof(timeline.buckets) < 2000
    assert timeline.width >= (t - 100.0) / 64
    assert abs(timeline.total(0) - 20_000.0) < 1e-6  # no second lost in merging
    assert timeline.total(1) == 200_000


def test_an_interval_is_split_across_buckets():
    timeline = Timeline(origin=0.0, fields=1, width_s=1.0)
    timeline.add_interval(0.5, 2.25, 0)
    assert [round(b[0], 6) for b in timeline.buckets] == [0.5, 1.0, 0.25]
    assert list(timeline.span(1.1, 2.0)) == [1, 2]


def test_a_span_is_read_pro_rata_whatever_the_widths():
    timeline = Timeline(origin=0.0, fields=1, width_s=0.1)
    timeline.add_interval(0.0, 0.4, 0)  # 0.1 s in each of four buckets
    assert timeline.over(0, 0.0, 0.4) == pytest.approx(0.4)
    assert timeline.over(0, 0.05, 0.25) == pytest.approx(0.2)  # half, whole, half
    assert timeline.over(0, 0.4, 1.0) == 0.0 and timeline.over(0, 5.0, 6.0) == 0.0


def test_a_first_value_far_after_the_origin_lands_in_the_coarsened_buckets():
    timeline = Timeline(origin=0.0, fields=1, width_s=0.1, capacity=64)
    timeline.add(1000.0, 0, 1)  # coarsens many times before the bucket exists
    assert timeline.total(0) == 1 and len(timeline.buckets) <= 64


def test_fields_added_later_start_at_zero_in_every_bucket():
    timeline = Timeline(origin=0.0, fields=2, width_s=0.1)
    timeline.add(0.05, 1, 3.0)
    timeline.widen(6)  # the GPUs NVML opened after the script started
    timeline.add(0.05, 5, 2.0)
    timeline.add(0.55, 4, 1.0)
    assert [len(b) for b in timeline.buckets] == [6] * len(timeline.buckets)
    assert (timeline.total(1), timeline.total(4), timeline.total(5)) == (3.0, 1.0, 2.0)
