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
