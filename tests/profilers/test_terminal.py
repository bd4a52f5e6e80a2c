"""The terminal view of a profile, compared exactly with a golden rendering."""

from __future__ import annotations

import io

import jsonschema

from dldoctor.document.schema import profile_report_schema
from dldoctor.report.profile_terminal import render, sparkline
from dldoctor.report.terminal import Out
from tests.report.golden import GOLDEN, compare, profile_view
from tests.report.golden import profile_report as _report


def test_input_bound_rendering_matches_the_golden_file():
    compare(profile_view(), GOLDEN / "profile_input_bound.txt")


def test_colour_only_when_asked():
    stream = io.StringIO()
    render(_report(), Out(stream, color=True, width=100))
    assert "\033[" in stream.getvalue()
    plain = io.StringIO()
    render(_report(), Out(plain))
    assert "\033[" not in plain.getvalue()


def test_the_report_document_is_valid_and_its_exit_code_is_the_gates():
    report = _report()
    jsonschema.validate(report.to_dict(), profile_report_schema())
    assert report.exit_code() == 1 and report.to_dict()["summary"]["exit_code"] == 1


def test_sparkline_levels_and_gaps():
    assert sparkline([0.0, 0.5, 1.0, None, 2.0]) == "▁▅█ █"


def test_the_workers_shown_are_the_configured_ones_not_the_sampled_mean():
    from dldoctor.report.profile_terminal import _cpu_line
    from tests.profilers.synthetic import loader, make

    profile = make()
    profile["cpu"]["workers"] = 1.0  # one of two alive on average (starting, restarting)
    assert "2 loader workers at" in _cpu_line(profile["cpu"], [loader(num_workers=2)])
    assert "1 loader worker at" in _cpu_line(profile["cpu"], [loader(num_workers=1)])


def test_a_first_step_far_above_the_p95_is_shown_beside_the_mean():
    """A first step that traces (tf.function) or starts workers lifts the mean above the p95:
    it is named, so the line does not read as a mistake; at or under twice the p95 it is not."""
    from tests.profilers.synthetic import make

    profile = make()
    p95 = profile["steps"]["duration"]["p95_s"]
    for first, shown in ((2 * p95, False), (2 * p95 + 0.001, True), (1.5, True)):
        profile["data_wait"]["first_steps"]["time_s"] = first
        stream = io.StringIO()
        render(_report_of(profile), Out(stream, width=200))
        (line,) = [s for s in stream.getvalue().splitlines() if s.strip().startswith("Steps:")]
        assert ("; the first " in line) is shown, line
        if first == 1.5:
            assert "p95 70.0 ms; the first 1500.0 ms)" in line


def _report_of(profile):
    report = _report()
    report.profile.update(profile)
    return report
