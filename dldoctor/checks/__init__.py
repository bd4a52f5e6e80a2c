"""Checks: pure functions of Facts and the compatibility matrix. Importing this registers them all."""

from dldoctor.checks import builds, driver, env, packages

__all__ = ["builds", "driver", "env", "packages"]
