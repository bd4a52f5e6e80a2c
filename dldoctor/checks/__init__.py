"""Checks: pure functions of Facts and the matrix. Importing this package registers them all."""

from dldoctor.checks import (
    builds,
    compat_arch,
    compat_driver,
    compat_libs,
    compat_platform,
    compat_versions,
    conda,
    container,
    driver,
    env,
    packages,
    runtime,
    runtime_deps,
    runtime_gpu,
    runtime_health,
    runtime_libs,
)

__all__ = [
    "builds",
    "compat_arch",
    "compat_driver",
    "compat_libs",
    "compat_platform",
    "compat_versions",
    "conda",
    "container",
    "driver",
    "env",
    "packages",
    "runtime",
    "runtime_deps",
    "runtime_gpu",
    "runtime_health",
    "runtime_libs",
]
