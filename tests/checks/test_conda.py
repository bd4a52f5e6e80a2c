"""DD201 (conda CPU builds), DD304 (conda and pip copies), DD513 (conda's CUDA against the
frameworks) and DD504 through the library map: facts gathered from recorded conda-meta trees
and from gcc-built libraries under a fake root."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from dldoctor.checks import builds, compat_libs, conda
from dldoctor.checks.registry import NotApplicable
from dldoctor.facts.conda import gather_conda, join_distributions
from dldoctor.facts.host import Host
from dldoctor.facts.ldcache import LdCache
from dldoctor.facts.libmap import gather_library_map
from dldoctor.model import Severity
from tests.checks.scenarios import dist, gpu_machine, make_facts
from tests.facts.test_libmap import OLD, SITE, torch_wheel

DATA = Path(__file__).parent.parent / "data" / "conda"
PREFIX = "/opt/conda/envs/work"
ENV_SITE = f"{PREFIX}/lib/python3.10/site-packages"


def conda_env(tmp_path: Path, name: str, *extra: str) -> dict[str, Any]:
    root = tmp_path / name
    shutil.copytree(DATA / name, root / PREFIX.lstrip("/"))
    for record in extra:
        shutil.copy(DATA / "extra" / record, root / PREFIX.lstrip("/") / "conda-meta")
    section = gather_conda(Host(root=root, env={}), PREFIX)
    assert isinstance(section, dict)
    return section


def packages(
    section: dict[str, Any], *dists: dict[str, Any], frameworks: dict[str, Any] | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "distributions": [dict(d) for d in dists],
        "frameworks": frameworks or {},
    }
    join_distributions(data, section)
    python = {"prefix": PREFIX, "executable": f"{PREFIX}/bin/python", "command": "python"}
    conda_env = {"manager": "conda", "name": "work", "evidence": "conda-meta/ in prefix"}
    return {"packages": {**data, "conda": section}, "python": {**python, "environment": conda_env}}


def torch_frame(version: str, cuda: str | None, **build: Any) -> dict[str, Any]:
    return {
        "torch": {
            "distributions": [{"name": "torch", "version": version}],
            "build": {"cuda": cuda if cuda is not None else False, "hip": False, **build},
        }
    }


# DD201: the CPU build conda installed


def test_pytorch_channel_cpu_build_held_by_cpuonly(tmp_path, matrix):
    section = conda_env(tmp_path, "pytorch-channel-cpu")
    torch = dist("torch", "1.13.1", location=ENV_SITE, installer="conda")
    facts = make_facts(
        gpu_machine(), packages(section, torch, frameworks=torch_frame("1.13.1", None))
    )
    (verdict,) = builds.cpu_only_build_on_gpu(facts, matrix)
    assert verdict.title.endswith(
        "it is a CPU-only build (torch.version.cuda is None); conda installed its CPU build "
        "(pytorch 1.13.1 py3.10_cpu_0), and cpuonly and pytorch-mutex hold conda to CPU builds"
    )
    # One remedy, in order: conda lets go of its CPU pins and of its own torch (by its conda
    # name), then pip installs the GPU build.
    (fix,) = verdict.fixes
    assert fix.commands[:2] == (
        ("conda", "remove", "--prefix", PREFIX, "--force", "-y", "cpuonly", "pytorch-mutex"),
        ("conda", "remove", "--prefix", PREFIX, "--force", "-y", "pytorch"),
    )
    assert fix.commands[2][:4] == (f"{PREFIX}/bin/python", "-m", "pip", "install")
    assert fix.commands[2][-2:] == ("--index-url", "https://download.pytorch.org/whl/cu118")
    assert [i.action for i in fix.intents] == ["remove", "install"] and not fix.automatic
    assert [c["name"] for c in verdict.evidence["conda"]] == ["pytorch", "cpuonly", "pytorch-mutex"]


def test_conda_says_cpu_when_the_build_file_cannot_be_read(tmp_path, matrix):
    section = conda_env(tmp_path, "pytorch-channel-cpu")
    torch = dist("torch", "1.13.1", location=ENV_SITE, installer="conda")
    frame = {
        "torch": {
            "distributions": [{"name": "torch", "version": "1.13.1"}],
            "build": {"error": "SyntaxError"},
        }
    }
    facts = make_facts(gpu_machine(), packages(section, torch, frameworks=frame))
    (verdict,) = builds.cpu_only_build_on_gpu(facts, matrix)
    assert "conda installed its CPU build (pytorch 1.13.1 py3.10_cpu_0)" in verdict.title


def test_conda_cuda_build_is_not_a_cpu_build(tmp_path, matrix):
    section = conda_env(tmp_path, "pytorch-channel-cuda")
    torch = dist(
        "torch", "2.0.1", location=f"{PREFIX}/lib/python3.9/site-packages", installer="conda"
    )
    facts = make_facts(
        gpu_machine(), packages(section, torch, frameworks=torch_frame("2.0.1", "11.8"))
    )
    assert builds.cpu_only_build_on_gpu(facts, matrix) == []


def test_conda_removes_a_python_package_by_its_own_name(tmp_path):
    from dldoctor.fixes.installers import Install, render

    section = conda_env(tmp_path, "pytorch-channel-cpu")
    torch = dist("torch", "1.13.1", location=ENV_SITE, installer="conda")
    facts = make_facts(packages(section, torch))
    commands = render(Install(("torch==2.5.1",), remove_first=("torch",)), facts)
    # the metadata says torch; conda knows the package as pytorch (its record, joined)
    assert commands[0] == ("conda", "remove", "--prefix", PREFIX, "--force", "-y", "pytorch")


# DD304: conda and pip copies of one package


def test_pip_replaced_condas_torch(tmp_path, matrix):
    section = conda_env(tmp_path, "pytorch-channel-cpu")
    pip_torch = dist("torch", "2.5.1", location=ENV_SITE, installer="pip")
    facts = make_facts(packages(section, pip_torch))
    (verdict,) = conda.conda_and_pip_copies(facts, matrix)
    assert verdict.severity is Severity.ERROR
    assert verdict.title == (
        "torch is installed by conda as pytorch 1.13.1 (py3.10_cpu_0) and by pip as 2.5.1 "
        f"(pip replaced conda's metadata); Python imports 2.5.1 from {ENV_SITE}"
    )
    assert verdict.fixes[0].commands == (
        ("conda", "remove", "--prefix", PREFIX, "--force", "-y", "pytorch"),
        (f"{PREFIX}/bin/python", "-m", "pip", "install", "--force-reinstall", "torch==2.5.1"),
    )


def test_both_copies_installed_and_the_user_site_one_imports(tmp_path, matrix):
    section = conda_env(tmp_path, "pytorch-channel-cpu")
    user = dist(
        "torchvision",
        "0.20.1",
        location="/home/u/.local/lib/python3.10/site-packages",
        installer="pip",
    )
    mine = dist("torchvision", "0.14.1", location=ENV_SITE, installer="conda")
    facts = make_facts(packages(section, user, mine))
    (verdict,) = conda.conda_and_pip_copies(facts, matrix)
    assert "(both are installed); Python imports 0.20.1 from /home/u/.local" in verdict.title


def test_conda_only_packages_are_silent_and_pip_envs_not_judged(tmp_path, matrix):
    section = conda_env(tmp_path, "pytorch-channel-cpu")
    facts = make_facts(
        packages(section, dist("torch", "1.13.1", location=ENV_SITE, installer="conda"))
    )
    assert conda.conda_and_pip_copies(facts, matrix) == []
    with pytest.raises(NotApplicable):
        conda.conda_and_pip_copies(make_facts(), matrix)


# DD513: conda's cudatoolkit / cudnn against what frameworks need


def test_cudatoolkit_older_than_the_conda_pytorch_depends_on(tmp_path, matrix):
    section = conda_env(tmp_path, "conda-forge-cuda")
    torch = dist("torch", "1.13.0", location=ENV_SITE, installer="conda")
    facts = make_facts(packages(section, torch, frameworks=torch_frame("1.13.0", "11.2")))
    (verdict,) = conda.conda_cuda_mismatch(facts, matrix)
    assert verdict.title == (
        "nccl 2.14.3.1 (h0800d71_0) and pytorch 1.13.0 (cuda112py310he33e0d6_200) require "
        "cudatoolkit >=11.2,<12, but cudatoolkit 11.1.1 is installed"
    )
    assert verdict.fixes[0].commands == (
        ("conda", "install", "--prefix", PREFIX, "-y", "cudatoolkit<12,>=11.2"),
    )


def test_pytorch_cuda_older_than_the_pytorch_build(tmp_path, matrix):
    section = conda_env(tmp_path, "pytorch-channel-cuda", "pytorch-cuda-11.7-h67b0de4_1.json")
    facts = make_facts(packages(section))
    titles = [v.title for v in conda.conda_cuda_mismatch(facts, matrix)]
    assert titles == [
        "pytorch 2.0.1 (py3.9_cuda11.8_cudnn8.7.0_0) requires pytorch-cuda >=11.8,<11.9, "
        "but pytorch-cuda 11.7 is installed"
    ]
    healthy = conda_env(tmp_path / "ok", "pytorch-channel-cuda")
    assert conda.conda_cuda_mismatch(make_facts(packages(healthy)), matrix) == []


def _map_with(framework: str, library: str, *candidates: dict[str, Any]) -> dict[str, Any]:
    entry = {
        "anchor": "/x.so",
        "soname": None,
        "needed": [],
        "rpath": [],
        "runpath": [],
        "search": [],
        "error": None,
        "libraries": {library: {"requested": None, "candidates": list(candidates)}},
    }
    return {"cuda": {"library_map": {"copies": {}, "frameworks": {framework: entry}, "errors": {}}}}


def test_pip_torch_in_a_conda_env_leaves_cudatoolkit_unused(tmp_path, matrix):
    section = conda_env(tmp_path, "conda-forge-cuda")
    pip_torch = dist("torch", "2.13.0+cu130", location=ENV_SITE, installer="pip")
    wheel = {
        "path": f"{ENV_SITE}/nvidia/cu13/lib/libcudart.so.13",
        "real": "r",
        "soname": "libcudart.so.13",
        "version": "13.0.96",
        "kind": "pip-wheel",
        "via": "runpath",
    }
    facts = make_facts(
        packages(section, pip_torch, frameworks=torch_frame("2.13.0+cu130", "13.0")),
        _map_with("torch", "cudart", wheel),
    )
    found = [v for v in conda.conda_cuda_mismatch(facts, matrix) if "unused" in v.title]
    assert [v.severity for v in found] == [Severity.INFO]
    assert found[0].title.startswith(
        "cudatoolkit 11.1.1 in this conda environment is unused by PyTorch: it loads cudart 13.0.96"
    )
    # Without the library map (an old report) which copy loads is unknown: no verdict.
    old = make_facts(packages(section, pip_torch, frameworks=torch_frame("2.13.0+cu130", "13.0")))
    assert not [
        v
        for v in conda.conda_cuda_mismatch(old, matrix)
        if "unused" in v.title or "needs cudart" in v.title
    ]


def test_conda_cudatoolkit_of_the_wrong_major_that_the_framework_loads(tmp_path, matrix):
    section = conda_env(tmp_path, "conda-forge-cuda")
    pip_torch = dist("torch", "2.13.0+cu130", location=ENV_SITE, installer="pip")
    conda_copy = {
        "path": f"{PREFIX}/lib/libcudart.so.11.0",
        "real": "r",
        "soname": "libcudart.so.11.0",
        "version": "11.1.1",
        "kind": "conda-env",
        "via": "LD_LIBRARY_PATH",
    }
    facts = make_facts(
        packages(section, pip_torch, frameworks=torch_frame("2.13.0+cu130", "13.0")),
        _map_with("torch", "cudart", conda_copy),
    )
    errors = [v for v in conda.conda_cuda_mismatch(facts, matrix) if "needs cudart" in v.title]
    assert (
        errors[0].title
        == "PyTorch 2.13.0+cu130 needs cudart 13 (CUDA 13.0), but this conda environment's is cudatoolkit 11.1.1"
    )


# DD504 through the library map, gathered from gcc-built libraries


def _gathered_map(tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    torch_wheel(tmp_path)
    from dldoctor.matrix import load

    table = load().tables["libraries"]
    host = Host(root=tmp_path, env={"PATH": "", **env})
    return gather_library_map(
        host, table["library"], table["anchor"], [SITE], LdCache(()), architecture="x86_64"
    )


def test_older_cudnn_on_ld_library_path_shadows_the_wheel_torch_needs(tmp_path, matrix):
    mapped = _gathered_map(tmp_path, {"LD_LIBRARY_PATH": OLD})
    facts = make_facts(
        gpu_machine(),
        {
            "packages": {
                "distributions": [dist("torch", "2.4.1+cu124")],
                "frameworks": torch_frame("2.4.1+cu124", "12.4"),
            }
        },
        {"cuda": {"library_map": mapped}},
        {"env": {"variables": {"LD_LIBRARY_PATH": OLD}}},
    )
    (verdict,) = compat_libs.cudnn_mismatch(facts, matrix)
    assert verdict.title == (
        f"PyTorch 2.4.1+cu124 needs cuDNN 9.1.0.70, but the dynamic loader would give it cuDNN 9.0.0 "
        f"from {OLD} (found by LD_LIBRARY_PATH)"
    )
    assert verdict.fixes[0].commands == (("unset", "LD_LIBRARY_PATH"),)


def test_the_wheel_found_through_runpath_is_enough(tmp_path, matrix):
    mapped = _gathered_map(tmp_path, {})
    facts = make_facts(
        gpu_machine(),
        {
            "packages": {
                "distributions": [dist("torch", "2.4.1+cu124")],
                "frameworks": torch_frame("2.4.1+cu124", "12.4"),
            }
        },
        {"cuda": {"library_map": mapped}},
    )
    assert compat_libs.cudnn_mismatch(facts, matrix) == []


def test_a_conda_and_a_pip_copy_is_one_finding_not_two(tmp_path, matrix):
    from dldoctor.checks import packages as package_checks

    section = conda_env(tmp_path, "pytorch-channel-cpu")
    user = dist(
        "torchvision",
        "0.20.1",
        location="/home/u/.local/lib/python3.10/site-packages",
        installer="pip",
    )
    mine = dist("torchvision", "0.14.1", location=ENV_SITE, installer="conda")
    duplicate = {
        "name": "torchvision",
        "copies": [
            {"version": "0.20.1", "location": user["location"]},
            {"version": "0.14.1", "location": ENV_SITE},
        ],
    }
    facts = make_facts(packages(section, user, mine), {"packages": {"duplicates": [duplicate]}})
    assert package_checks.duplicate_distribution(facts, matrix) == []
    assert len(conda.conda_and_pip_copies(facts, matrix)) == 1
    # Two pip copies in a conda environment are still DD301's
    pip_only = make_facts(
        packages(section, user, dict(mine, installer="pip")),
        {"packages": {"duplicates": [duplicate]}},
    )
    assert len(package_checks.duplicate_distribution(pip_only, matrix)) == 1


def test_a_copy_of_a_package_no_framework_row_knows_is_a_warning_with_both_copies(tmp_path, matrix):
    """A framework's two copies break it (error); another package's two copies may (warning).
    The evidence names conda's record and every copy with its installer."""
    section = conda_env(tmp_path, "pytorch-channel-cpu")
    record = dict(section["packages"][-1], name="requests", version="2.31.0", build="pyhd8ed1ab_0")
    record["python_dists"] = ["lib/python3.10/site-packages/requests-2.31.0.dist-info"]
    section["packages"].append(record)
    pip_copy = dist("requests", "2.32.3", location=ENV_SITE, installer="pip")
    facts = make_facts(packages(section, pip_copy))
    (verdict,) = conda.conda_and_pip_copies(facts, matrix)
    assert verdict.severity is Severity.WARNING
    assert verdict.evidence == {
        "conda": {"name": "requests", "version": "2.31.0", "build": "pyhd8ed1ab_0",
                  "channel": "pytorch"},
        "copies": [{"name": "requests", "version": "2.32.3", "location": ENV_SITE,
                    "installer": "pip"}],
        "imports": "2.32.3",
    }  # fmt: skip


def test_an_unmet_conda_dependency_names_what_is_installed_and_who_requires_it(tmp_path, matrix):
    section = conda_env(tmp_path, "pytorch-channel-cuda", "pytorch-cuda-11.7-h67b0de4_1.json")
    (verdict,) = conda.conda_cuda_mismatch(make_facts(packages(section)), matrix)
    assert verdict.evidence == {
        "installed": {"pytorch-cuda": "11.7"},
        "required_by": {"pytorch": ">=11.8,<11.9"},
    }
    assert verdict.fixes[0].summary == "Install the pytorch-cuda they were built for."


def _loaded_from_conda(library: str, soname: str, version: str) -> dict[str, Any]:
    copy = {"path": f"{PREFIX}/lib/{soname}", "real": "r", "soname": soname, "version": version,
            "kind": "conda-env", "via": "LD_LIBRARY_PATH"}  # fmt: skip
    return _map_with("torch", library, copy)


@pytest.mark.parametrize(
    ("library", "soname", "package", "spec", "needs"),
    [
        ("cudart", "libcudart.so.11.0", "cudatoolkit", ">=13.0,<13.1", "13.0"),
        ("cudnn", "libcudnn.so.8", "cudnn", ">=9,<10", None),
    ],
)
def test_a_conda_cuda_library_of_another_major_than_the_build_needs_is_an_error_with_its_range(
    tmp_path, matrix, library, soname, package, spec, needs
):
    """The CUDA runtime must be the build's CUDA minor; cuDNN the build's major (any minor)."""
    section = conda_env(tmp_path, "conda-forge-cuda")
    pip_torch = dist("torch", "2.13.0+cu130", location=ENV_SITE, installer="pip")
    facts = make_facts(
        packages(section, pip_torch, frameworks=torch_frame("2.13.0+cu130", "13.0")),
        _loaded_from_conda(library, soname, "11.1.1"),
    )
    (verdict,) = [
        v for v in conda.conda_cuda_mismatch(facts, matrix) if f"needs {library}" in v.title
    ]
    assert verdict.severity is Severity.ERROR
    record = q_conda(facts, package)
    assert verdict.evidence["conda"] == {
        k: record.get(k) for k in ("name", "version", "build", "channel")
    }
    assert verdict.evidence["framework"] == "torch" and verdict.evidence["loads"] is None
    if needs:
        assert verdict.evidence["needs"] == needs
    assert verdict.evidence["needs"].startswith("13" if library == "cudart" else "9")
    (remedy,) = verdict.fixes
    assert remedy.summary == f"Install the {package} it needs."
    assert remedy.commands[-1][-1] == f"{package}{spec}"


def q_conda(facts: Any, name: str) -> dict[str, Any]:
    from dldoctor.facts import queries as q

    return q.conda_package(facts, name) or {}
