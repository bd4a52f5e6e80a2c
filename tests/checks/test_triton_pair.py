"""DD528: the triton beside torch against the release line torch's wheels pin (extensions.toml)."""

from __future__ import annotations

import sys

import pytest

from dldoctor.checks.extensions_pairs import triton_for_another_torch
from dldoctor.checks.registry import NotApplicable
from dldoctor.facts.model import Facts
from tests.checks.scenarios import dist, with_packages


def _facts(torch: str, triton: str, requires: tuple[str, ...] = (), hip: object = None) -> Facts:
    packages = with_packages(
        dist("torch", torch, requires=list(requires)),
        dist("triton", triton),
        frameworks={"torch": {"build": {"cuda": "12.4", "hip": hip}}},
    )["packages"]
    return Facts(packages=packages, python={"executable": sys.executable})


@pytest.mark.parametrize(
    ("triton", "fires"),
    [("3.0.0", True), ("3.1.0", False), ("3.1.0+gitcf34004b", False), ("3.2.0", True)],
)  # below, at (a build of it too), above torch 2.5's triton 3.1
def test_a_triton_of_another_line_than_torch_pins_is_a_warning(matrix, triton, fires):
    verdicts = triton_for_another_torch(_facts("2.5.1", triton), matrix)
    assert bool(verdicts) is fires
    if fires:
        (verdict,) = verdicts
        assert verdict.severity.value == "warning"
        assert verdict.title.startswith(f"triton {triton} does not pair with torch 2.5.1: ")
        assert "torch 2.5 pins triton 3.1" in verdict.title
        assert verdict.fixes[0].commands[0][-1] == "triton==3.1.0"
        assert verdict.evidence["source"].startswith("https://github.com/")


def test_a_patch_release_of_torch_gets_its_own_pin(matrix):
    (verdict,) = triton_for_another_torch(_facts("2.12.1", "3.6.0"), matrix)
    assert verdict.fixes[0].commands[0][-1] == "triton==3.7.1"  # the newest pin of the line


def test_a_pin_in_torch_s_own_metadata_is_left_to_pip_s_check(matrix):
    pinned = ('triton==3.1.0; platform_system == "Linux" and platform_machine == "x86_64"',)
    with pytest.raises(NotApplicable, match="DD303"):
        triton_for_another_torch(_facts("2.5.1", "3.0.0", requires=pinned), matrix)


def test_rocm_and_unlisted_releases_are_not_judged(matrix):
    with pytest.raises(NotApplicable, match="ROCm"):
        triton_for_another_torch(_facts("2.5.1+rocm6.2", "3.0.0", hip="6.2"), matrix)
    with pytest.raises(NotApplicable, match="no triton pairing"):
        triton_for_another_torch(_facts("2.7.1", "3.0.0"), matrix)


def test_every_row_of_the_table_is_judged_at_below_and_above_its_line(matrix):
    for row in matrix.tables["extensions"]["triton"]:
        major, minor = (int(x) for x in row["triton"].split("."))
        torch = f"{row['torch']}.0"
        assert triton_for_another_torch(_facts(torch, f"{row['triton']}.9"), matrix) == []
        lower = f"{major}.{minor - 1}.0" if minor else f"{major - 1}.9.0"
        for other in (lower, f"{major}.{minor + 1}.0"):
            (verdict,) = triton_for_another_torch(_facts(torch, other), matrix)
            assert verdict.fixes[0].commands[0][-1] == f"triton=={row['pinned'][-1]}"


def test_the_finding_carries_the_pairing_row_as_evidence_and_names_torch_in_the_fix(matrix):
    (verdict,) = triton_for_another_torch(_facts("2.5.1", "3.0.0"), matrix)
    row = next(r for r in matrix.tables["extensions"]["triton"] if r["torch"] == "2.5")
    assert verdict.title == (
        "triton 3.0.0 does not pair with torch 2.5.1: torch 2.5 pins triton 3.1 "
        "(torch.compile and triton kernels may fail)"
    )
    assert verdict.evidence == {
        "framework": "torch",
        "extension": "triton",
        "version": "3.0.0",
        "torch": "2.5.1",
        "paired": "3.1",
        "pinned": list(row["pinned"]),
        "source": row["source"],
    }
    assert verdict.fixes[0].summary == (
        f"Install triton {row['pinned'][-1]}, the release torch 2.5.1 is built and tested with."
    )


@pytest.mark.parametrize("present", ["torch", "triton", None])
def test_without_both_torch_and_triton_nothing_is_judged(matrix, present):
    dists = [dist(present, "2.5.1" if present == "torch" else "3.0.0")] if present else []
    facts = Facts(packages=with_packages(*dists)["packages"], python={"executable": sys.executable})
    with pytest.raises(NotApplicable, match=r"^torch and triton are not both installed$"):
        triton_for_another_torch(facts, matrix)


def test_the_reasons_nothing_is_judged_say_who_judges_instead(matrix):
    pinned = ("triton==3.1.0",)
    with pytest.raises(NotApplicable) as by_pip:
        triton_for_another_torch(_facts("2.5.1", "3.0.0", requires=pinned), matrix)
    assert str(by_pip.value) == "torch's metadata pins triton: pip's check (DD303) judges it"
    with pytest.raises(NotApplicable) as rocm:
        triton_for_another_torch(_facts("2.5.1+rocm6.2", "3.0.0", hip="6.2"), matrix)
    assert str(rocm.value) == "a ROCm torch pairs with pytorch-triton-rocm"
