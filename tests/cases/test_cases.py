"""One test per recorded real failure (and healthy machine): the top finding names the root cause."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cases import corpus


def _param(path: Path) -> object:
    case = corpus.load_case(path)
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(path, id=case.name, marks=marks)


@pytest.mark.parametrize("path", [_param(p) for p in corpus.case_paths()])
def test_case(path: Path, matrix, tmp_path) -> None:
    case = corpus.load_case(path)
    code, report = corpus.judge(case, matrix, tmp_path)
    found = corpus.codes(report, "error", "warning")
    if case.expected.healthy:
        assert found == [], f"{case.name} is healthy, yet: {found}"
        assert code == 0
        return
    verdict = corpus.verdict(case, report)
    want = "/".join(case.expected.primary)
    if case.expected.mentions:
        want += f" naming {', '.join(case.expected.mentions)}"
    assert verdict.top_ok, (
        f"top finding {verdict.top}, want {want} ({case.root_cause}); all: {found}"
    )
    assert not verdict.false_claims, f"claims {verdict.false_claims} that {case.source} refutes"
    assert verdict.extra_errors == 0, f"more than one error per root cause: {found}"


def test_the_corpus_is_large_and_varied() -> None:
    cases = corpus.all_cases()
    failures = [c for c in cases if not c.expected.healthy]
    assert len(failures) >= 60
    assert sum(c.expected.healthy for c in cases) >= 8
    assert {c.platform for c in cases} == corpus.PLATFORMS
    assert len({c.source for c in failures}) == len(failures), "one thread, one case"


def test_a_case_judged_by_the_real_command_in_a_child_process(matrix, tmp_path) -> None:
    """The in-process runner above and `python -m dldoctor check --from` give the same report."""
    case = corpus.load_case(corpus.HERE / "nvml-mismatch-after-unattended-upgrade.json")
    inside = corpus.judge(case, matrix, tmp_path)
    child = corpus.judge(case, matrix, tmp_path, subprocess_run=True)
    assert inside[0] == child[0] == 1
    assert corpus.codes(inside[1]) == corpus.codes(child[1]) == ["DD102"]
