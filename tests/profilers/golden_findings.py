"""Golden renderings of the profile's verdict and findings: one hand-built profile per verdict
kind and per rule's case, each rendered as the JSON report carries it (verdict, then every
finding's code, severity, title, evidence and fixes).

The test (``test_findings_golden.py``) only compares. After an intended change of wording,
regenerate in a separate, explicit step with the other golden files and read the diff:

    PYTHONPATH=. python -m tests.report.golden
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dldoctor.profilers import rules
from dldoctor.profilers.analysis import classify
from tests.profilers.synthetic import loader, make, stats

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden" / "profile_findings.txt"
JSON = dict[str, Any]


def _rejudged(profile: JSON) -> JSON:
    profile["verdict"] = classify(profile)
    return profile


def _startup(starts: int, **config: Any) -> JSON:
    """Workers whose first batch of each of ``starts`` passes waits 3.1 s: start-up, ~39 % of
    all the loader's waiting (1000 batches of ``8 ms × starts`` on average)."""
    slow = loader(**config)
    slow.update(passes_completed=starts, worker_starts=starts, first_batch_wait=stats(starts, 3.1))
    slow["wait"] = stats(1000, 0.008 * starts)
    return make(loaders=[slow], wait_s=0.008 * starts)


def _did_not_finish(status: str, **exit_: Any) -> JSON:
    profile = make(steps=40)
    profile["exit"].update(status=status, **exit_)
    return profile


def _hook_failed() -> JSON:
    profile = make(wait_s=0.001, gpu_busy=0.6)
    profile["frameworks"].append(
        {"pid": 4242, "module": "paddle.io", "error": "AttributeError: no DataLoader"}
    )
    return profile


def _loop_body() -> JSON:
    profile = make(wait_s=0.001, main_thread=0.97, gpu_busy=0.35)
    profile["step_breakdown"] = {
        "measured": True,
        "steady": True,
        "fractions": {"data_wait": 0.0143, "copy": 0.0213, "forward": 0.1718,
                      "backward": 0.2035, "optimizer": 0.0452, "loop_body": 0.5439},
    }  # fmt: skip
    profile["loop_body_samples"] = {
        "samples": 400,
        "loop_samples": 217,
        "user": [
            {"file": "train.py", "line": 57, "function": "augment", "share": 0.412},
            {"file": "train.py", "line": 61, "function": "main", "share": 0.093},
        ],
        "leaf": [{"file": "numpy/_core.py", "line": 3, "function": "asarray", "share": 0.305}],
    }
    return _rejudged(profile)


def _loop_body_compiled() -> JSON:
    """A compiled tf.function step (its model phases one), no line sampled (no sampler ran)."""
    profile = make(wait_s=0.001, main_thread=0.97, gpu_busy=None)
    profile["step_breakdown"] = {
        "measured": True,
        "steady": True,
        "fractions": {"data_wait": 0.0143, "compiled": 0.3717, "loop_body": 0.614},
        "not_separable": "the step is a compiled tf.function call",
    }
    profile["loop_body_samples"] = None
    return _rejudged(profile)


def _tuned() -> JSON:
    profile = make(wait_s=0.0352)
    profile["tune"] = {
        "loader_site": ["train.py", 42],
        "trial_steps": 20,
        "trials": [{}, {}, {}],
        "baseline": {"settings": {"num_workers": 2}, "step_s": 0.1403},
        "best": {"settings": {"num_workers": 6, "pin_memory": True}, "step_s": 0.0705},
    }
    return profile


def _slowest(rank: int | None, why: str) -> JSON:
    profile = make()
    profile["slowest_rank"] = {"pid": 4243, "rank": rank, "of": 4, "why": why}
    return _rejudged(profile)


def _not_separable() -> JSON:
    profile = make()
    profile["data_wait"]["not_separable"] = "Keras runs 8 steps per call: not separable"
    return _rejudged(profile)


def _loss_diverged() -> JSON:
    profile = make(wait_s=0.001, gpu_busy=0.9)
    profile["health"] = {
        "nonfinite_loss": {"value": "nan", "step": 170, "backward_calls": 170, "read_every": 32},
        "gradients": None,
    }
    return profile


SCENARIOS: dict[str, Callable[[], JSON]] = {
    "input-bound": make,
    "input-bound-all-steps": lambda: _rejudged(make(steps=15)),  # too few for a steady fraction
    "input-wait": lambda: make(wait_s=0.007, gpu_busy=0.9),
    "cpu-bound-gpu": lambda: make(wait_s=0.001, gpu_busy=0.4, main_thread=0.953),
    "cpu-bound-no-gpu": lambda: make(wait_s=0.001, gpu_busy=None, main_thread=0.953),
    "gpu-underused": lambda: make(wait_s=0.001, gpu_busy=0.2137),
    "healthy": lambda: make(wait_s=0.001, gpu_busy=0.6),
    "healthy-no-gpu": lambda: make(wait_s=0.001, gpu_busy=None),
    "gpu-bound": lambda: make(wait_s=0.001, gpu_busy=0.9314),
    "saturated": lambda: make(cores=2, worker_busy=0.99, main_thread=0.2),
    "few-steps": lambda: make(steps=3),
    "no-steps": lambda: make(steps=0),
    "startup-recreated": lambda: _startup(5, num_workers=4),
    "startup-spawn": lambda: _startup(1, multiprocessing_context="spawn"),
    "startup-forkserver-persistent": lambda: _startup(
        1, multiprocessing_context="forkserver", persistent_workers=True
    ),
    "failed-exception": lambda: _did_not_finish("failed", exception="ValueError: bad batch"),
    "failed-returncode": lambda: _did_not_finish("failed", returncode=3),
    "interrupted": lambda: _did_not_finish("interrupted", signal="SIGINT"),
    "killed": lambda: _did_not_finish("killed", signal="SIGKILL"),
    "hook-failed": _hook_failed,
    "loop-body": _loop_body,
    "loop-body-compiled": _loop_body_compiled,
    "tuned": _tuned,
    "slowest-rank": lambda: _slowest(2, "its steps take longest"),
    "slowest-pid": lambda: _slowest(None, "the ranks step together"),
    "not-separable": _not_separable,
    "loss-diverged": _loss_diverged,
}


def render(profile: JSON) -> str:
    """The verdict and every finding of one profile, as the JSON report holds them."""
    judged = {
        "verdict": profile["verdict"],
        "findings": [f.to_dict() for f in rules.judge(profile)],
    }
    return json.dumps(judged, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def sections() -> dict[str, str]:
    return {name: render(build()) for name, build in SCENARIOS.items()}


def rendering() -> str:
    """The golden file's whole text: each scenario's rendering under its name."""
    return "".join(f"== {name} ==\n{text}" for name, text in sections().items())


def recorded() -> dict[str, str]:
    """The golden file read back into its scenarios' renderings."""
    out: dict[str, str] = {}
    name = None
    for line in GOLDEN.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("== ") and line.endswith(" ==\n"):
            name = line[3:-4]
            out[name] = ""
        elif name is not None:
            out[name] += line
    return out
