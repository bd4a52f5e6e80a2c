"""What the analysis reports of a process's training health and of the phases it timed, from a
collector fed in process: gradient norms dated by the steps that count, NaN/Inf norms as JSON
can hold them, and the phases the framework patches time (the others left out of the split)."""

from __future__ import annotations

import pytest

from dldoctor.profilers import jobs
from dldoctor.profilers.analysis import analyse
from dldoctor.profilers.collector import Collector
from dldoctor.profilers.runner import RunResult, Target
from dldoctor.profilers.session import Options, Session

PID = 100


def run(marked: bool) -> tuple[Session, list[tuple[int, int]]]:
    """14 batches 0.1 s apart (each step marked with dldoctor.step() when ``marked``, after two
    marks of its own first); a gradient sample of the optimizer's 16th call in the 4th step, a
    float16 one of Inf/NaN in the 10th. Returns the session and, per sample, the (batch step,
    marked step) open when it was seen."""
    col = Collector(origin=0.0, gpus=0)
    open_steps = []
    if marked:
        col.feed(f"B {PID} 0.5000 s")
        col.feed(f"B {PID} 0.6000 s")
    for i in range(14):
        t = 1.0 + i * 0.1
        col.feed(f"D {PID} 1 {t:.4f} {t + 0.01:.4f} 1")
        if marked:
            col.feed(f"B {PID} {t + 0.05:.4f} s")
        if i in (3, 9):
            record = col.processes[PID]
            open_steps.append((record.data.count + 1, record.marks.count + 1))
            seen = "16 2.5 0.00125 0" if i == 3 else "160 inf nan 1"  # call, l2, rms, float16
            col.feed(f"A {PID} {t + 0.02:.4f} {seen}")
    return Session(
        target=Target("train.py", ()),
        options=Options(),
        created="2026-01-01T00:00:00+00:00",
        collector=col,
        result=RunResult(PID, 0.0, 3.0, 0),
    ), open_steps


@pytest.mark.parametrize("marked", [False, True])
def test_gradient_norms_are_dated_by_the_steps_that_count_and_nan_is_a_string(marked):
    session, open_steps = run(marked)
    profile = analyse(session)
    assert profile["steps"]["source"] == ("step()" if marked else "batches")
    which = 1 if marked else 0
    first_step, bad_step = (steps[which] for steps in open_steps)
    assert open_steps[0][0] != open_steps[0][1]  # the two ways of counting differ here
    first = {"step": first_step, "optimizer_step": 16, "l2": 2.5, "rms": 0.00125}
    bad = {"step": bad_step, "optimizer_step": 160, "l2": "inf", "rms": "nan"}
    assert profile["health"] == {
        "nonfinite_loss": None,
        "gradients": {
            "samples": 2,
            "float16": True,  # one float16 sample makes the run's gradients float16
            "first": first,
            "last": bad,
            "largest": first,  # a non-finite norm is no largest
            "nonfinite": bad,
            "exploded": None,
            "explosion_onset": bad,  # no rise before it: it started there
            "vanished_from": None,
        },
    }


def test_without_gradient_samples_health_says_none():
    col = Collector(origin=0.0, gpus=0)
    for i in range(14):
        t = 1.0 + i * 0.1
        col.feed(f"D {PID} 1 {t:.4f} {t + 0.01:.4f} 1")
    session = Session(
        target=Target("train.py", ()),
        options=Options(),
        created="2026-01-01T00:00:00+00:00",
        collector=col,
        result=RunResult(PID, 0.0, 3.0, 0),
    )
    assert analyse(session)["health"] == {"nonfinite_loss": None, "gradients": None}


@pytest.mark.parametrize(
    ("patches", "timed"),
    [
        ([("torch.nn.modules.module", True)], {"forward"}),
        ([("torch._tensor", True), ("torch.optim.optimizer", True)],
         {"copy", "backward", "optimizer"}),
        ([("paddle.nn.layer.layers", True), ("paddle.base", True), ("paddle.optimizer", True)],
         {"forward", "backward", "optimizer"}),  # paddle's copy is inside its DataLoader
        ([("keras.src.layers.layer", True), ("tensorflow.python.eager.backprop", True),
          ("keras.src.optimizers.base_optimizer", True)], {"forward", "backward", "optimizer"}),
        ([("torch.nn.modules.module", False), ("torch._tensor", True)], {"copy", "backward"}),
        ([("torch.utils.data.dataloader", True)], set()),  # patched, but times no phase
        ([], set()),
    ],
)  # fmt: skip
def test_the_phases_timed_are_those_of_the_modules_patched(patches, timed):
    """A framework announced with ``patched`` empty failed to patch: its phases are not timed."""
    frameworks = [
        {"pid": PID, "module": module, "patched": ["x"] if ok else []} for module, ok in patches
    ]
    assert jobs.seams(frameworks) == timed
    assert jobs.seams([{"pid": PID, "module": "torch._tensor"}]) == set()  # never said patched
