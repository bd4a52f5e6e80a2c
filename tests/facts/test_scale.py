"""Work grows linearly with the environment: counted reads, never timed (issue 10, item 10).

A large environment (3000 distributions, thousands of unmet requirements) once cost ~10 M name
comparisons: every finding scanned the whole distribution list. These tests count how often
distribution records, metadata files and requirement texts are touched at two sizes; a scan
per finding makes the count grow with the square of the size and fails them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from dldoctor.checks import packages
from dldoctor.facts import interpreter, requirements
from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.matrix import Matrix
from tests.facts.test_interpreter import ARGS, make_dist
from tests.facts.test_requirements import LINUX


class CountingDict(dict):  # type: ignore[type-arg]
    """A distribution record that counts every read of its fields."""

    reads = 0

    def get(self, key: Any, default: Any = None) -> Any:
        CountingDict.reads += 1
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        CountingDict.reads += 1
        return super().__getitem__(key)


def broken_environment(n: int) -> dict[str, Any]:
    """n distributions, each requiring its neighbour at a version it lacks and a missing one."""
    dists = [
        CountingDict(
            name=f"Pkg_{i}",
            version="1.0",
            requires=[f"pkg-{(i + 1) % n}>=2", f"missing-{i}"],
            installer="pip",
        )
        for i in range(n)
    ]
    return {"distributions": dists}


def reads_for(n: int, work: Any) -> int:
    CountingDict.reads = 0
    work(broken_environment(n))
    return CountingDict.reads


def assert_linear(reads_n: int, reads_2n: int) -> None:
    # Linear work doubles (a constant part makes it a little less); a scan per finding
    # quadruples it.
    assert reads_2n <= 2.2 * reads_n, (reads_n, reads_2n)


def test_installed_builds_one_index_for_all_questions() -> None:
    pkgs = broken_environment(500)
    facts = Facts(packages=pkgs)
    CountingDict.reads = 0
    for i in range(500):
        assert q.installed(facts, f"PKG.{i}") is pkgs["distributions"][i]
    assert q.installed(facts, "absent") is None
    # One pass over the records (two reads each), then dictionary look-ups: a scan per
    # question would read 500 x 500 x 2.
    assert CountingDict.reads <= 3 * 500


def test_installed_sees_a_replaced_or_grown_distribution_list() -> None:
    pkgs: dict[str, Any] = {"distributions": [{"name": "a", "version": "1"}]}
    facts = Facts(packages=pkgs)
    assert q.installed(facts, "b") is None
    pkgs["distributions"].append({"name": "b", "version": "2"})
    assert (q.installed(facts, "b") or {}).get("version") == "2"
    pkgs["distributions"] = [{"name": "a", "version": "3"}]
    assert (q.installed(facts, "a") or {}).get("version") == "3"


def test_installed_keeps_the_first_copy_and_skips_nameless_records() -> None:
    facts = Facts(
        packages={
            "distributions": [
                {"name": None, "version": "0"},
                {"name": "NumPy", "version": "2.1.0"},
                {"name": "numpy", "version": "1.26.4"},
            ]
        }
    )
    assert (q.installed(facts, "numpy") or {}).get("version") == "2.1.0"


def test_pip_check_reads_each_record_a_bounded_number_of_times() -> None:
    def work(pkgs: dict[str, Any]) -> None:
        found = requirements.unsatisfied(pkgs, LINUX)
        assert len(found) == 2 * len(pkgs["distributions"])

    assert_linear(reads_for(400, work), reads_for(800, work))


def test_unmet_requirements_check_is_linear_in_the_findings(matrix: Matrix) -> None:
    def work(pkgs: dict[str, Any]) -> None:
        n = len(pkgs["distributions"])
        pkgs["unsatisfied"] = requirements.unsatisfied(pkgs, LINUX)
        facts = Facts(python={"command": "/env/bin/python"}, packages=pkgs)
        verdicts = packages.unsatisfied_requirements(facts, matrix)
        assert len(verdicts) == 2 * n

    assert_linear(reads_for(400, work), reads_for(800, work))


def test_gathering_reads_and_compares_a_fixed_amount_per_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real_read, real_canonical = interpreter.read_bytes, interpreter.canonical

    def counted(path: str, limit: int = interpreter.MAX_FILE_BYTES) -> bytes:
        calls.append(path)
        return real_read(path, limit)

    def canonical(name: str | None) -> str:
        calls.append(name)  # name comparisons across distributions (duplicates, conflicts...)
        return real_canonical(name)

    monkeypatch.setattr(interpreter, "read_bytes", counted)
    monkeypatch.setattr(interpreter, "canonical", canonical)

    def opened(n: int) -> int:
        site = tmp_path / f"site{n}"
        site.mkdir()
        for i in range(n):
            make_dist(site, f"pkg{i}", "1.0", requires=[f"pkg{(i + 1) % n}>=2", f"nvidia-x-{i}"])
        calls.clear()
        monkeypatch.setattr(sys, "path", [str(site)])
        result = interpreter.gather(**ARGS)
        assert len(result["packages"]["distributions"]) == n
        return len(calls)

    small, large = opened(40), opened(80)
    assert large <= 2 * small + 5, (small, large)
