"""Which frameworks to probe, in which child, with what: a plan made from the static facts."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dldoctor.facts.model import Facts
from dldoctor.facts.queries import canonical
from dldoctor.matrix import Matrix

CHILD = Path(__file__).resolve().parent / "child"
# Frameworks with a probe module (child/<name>_probe.py), in the order they are shown.
PROBED = (
    "torch",
    "tensorflow",
    "jax",
    "paddle",
    "keras",
    "onnxruntime",
    "mindspore",
    "litert",
    "mxnet",
)
ALIASES = {
    "pytorch": "torch",
    "tf": "tensorflow",
    "paddlepaddle": "paddle",
    "ort": "onnxruntime",
    "onnx-runtime": "onnxruntime",
    "ms": "mindspore",
    "tflite": "litert",
    "ai-edge-litert": "litert",
}
# Keras 3 runs in its backend's child when that backend is probed too: one import, not two.
KERAS_BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
# Set for every child: frameworks that reserve most of a GPU's memory at start (TensorFlow, JAX)
# would make the children, which run side by side, fail each other.
CHILD_ENV = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
# Set for every child unless the user's environment sets them. OpenBLAS (NumPy's, imported in
# every child) starts a worker thread per core that spins for 2**28 cycles before it sleeps:
# ~0.07 CPU s a child, idle, taken from the children beside it (measured 2026-12-02: 0.2 s of a
# 3.1 s check on 2 cores). 4, its least, lets an idle worker sleep at once; work still wakes it.
CHILD_DEFAULTS = {"OPENBLAS_THREAD_TIMEOUT": "4"}


# Rough seconds of each probe on a 2-core development machine (mostly the import; measured
# 2026-12-01 on an idle machine, the children side by side). Only the order matters: with more
# children than cores, the longest keep normal priority and the others run niced, so the
# longest is not slowed by the short ones (it alone sets the wall time). JAX comes second on
# its own merits and because TensorFlow's child waits for its import's verdict (deferral.py).
COST = {
    "tensorflow": 5.5,
    "jax": 2.9,
    "torch": 2.4,
    "paddle": 2.0,
    "keras": 0.5,
    "onnxruntime": 0.2,
    "mindspore": 4.0,
    "litert": 0.3,
    "mxnet": 1.0,
}
# LiteRT's runtimes by distribution, newest first: the module each one is imported as.
LITERT_MODULES = (("ai-edge-litert", "ai_edge_litert"), ("tflite-runtime", "tflite_runtime"))
NICE = 5
# The frameworks whose child also runs the deployment chains under --full (child/deploy.py):
# torch → ONNX → ONNX Runtime / TensorRT, TensorFlow → TFLite. The dynamo exporter's first
# export is ~10 s of CPU on a small machine, TensorRT's engine build can take a minute.
DEPLOY_FROM = ("torch", "tensorflow")
DEPLOY_TIMEOUT_S = 240.0


class UnknownFramework(ValueError):
    """--framework named something dldoctor has no probe for."""


def normalise(names: list[str]) -> tuple[str, ...]:
    """User spellings ("tf", "PyTorch") → probe keys; raises UnknownFramework naming the bad one."""
    keys = []
    for raw in names:
        name = raw.strip().lower()
        if not name:
            continue
        key = ALIASES.get(name, name)
        if key not in PROBED:
            raise UnknownFramework(f"no runtime probe for '{raw}' (known: {', '.join(PROBED)})")
        if key not in keys:
            keys.append(key)
    return tuple(keys)


@dataclass(frozen=True)
class Plan:
    groups: tuple[tuple[str, ...], ...]  # each tuple: the frameworks one child probes, in order
    not_probed: dict[str, str]  # framework → why it is not probed
    companions: dict[str, list[str]]  # framework → companion modules to import after it
    options: dict[str, dict[str, Any]] = field(default_factory=dict)  # framework → its probe's


def keras_backend(env: Mapping[str, str]) -> str:
    """The backend Keras 3 will pick: KERAS_BACKEND, else keras.json, else TensorFlow."""
    if env.get("KERAS_BACKEND"):
        return env["KERAS_BACKEND"].strip().lower()
    home = env.get("KERAS_HOME") or os.path.join(env.get("HOME") or "~", ".keras")
    try:
        with open(os.path.join(os.path.expanduser(home), "keras.json"), encoding="utf-8") as f:
            config = json.load(f)
        return str(config.get("backend") or "tensorflow").lower()
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def make_plan(
    facts: Facts, matrix: Matrix, wanted: tuple[str, ...] | None, env: Mapping[str, str]
) -> Plan:
    installed = facts.packages.get("frameworks") or {}
    not_probed = {
        key: "no runtime probe for this framework" for key in installed if key not in PROBED
    }
    chosen = [key for key in PROBED if key in installed and (wanted is None or key in wanted)]
    for key in wanted or ():
        if key not in installed:
            not_probed[key] = "not installed in this environment"
    groups = [[key] for key in chosen if key != "keras"]
    if "keras" in chosen:
        backend = KERAS_BACKENDS.get(keras_backend(env))
        home = next((g for g in groups if g[0] == backend), None)
        if home is not None:
            home.append("keras")
        else:
            groups.append(["keras"])
    companions = {key: _companions(installed.get(key) or {}, matrix) for key in chosen}
    options = {}
    if "litert" in chosen:
        names = {
            canonical(str(d.get("name", "")))
            for d in installed["litert"].get("distributions") or []
        }
        module = next((m for dist, m in LITERT_MODULES if dist in names), LITERT_MODULES[0][1])
        options["litert"] = {"module": module}
    return Plan(tuple(tuple(g) for g in groups), not_probed, companions, options)


def niceness(groups: tuple[tuple[str, ...], ...], cores: int | None) -> dict[tuple[str, ...], int]:
    """How much to lower each child's priority: 0 for the longest ones, one per spare core."""
    if not cores or len(groups) <= cores:
        return {g: 0 for g in groups}
    longest = launch_order(groups)[: max(1, cores - 1)]
    return {g: 0 if g in longest else NICE for g in groups}


def cost(group: tuple[str, ...]) -> float:
    return sum(COST.get(key, 1.0) for key in group)


def launch_order(groups: tuple[tuple[str, ...], ...]) -> list[tuple[str, ...]]:
    """The children in the order they are started: the longest first (ties: plan order)."""
    return sorted(groups, key=lambda g: -cost(g))


def _companions(frame: dict[str, Any], matrix: Matrix) -> list[str]:
    """Import names of the installed companions (tf-keras); those that are extensions
    (torchvision, torchaudio) are probed in their own child (probes/extensions.py)."""
    names = []
    extensions = {canonical(str(e["name"])) for e in matrix.tables["extensions"]["extension"]}
    for dist in frame.get("distributions") or []:
        name = canonical(str(dist.get("name", "")))
        spec = matrix.package(name)
        if spec is not None and spec.role == "companion" and name not in extensions:
            names.append(spec.import_name)
    return names


def job(
    framework: str, companions: list[str], options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One framework's part of a child's arguments: its probe module as source."""
    path = CHILD / f"{framework}_probe.py"
    extra = dict(options or {})
    if framework == "litert":  # the model it runs, converted once by TensorFlow (see the probe)
        model = (CHILD / "models" / "poly.tflite").read_bytes()
        extra["model_b64"] = base64.b64encode(model).decode("ascii")
    if framework in DEPLOY_FROM:
        helper = CHILD / "deploy.py"
        extra["helpers"] = {
            "deploy": {"source": helper.read_text(encoding="utf-8"), "filename": str(helper)}
        }
        extra["deploy_timeout_s"] = DEPLOY_TIMEOUT_S
    return {
        "framework": framework,
        "source": path.read_text(encoding="utf-8"),
        "filename": str(path),
        "options": {"companions": companions, **extra},
    }


def harness_source() -> str:
    return (CHILD / "harness.py").read_text(encoding="utf-8")


def child_env(env: Mapping[str, str], temp: str | None = None) -> dict[str, str]:
    """A child's environment; ``temp``: its temporary directory, removed with the probes' work
    directory. The children end with os._exit, so what a framework meant to delete at exit
    stays: TensorFlow's autograph leaves a generated module in the temporary directory on
    every run, and a user's /tmp would collect one per check."""
    where = {name: temp for name in ("TMPDIR", "TEMP", "TMP")} if temp else {}
    return {**CHILD_DEFAULTS, **env, **CHILD_ENV, **where}
