"""DD524: PyPI's placeholder oneflow, seen from its files, with the build this machine runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dldoctor.checks import seed
from dldoctor.checks.registry import NotApplicable
from dldoctor.facts.known import Unknown
from dldoctor.facts.model import Facts
from dldoctor.matrix import Matrix
from dldoctor.model import Severity
from tests.checks.scenarios import dist, gpu_machine, make_facts, with_packages
from tests.facts.test_interpreter import gather_on, make_dist, validate

INTERNAL = "oneflow/_oneflow_internal.cpython-311-x86_64-linux-gnu.so"


def _oneflow_files(core: bool) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {
        "oneflow/__init__.py": "import oneflow._oneflow_internal\n",
        "oneflow/version.py": '__version__ = "0.7.0"\n__git_commit__ = "9c7d1a99c8"\n',
    }
    if core:
        files[INTERNAL] = b"\x7fELF"
    return files


@pytest.mark.parametrize("core", [False, True])
def test_the_gatherer_reads_whether_the_compiled_core_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, core: bool
) -> None:
    make_dist(tmp_path, "oneflow", "0.7.0", files=_oneflow_files(core))
    result = gather_on(monkeypatch, tmp_path)
    validate(result)
    build = result["packages"]["frameworks"]["oneflow"]["build"]
    assert (build["version"], build["git_commit"]) == ("0.7.0", "9c7d1a99c8")
    assert build["compiled_core"] == (Path(INTERNAL).name if core else False)


def _facts(core: Any, *machine: dict[str, Any]) -> Facts:
    frame = {"distributions": [], "build": {"compiled_core": core}}
    return make_facts(
        with_packages(dist("oneflow", "0.7.0"), frameworks={"oneflow": frame}), *machine
    )


def _requirement(verdict: Any) -> str:
    (intent,) = verdict.fixes[0].intents
    assert intent.find_links == "https://release.oneflow.info"
    assert intent.remove_first == ("oneflow",)
    (requirement,) = intent.requirements
    return str(requirement)


def test_the_placeholder_is_an_error_with_the_cpu_build_on_a_machine_without_gpu(
    matrix: Matrix,
) -> None:
    (verdict,) = seed.oneflow_placeholder(_facts(False), matrix)
    assert verdict.severity is Severity.ERROR
    assert "placeholder" in verdict.title and "0.7.0" in verdict.title
    assert _requirement(verdict) == "oneflow==0.9.0+cpu"
    assert verdict.fixes[0].commands == (
        ("/env/bin/python", "-m", "pip", "uninstall", "-y", "oneflow"),
        (
            "/env/bin/python", "-m", "pip", "install", "oneflow==0.9.0+cpu",
            "--find-links", "https://release.oneflow.info",
        ),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("driver", "variant"),
    [
        ("450.80.02", "cu117"),  # at cu117's floor
        ("450.80.01", "cu102"),  # just below it: the older CUDA build
        ("550.54.14", "cu117"),
        ("440.33", "cu102"),  # at cu102's floor
        ("440.32", "cpu"),  # below every CUDA floor
    ],
)
def test_the_build_follows_the_driver_floors(matrix: Matrix, driver: str, variant: str) -> None:
    (verdict,) = seed.oneflow_placeholder(_facts(False, gpu_machine(driver=driver)), matrix)
    assert _requirement(verdict) == f"oneflow==0.9.0+{variant}"


def test_a_real_build_and_an_unknown_one_are_not_judged_as_placeholders(matrix: Matrix) -> None:
    assert seed.oneflow_placeholder(_facts("_oneflow_internal.so"), matrix) == []
    with pytest.raises(Unknown) as raised:
        seed.oneflow_placeholder(_facts(None), matrix)
    assert "compiled_core" in str(raised.value)
    with pytest.raises(NotApplicable):
        seed.oneflow_placeholder(make_facts(with_packages()), matrix)


@pytest.mark.parametrize(("driver", "variant"), [("450.80.02", "cu117"), (None, "cpu")])
def test_the_placeholders_title_evidence_and_fix_are_its_rows(
    matrix: Matrix, driver: str | None, variant: str
) -> None:
    """What a user reads: the version, why it cannot import, the row's sources, the platform."""
    machine = [gpu_machine(driver=driver)] if driver else []
    (verdict,) = seed.oneflow_placeholder(_facts(False, *machine), matrix)
    table = matrix.tables["oneflow"]
    row = next(r for r in table["platform"] if r["variant"] == variant)
    assert verdict.title == (
        "oneflow 0.7.0 is a placeholder without OneFlow's compiled core "
        "(oneflow/_oneflow_internal): it cannot be imported"
    )
    assert verdict.evidence == {
        "distribution": "oneflow",
        "version": "0.7.0",
        "compiled_core": False,
        "source": table["placeholder_source"],
        "platform_source": row["source"],
    }
    assert verdict.fixes[0].summary == (
        f"Install OneFlow 0.9.0 ({variant}) from OneFlow's own wheel page instead."
    )


def test_a_placeholder_of_unknown_version_says_so(matrix: Matrix) -> None:
    frame = {"distributions": [], "build": {"compiled_core": False}}
    facts = make_facts(with_packages(frameworks={"oneflow": frame}))
    (verdict,) = seed.oneflow_placeholder(facts, matrix)
    assert verdict.title.startswith("oneflow (version unknown) is a placeholder")
    assert verdict.evidence["distribution"] is None and verdict.evidence["version"] is None


def test_without_oneflow_the_check_says_it_is_not_installed(matrix: Matrix) -> None:
    with pytest.raises(NotApplicable, match=r"^oneflow is not installed$"):
        seed.oneflow_placeholder(make_facts(with_packages()), matrix)
