"""Each verdict kind's reason and each rule's finding, word for word, against the golden file
(``tests/data/golden/profile_findings.txt``): what the user is told, compared, never rewritten
here (regenerating is ``python -m tests.report.golden``, a separate step)."""

from __future__ import annotations

import pytest

from tests.profilers.golden_findings import GOLDEN, SCENARIOS, recorded, render

RECORDED = recorded()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_verdict_and_findings_read_as_recorded(name):
    assert render(SCENARIOS[name]()) == RECORDED.get(name), (
        f"{name} in {GOLDEN.name} differs; if the change is intended, run "
        "`PYTHONPATH=. python -m tests.report.golden` and review the diff"
    )


def test_the_golden_file_has_exactly_these_scenarios():
    assert list(RECORDED) == list(SCENARIOS)
