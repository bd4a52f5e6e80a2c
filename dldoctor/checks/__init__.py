"""Checks: pure functions of Facts and the matrix. Importing this package registers them all."""

from dldoctor.checks import builds, driver, env, packages

__all__ = ["builds", "driver", "env", "packages"]
