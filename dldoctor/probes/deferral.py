"""A module one framework imports in passing, left to the child that probes it (child/defer.py)."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from dldoctor.probes.plan import CHILD

JSON = dict[str, Any]
WAIT_S = 20.0  # the most a child waits for another's verdict
# What a framework's own import imports when it is installed, inside `try/except ImportError`:
# TensorFlow 2.21's tensorflow/lite/python/util.py (`from jax import jit`) and Keras 3.15's
# keras/src/callbacks/orbax_checkpoint.py (`import jax`).
IMPORTED_IN_PASSING = {"tensorflow": ("jax",), "keras": ("jax",)}
DEFERRABLE = frozenset(m for modules in IMPORTED_IN_PASSING.values() for m in modules)


def deferred(groups: tuple[tuple[str, ...], ...]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """For each child, the modules it imports in passing that another child probes."""
    home = {key: group for group in groups for key in group}
    found = {}
    for group in groups:
        modules = [
            module
            for key in group
            for module in IMPORTED_IN_PASSING.get(key, ())
            if home.get(module, group) != group
        ]
        if modules:
            found[group] = tuple(dict.fromkeys(modules))
    return found


def verdict_path(workdir: str, module: str) -> str:
    return os.path.join(workdir, f"imported-{module}.json")


def child_options(workdir: str, modules: tuple[str, ...], timeout_s: float) -> JSON:
    """The ``defer`` option of a child that waits for other children's verdicts on ``modules``,
    for a quarter of its probe's ``timeout_s`` at most (then it imports them itself)."""
    helper = CHILD / "defer.py"
    return {
        "modules": {module: verdict_path(workdir, module) for module in modules},
        "wait_s": min(WAIT_S, timeout_s / 4),
        "helper": {
            "framework": "defer",
            "source": helper.read_text(encoding="utf-8"),
            "filename": str(helper),
        },
    }


class Verdicts:
    """The verdicts a child gives, as its messages come: whether each deferrable module it
    probes imported. One is written whole, once; ``close`` writes "not imported" for any not
    given (the child died or never started), so no other child waits out its timeout."""

    def __init__(self, workdir: str, group: tuple[str, ...]) -> None:
        self.paths = {key: verdict_path(workdir, key) for key in group if key in DEFERRABLE}
        self.given: set[str] = set()

    def feed(self, message: JSON) -> None:
        name = message.get("framework")
        if (
            message.get("type") == "import"
            and name in self.paths
            and message.get("module") == name
            and not message.get("companion")
        ):
            self._write(name, message.get("ok") is True)

    def close(self) -> None:
        for name in self.paths:
            self._write(name, False)

    def _write(self, name: str, ok: bool) -> None:
        if name in self.given:
            return
        self.given.add(name)
        path = self.paths[name]
        with contextlib.suppress(OSError):  # the work directory is gone: nobody is waiting
            with open(path + ".part", "w", encoding="utf-8") as f:
                json.dump({"ok": ok}, f)
            os.replace(path + ".part", path)
