"""The registry: codes and names are unique and well-formed, crashes are results, docs exist."""

from __future__ import annotations

import pytest

from dldoctor.checks import registry
from dldoctor.checks.registry import NotApplicable, all_checks, check
from dldoctor.model import Area, Status
from tests.checks.scenarios import make_facts


def test_every_check_has_a_three_part_docstring():
    for c in all_checks():
        assert c.doc.startswith("What:"), c.code
        assert "Why:" in c.doc and "Fix:" in c.doc, c.code


def test_duplicate_codes_and_names_are_refused_at_registration():
    existing = all_checks()[0]
    with pytest.raises(ValueError, match="collides"):
        check(existing.code, "brand-new-name", "x", Area.SYSTEM)(lambda f, m: [])
    with pytest.raises(ValueError, match="collides"):
        check("DD999", existing.name, "x", Area.SYSTEM)(lambda f, m: [])


def test_malformed_codes_and_names_are_refused():
    with pytest.raises(ValueError):
        check("X101", "fine-name", "x", Area.SYSTEM)
    with pytest.raises(ValueError):
        check("DD998", "Not_Kebab", "x", Area.SYSTEM)


def test_a_crashing_check_becomes_a_crashed_outcome_with_its_reason(matrix):
    def broken(facts, m):
        raise KeyError("gpus")

    outcome = registry.Check("DD998", "broken", "x", Area.SYSTEM, broken).run(make_facts(), matrix)
    assert outcome.status is Status.CRASHED
    assert "KeyError" in outcome.reason


def test_not_applicable_becomes_skipped_with_its_reason(matrix):
    def skip(facts, m):
        raise NotApplicable("no GPU here")

    outcome = registry.Check("DD997", "skipper", "x", Area.SYSTEM, skip).run(make_facts(), matrix)
    assert (outcome.status, outcome.reason) == (Status.SKIPPED, "no GPU here")


def test_every_check_runs_on_an_empty_machine_without_crashing(matrix):
    from dldoctor.facts.model import Facts

    outcomes = registry.run_checks(Facts(), matrix)
    assert [o for o in outcomes if o.status is Status.CRASHED] == []


def _outcome(matrix, fn):
    return registry.Check("DD995", "probe-only", "x", Area.SYSTEM, fn).run(make_facts(), matrix)


def test_every_outcome_carries_the_checks_code_and_name(matrix):
    """Skipped, not judged, crashed, found and passed: each outcome names its check."""
    from dldoctor.facts.known import Unknown
    from dldoctor.model import Severity

    def skip(facts, m):
        raise NotApplicable("no GPU here")

    def unknown(facts, m):
        raise Unknown("nvidia.gpus")

    def crash(facts, m):
        raise KeyError("gpus")

    def found(facts, m):
        return [
            registry.Verdict(Severity.WARNING, "t"),
            registry.Unjudged("GPU 1", "nvidia.gpus.1"),
        ]

    outcomes = [_outcome(matrix, fn) for fn in (skip, unknown, crash, found, lambda f, m: [])]
    assert [(o.code, o.name) for o in outcomes] == [("DD995", "probe-only")] * 5
    assert [o.status for o in outcomes] == [
        Status.SKIPPED, Status.NOT_JUDGED, Status.CRASHED, Status.FOUND, Status.PASSED
    ]  # fmt: skip
    assert outcomes[1].reason == "not judged: nvidia.gpus is unknown"
    # A finding beside an item it could not judge keeps both: the finding, and why it is partial.
    assert outcomes[3].reason == "not judged: GPU 1 (nvidia.gpus.1 is unknown)"
    assert outcomes[4].reason == ""


def test_a_registered_check_is_found_under_its_code_and_name():
    def fn(facts, m):
        return []

    check("DD994", "freshly-registered", "x", Area.SYSTEM)(fn)
    try:
        found = registry._REGISTRY["DD994"]
        assert (found.code, found.name, found.area, found.fn) == (
            "DD994", "freshly-registered", Area.SYSTEM, fn
        )  # fmt: skip
    finally:
        del registry._REGISTRY["DD994"]
