"""MXNet's build facts: the CUDA its distribution's name says it was built for."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.facts.test_interpreter import gather_on, make_dist, validate


@pytest.mark.parametrize(
    ("distribution", "cuda"),
    [
        ("mxnet-cu117", "11.7"),
        ("mxnet-cu112", "11.2"),
        ("mxnet-cu100", "10.0"),
        ("mxnet-cu92", "9.2"),
        ("mxnet-cu102mkl", "10.2"),
        ("mxnet-cu111", "11.1"),  # the 1.9.1 wheels of Aug 2022 (cu111-cu117)
        ("mxnet-cu75mkl", "7.5"),
        ("mxnet", False),
        ("mxnet-mkl", False),
        ("mxnet-native", False),  # the CPU build without MKLDNN
    ],
)
def test_the_cuda_variant_is_read_from_the_distribution_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, distribution: str, cuda: str | bool
) -> None:
    make_dist(tmp_path, distribution, "1.9.1", files={"mxnet/__init__.py": ""})
    result = gather_on(monkeypatch, tmp_path)
    validate(result)
    frame = result["packages"]["frameworks"]["mxnet"]
    assert frame["distributions"] == [{"name": distribution, "version": "1.9.1"}]
    assert frame["build"]["cuda_variant"] == cuda
    assert frame["build"]["distribution"] == distribution
