"""Conda environments read from recorded conda-meta trees of real packages, and hostile records."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dldoctor.facts.conda import MAX_RECORD_BYTES, gather_conda, join_distributions
from dldoctor.facts.host import Host

DATA = Path(__file__).parent.parent / "data" / "conda"
PREFIX = "/opt/conda/envs/work"
SCHEMA = json.loads(
    resources.files("dldoctor.document").joinpath("schema/facts-packages.json").read_text()
)


def env(tmp_path: Path, name: str) -> Path:
    """A copy of a recorded environment at PREFIX under a fake root."""
    root = tmp_path / "root"
    shutil.copytree(DATA / name, root / PREFIX.lstrip("/"))
    return root


def conda(root: Path) -> dict[str, Any]:
    section = gather_conda(Host(root=root, env={"PATH": ""}), PREFIX)
    assert section is not None
    wrapper = {"$defs": SCHEMA.get("$defs", {}), **SCHEMA["properties"]["conda"]}
    jsonschema.validate(section, wrapper)
    return section


def by_name(section: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in section["packages"]}


def test_pytorch_channel_cuda_build_string_carries_cuda_and_cudnn(tmp_path: Path) -> None:
    packages = by_name(conda(env(tmp_path, "pytorch-channel-cuda")))
    torch = packages["pytorch"]
    assert torch["build"] == "py3.9_cuda11.8_cudnn8.7.0_0"
    assert torch["channel"] == "pytorch"
    assert torch["cuda"]["variant"] == "cuda"
    assert (torch["cuda"]["cuda_version"], torch["cuda"]["cudnn_version"]) == ("11.8", "8.7.0")
    assert torch["cuda"]["requires"] == {"pytorch-cuda": ">=11.8,<11.9"}
    assert torch["python_dists"] == ["lib/python3.9/site-packages/torch-2.0.1-py3.9.egg-info"]
    assert packages["pytorch-mutex"]["cuda"]["variant"] == "cuda"
    assert packages["cuda-cudart"]["channel"] == "nvidia"
    assert packages["cuda-cudart"]["library_files"] == [
        "lib/libcudart.so.11.0",
        "lib/libcudart.so.11.8.89",
    ]


def test_pytorch_channel_cpu_build_and_cpuonly(tmp_path: Path) -> None:
    packages = by_name(conda(env(tmp_path, "pytorch-channel-cpu")))
    assert packages["pytorch"]["cuda"]["variant"] == "cpu"
    assert packages["pytorch"]["cuda"]["cuda_version"] is None
    assert "depends pytorch-mutex 1.0 cpu" in packages["pytorch"]["cuda"]["evidence"]
    assert packages["cpuonly"]["track_features"] == ["cpuonly"]  # a string in the record
    assert packages["cpuonly"]["cuda"]["variant"] == "cpu"
    assert packages["pytorch-mutex"]["cuda"]["variant"] == "cpu"
    assert packages["torchvision"]["cuda"]["variant"] == "cpu"


def test_conda_forge_builds_write_cuda_without_its_dot(tmp_path: Path) -> None:
    packages = by_name(conda(env(tmp_path, "conda-forge-cuda")))
    torch = packages["pytorch"]
    assert torch["channel"] == "conda-forge" and torch["build_number"] == 200
    assert torch["cuda"]["cuda_version"] == "11.2"  # cuda112
    assert torch["cuda"]["requires"] == {
        "cudatoolkit": ">=11.2,<12",
        "cudnn": ">=8.4.1.50,<9.0a0",
        "nccl": ">=2.14.3.1,<3.0a0",
    }
    assert packages["cudatoolkit"]["version"] == "11.1.1"
    assert packages["cudnn"]["cuda"]["variant"] is None
    tf = by_name(conda(env(tmp_path / "tf", "conda-forge-tensorflow")))
    assert tf["tensorflow-base"]["cuda"]["cuda_version"] == "11.2"
    assert tf["tensorflow-cpu"]["cuda"]["variant"] == "cpu"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b"[" * 100000 + b"]" * 100000, "not JSON"),
        (b'{"name": 7, "version": ["x"], "build": null, "depends": "pytorch-mutex 1.0 cpu"}', None),
        (b"\xff\xfe garbage \x00", "not JSON"),
    ],
)
def test_hostile_records_cost_only_their_details(
    tmp_path: Path, content: bytes, problem: str | None
) -> None:
    root = env(tmp_path, "pytorch-channel-cpu")
    (root / PREFIX.lstrip("/") / "conda-meta" / "nccl-2.18.3.1-h12f7317_0.json").write_bytes(
        content
    )
    section = conda(root)
    nccl = by_name(section)["nccl"]
    assert (nccl["version"], nccl["build"]) == ("2.18.3.1", "h12f7317_0")  # from the file name
    assert nccl["depends"] == []
    if problem:
        assert any(problem in e for e in section["errors"])
        assert nccl["record_error"]
    assert by_name(section)["pytorch"]["cuda"]["variant"] == "cpu"  # the others are intact


def test_an_oversized_record_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = env(tmp_path, "pytorch-channel-cpu")
    monkeypatch.setattr("dldoctor.facts.conda.MAX_RECORD_BYTES", 1024)
    assert MAX_RECORD_BYTES > 1024
    section = conda(root)
    assert any("larger than 1024 bytes" in e for e in section["errors"])
    assert by_name(section)["pytorch"]["build"] == "py3.10_cpu_0"


def test_not_a_conda_environment(tmp_path: Path) -> None:
    host = Host(root=tmp_path, env={})
    assert gather_conda(host, "/usr") is None
    assert gather_conda(host, None) is None


def test_conda_packages_join_the_distributions(tmp_path: Path) -> None:
    section = conda(env(tmp_path, "pytorch-channel-cpu"))
    site = f"{PREFIX}/lib/python3.10/site-packages"
    packages: dict[str, Any] = {
        "distributions": [
            {
                "name": "torch",
                "version": "1.13.1",
                "location": site,
                "installer": "conda",
                "requires": [],
                "top_level": ["torch"],
                "metadata_error": None,
            },
            {
                "name": "numpy",
                "version": "1.26.4",
                "location": site,
                "installer": "pip",
                "requires": [],
                "top_level": ["numpy"],
                "metadata_error": None,
            },
        ]
    }
    join_distributions(packages, section)
    dists = {d["name"]: d for d in packages["distributions"]}
    assert dists["torch"]["conda"] == {
        "name": "pytorch",
        "version": "1.13.1",
        "build": "py3.10_cpu_0",
        "channel": "pytorch",
    }
    assert "conda" not in dists["numpy"]
    assert dists["cpuonly"]["installer"] == "conda" and dists["cpuonly"]["location"] == PREFIX
    assert dists["pytorch-mutex"]["requires"] == []
    assert (
        "pytorch" not in dists and "torchvision" not in dists
    )  # Python packages: by their metadata
