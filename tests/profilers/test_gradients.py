"""Gradient health: norms sampled at the optimizer's seam, exploding and vanishing judged at,
below and above their thresholds, and the step where it started.

The real runs scale the loss by a known factor from a known step: every gradient scales by
exactly that factor (the chain rule is linear in the loss), so the truth is known without
timing anything.
"""

from __future__ import annotations

import math

import pytest

from dldoctor.profilers import rules
from dldoctor.profilers import thresholds as th
from dldoctor.profilers.child.torch_steps import GRADIENTS_EVERY
from dldoctor.profilers.gradients import GradientNorms
from dldoctor.profilers.jobs import _gradients
from tests.profilers.helpers import SCRIPTS, codes, profile
from tests.profilers.synthetic import make

SCRIPT = str(SCRIPTS / "train_torch.py")
CALLS_PER_STEP = 3  # train_torch.py steps its optimizer three times per batch


def _norms(l2s: list[float], rms: list[float] | None = None) -> dict:
    norms = GradientNorms()
    for i, l2 in enumerate(l2s):
        step = 1 + 5 * i
        norms.add((step, step), 1 + 16 * i, l2, (rms or [1e-3] * len(l2s))[i], False)
    return _gradients(norms.to_dict(), "batch_step")


def _judged(grads: dict, nonfinite_loss: dict | None = None) -> list:
    p = make()
    p["health"] = {"nonfinite_loss": nonfinite_loss, "gradients": grads}
    return [f for f in rules.judge(p) if f.code in ("DD713", "DD715", "DD716")]


@pytest.mark.parametrize(
    ("ratio", "explodes"),
    [(th.GRAD_EXPLODE_RATIO * 0.99, False), (th.GRAD_EXPLODE_RATIO, True), (1e6, True)],
)
def test_exploding_at_below_and_above_the_ratio(ratio, explodes):
    grads = _norms([2.0, 1.0, 2.0 * ratio])
    assert (grads["exploded"] is not None) is explodes
    found = _judged(grads)
    assert [f.code for f in found] == (["DD715"] if explodes else [])
    if explodes:
        assert found[0].title.startswith(f"The gradient norm exploded to {2.0 * ratio:.3g}")
        assert "clip_grad_norm_" in found[0].fixes[0].summary


def test_the_explosion_started_where_the_unbroken_rise_past_the_onset_ratio_began():
    onset = th.GRAD_ONSET_RATIO
    # 10× at sample 2 then back down (recovered); 10× again at sample 4, rising to 1000×.
    grads = _norms([1.0, onset, 1.0, onset, onset * 10, th.GRAD_EXPLODE_RATIO])
    assert grads["explosion_onset"]["step"] == 1 + 5 * 3
    assert grads["exploded"]["step"] == 1 + 5 * 5
    (found,) = _judged(grads)
    assert found.title.endswith(f"it started at step {1 + 5 * 3}")
    below = _norms([1.0, onset * 0.99, th.GRAD_EXPLODE_RATIO])  # the jump itself is the onset
    assert below["explosion_onset"]["step"] == below["exploded"]["step"] == 11


@pytest.mark.parametrize(
    ("last", "vanishes"),
    [(th.GRAD_VANISH_RMS, False), (th.GRAD_VANISH_RMS * 0.99, True), (0.0, True)],
)
def test_vanishing_below_the_threshold_to_the_end(last, vanishes):
    grads = _norms([1.0, 1e-3, 1e-6], rms=[1e-3, last, last])
    assert (grads["vanished_from"] is not None) is vanishes
    found = _judged(grads)
    assert [f.code for f in found] == (["DD716"] if vanishes else [])
    if vanishes:
        assert found[0].title.startswith("The gradients vanished from training step 6")
        assert "GradScaler" in found[0].fixes[0].summary


def test_gradients_that_recover_have_not_vanished():
    tiny = th.GRAD_VANISH_RMS / 10
    assert _norms([1.0] * 3, rms=[1e-3, tiny, 1e-3])["vanished_from"] is None


def test_nonfinite_gradients_explode_and_a_diverging_loss_is_one_finding():
    grads = _norms([1.0, 20.0, math.inf])
    assert grads["nonfinite"]["l2"] == "inf" and grads["explosion_onset"]["step"] == 6
    (found,) = _judged(grads)
    assert found.code == "DD715" and "became inf" in found.title
    assert any("GradScaler" in f.summary for f in found.fixes)  # Inf: fp16 overflow is a cause
    loss = {"value": "inf", "step": 11, "backward_calls": 31}
    (one,) = _judged(grads, nonfinite_loss=loss)  # the same divergence: DD713, with evidence
    assert one.code == "DD713"
    assert one.title.endswith("the gradient norm had been rising since step 6")
    assert one.evidence["gradients"]["explosion_onset"]["step"] == 6


def _first_sampled_step(from_step: int) -> int:
    """The first step at or after ``from_step`` whose optimizer steps include a sampled one."""
    call = CALLS_PER_STEP * (from_step - 1) + 1
    while call % GRADIENTS_EVERY != 1:
        call += 1
    return -(-call // CALLS_PER_STEP)


def test_a_real_explosion_is_found_at_the_seam_from_the_step_it_began(tmp_path):
    result, report = profile(
        tmp_path, SCRIPT, "--items", "480", "--sleep-ms", "0", "--scale-at", "20",
        "--scale", "1e5",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    grads = report["profile"]["health"]["gradients"]
    expected = _first_sampled_step(20)
    assert grads["exploded"]["step"] == grads["explosion_onset"]["step"] == expected
    assert grads["samples"] == -(-CALLS_PER_STEP * 60 // GRADIENTS_EVERY)  # every 16th of 180
    (finding,) = [f for f in report["findings"] if f["code"] == "DD715"]
    assert finding["title"].endswith(f"it started at step {expected}")
    assert "DD713" not in codes(report) and "DD716" not in codes(report)


def test_real_vanishing_gradients_are_found_and_a_healthy_run_has_neither(tmp_path):
    result, report = profile(
        tmp_path, SCRIPT, "--items", "480", "--sleep-ms", "0", "--scale-at", "20",
        "--scale", "1e-9",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    grads = report["profile"]["health"]["gradients"]
    assert grads["vanished_from"]["step"] == _first_sampled_step(20)
    assert "DD716" in codes(report) and "DD715" not in codes(report)
    _, healthy = profile(tmp_path, SCRIPT, "--items", "480", "--sleep-ms", "0")
    grads = healthy["profile"]["health"]["gradients"]
    assert grads["samples"] > 0 and grads["first"]["l2"] > 0
    assert grads["exploded"] is None and grads["vanished_from"] is None
    assert not {"DD713", "DD715", "DD716"} & set(codes(healthy))


@pytest.mark.parametrize(
    ("modules", "clipping", "scaler", "init"),
    [
        (["torch._tensor"], "clip_grad_norm_", "torch.amp.GradScaler", "kaiming_normal_"),
        (["paddle.optimizer"], "ClipGradByGlobalNorm", "paddle.amp.GradScaler", "KaimingNormal"),
        (
            ["tensorflow.python.eager.backprop", "keras.src.backend.tensorflow.optimizer"],
            "global_clipnorm=1.0",
            "keras.optimizers.LossScaleOptimizer",
            'kernel_initializer="he_normal"',
        ),
        (["keras.src.models.model"], "global_clipnorm", "LossScaleOptimizer", "he_normal"),
        # torch beside another framework, or nothing known: torch's words
        (["paddle.optimizer", "torch._tensor"], "clip_grad_norm_", "torch.amp", "kaiming"),
        ([], "clip_grad_norm_", "torch.amp.GradScaler", "kaiming_normal_"),
    ],
)
def test_each_framework_gets_its_own_fixes(modules, clipping, scaler, init):
    p = make()
    p["frameworks"] = [{"pid": 4242, "module": m, "patched": []} for m in modules]
    p["health"] = {"nonfinite_loss": None, "gradients": _norms([1.0, math.inf])}
    (exploding,) = [f for f in rules.judge(p) if f.code == "DD715"]
    assert clipping in exploding.fixes[0].summary and scaler in exploding.fixes[1].summary
    p["health"]["gradients"] = _norms([1.0, 1.0], rms=[1e-3, 1e-9])
    (vanishing,) = [f for f in rules.judge(p) if f.code == "DD716"]
    assert scaler in vanishing.fixes[0].summary and init in vanishing.fixes[1].summary
