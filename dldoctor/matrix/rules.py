"""The few rules that read the matrix: does a build's code run on a GPU, does a driver run a CUDA."""

from __future__ import annotations

from collections.abc import Sequence

from packaging.version import InvalidVersion, Version

from dldoctor.matrix import Matrix

CUBIN = "cubin"
PTX = "ptx"


def _v(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def coverage(sm: Sequence[str], ptx: Sequence[str], cc: str) -> str | None:
    """How code built for ``sm`` (cubins) and ``ptx`` runs on a GPU of compute capability ``cc``.

    A cubin runs on the same major with an equal or higher minor (sm_80 runs on 8.6, 8.9);
    PTX is JIT-compiled by the driver for any equal or newer GPU. None: it does not run at all.
    """
    gpu = _v(cc)
    if gpu is None:
        return None
    for arch in sm:
        built = _v(arch)
        if built and built.major == gpu.major and built.minor <= gpu.minor:
            return CUBIN
    for arch in ptx:
        built = _v(arch)
        if built and built <= gpu:
            return PTX
    return None


def driver_runs(
    matrix: Matrix, driver: str | None, cuda: str, windows: bool = False
) -> bool | None:
    """Whether a driver fully supports a CUDA release (its toolkit's own minimum); None: unknown."""
    row = matrix.toolkit_floor(cuda)
    floor = (row.windows if windows else row.linux) if row else None
    version, minimum = _v(driver or ""), _v(floor or "")
    if version is None or minimum is None:
        return None
    return version >= minimum
