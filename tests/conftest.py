"""Shared fixtures."""

from __future__ import annotations

import pytest

from dldoctor.matrix import Matrix, load


@pytest.fixture(scope="session")
def matrix() -> Matrix:
    return load()
