"""Shared probe runs: the expensive ones run once per test session, across xdist workers too."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.probes.fakes import hostile_site

PY38 = Path("/root/.pyenv/versions/3.8.18/bin/python3")


def dldoctor(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dldoctor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def once(factory: pytest.TempPathFactory, name: str, produce: Callable[[Path], Any]) -> Any:
    """``produce(folder)`` once for the whole session (pytest-xdist workers share the result
    through a file, under a lock), its JSON-able result returned to every caller."""
    # Under pytest-xdist each worker's base folder sits in the session's; without it the base
    # folder is the session's own (its parent holds every earlier session: never share that).
    base = factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    done = root / f"{name}.json"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            folder = root / name
            folder.mkdir(exist_ok=True)
            done.write_text(json.dumps(produce(folder)))
    return json.loads(done.read_text())


def _run(args: list[str], env: dict[str, str] | None = None) -> Callable[[Path], Any]:
    def produce(folder: Path) -> Any:
        path = folder / "report.json"
        result = dldoctor(*args, "--format", "json", "--json", str(path), env=env)
        return {
            "returncode": result.returncode,
            "stdout": result.stdout,
            "stderr": result.stderr,
            "report": json.loads(path.read_text()) if path.exists() else None,
        }

    return produce


@pytest.fixture
def real_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`dldoctor check` with every real framework installed here, probes and quick smoke."""
    return once(tmp_path_factory, "real-run", _run(["check"]))


@pytest.fixture
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`dldoctor check` over hostile frameworks (see fakes.py) shadowing the real ones."""

    def produce(folder: Path) -> Any:
        site = hostile_site(folder / "site", folder / "scratch")
        args = ["check", "--timeout", "5", "--memory-limit", "0.5"]
        return _run(args, env={"PYTHONPATH": str(site)})(folder)

    return once(tmp_path_factory, "hostile-run", produce)
