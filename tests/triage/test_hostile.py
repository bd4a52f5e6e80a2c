"""Nothing pasted can make triage raise or a check crash: fragments of every format, shuffled."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dldoctor.checks.registry import run_checks
from dldoctor.matrix import load
from dldoctor.model import Status
from dldoctor.triage import read

PASTES = Path(__file__).resolve().parent / "pastes"
MATRIX = load()
# Lines of every fixture: the parsers' own markers, in any order, cut anywhere.
LINES = sorted(
    {
        line
        for path in PASTES.glob("*.txt")
        for line in path.read_text(encoding="utf-8").splitlines()
    }
)
NOISE = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from(LINES), NOISE, st.sampled_from(LINES).map(lambda s: s[: len(s) // 2])
        ),
        max_size=60,
    )
)
def test_any_mix_of_pasted_lines_is_read_and_judged_without_a_crash(lines):
    pasted = read("\n".join(lines), MATRIX)
    outcomes = run_checks(pasted.facts, MATRIX)
    crashed = [(o.code, o.reason) for o in outcomes if o.status is Status.CRASHED]
    assert not crashed
