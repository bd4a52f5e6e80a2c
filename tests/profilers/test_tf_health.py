"""TensorFlow gradient health at Keras' update seam: an eager GradientTape loop, a compiled
(``tf.function``) step, Keras ``fit``, with and without XLA; and, at the seam itself, that a
compiled step computes the norm only when dldoctor asked for it.

From a known step the script scales its loss by a known factor: every gradient scales by
exactly that factor (the chain rule is linear in the loss), so the truth is known without
timing anything. One optimizer update per training step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dldoctor.profilers.child.torch_steps import GRADIENTS_EVERY
from tests.profilers.helpers import SCRIPTS, codes, profile

SCRIPT = str(SCRIPTS / "train_tf.py")
STEPS = 60  # 480 items in batches of 8


def _first_sampled_step(from_step: int) -> int:
    """The first update at or after ``from_step`` that is sampled (the 1st, 17th, 33rd...)."""
    step = from_step
    while step % GRADIENTS_EVERY != 1:
        step += 1
    return step


def _run(tmp_path, *args):
    result, report = profile(tmp_path, SCRIPT, "--sleep-ms", "0", "--scale-at", "20", *args)
    assert result.returncode == 0, result.stderr
    return report, report["profile"]["health"]["gradients"]


@pytest.mark.parametrize(("mode", "jit"), [("eager", False), ("loop", False), ("fit", True)])
def test_an_explosion_from_a_known_step_is_found_with_keras_fixes(tmp_path, mode, jit):
    report, grads = _run(tmp_path, "--mode", mode, "--scale", "1e5", *(["--jit"] * jit))
    expected = _first_sampled_step(20)
    assert grads["exploded"]["step"] == grads["explosion_onset"]["step"] == expected
    assert grads["samples"] == -(-STEPS // GRADIENTS_EVERY)  # the 1st and every 16th after
    assert grads["first"]["step"] == 1 and grads["first"]["l2"] > 0
    (finding,) = [f for f in report["findings"] if f["code"] == "DD715"]
    assert finding["title"].endswith(f"it started at step {expected}")
    assert "global_clipnorm=1.0" in finding["fixes"][0]["summary"]
    assert "clip_grad_norm_" not in json.dumps(finding)  # not torch's words
    assert "DD716" not in codes(report)


@pytest.mark.parametrize(("mode", "jit"), [("loop", True), ("fit", False)])
def test_vanishing_from_a_known_step_is_found(tmp_path, mode, jit):
    report, grads = _run(tmp_path, "--mode", mode, "--scale", "1e-9", *(["--jit"] * jit))
    assert grads["vanished_from"]["step"] == _first_sampled_step(20)
    (finding,) = [f for f in report["findings"] if f["code"] == "DD716"]
    assert "keras.optimizers.LossScaleOptimizer" in finding["fixes"][0]["summary"]
    assert 'kernel_initializer="he_normal"' in finding["fixes"][1]["summary"]
    assert "DD715" not in codes(report)


def test_a_healthy_compiled_loop_has_norms_and_no_finding(tmp_path):
    report, grads = _run(tmp_path, "--mode", "loop", "--scale", "1")
    assert grads["samples"] == -(-STEPS // GRADIENTS_EVERY)
    assert grads["first"]["l2"] > 0 and grads["exploded"] is None
    assert grads["vanished_from"] is None
    assert not {"DD713", "DD715", "DD716"} & set(codes(report))


SEAM = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
from dldoctor.profilers.child import tf_health
from dldoctor.profilers.child.recorder import Recorder

rec = Recorder(-1, None, None)
sent = []
rec.queue = lambda event, t=None: sent.append(event)
health = tf_health.sampler(rec)
v = tf.Variable(tf.ones([4]))

class Optimizer:  # the seam's arguments: an optimizer, its gradients and variables
    pass

opt = Optimizer()

@tf.function(jit_compile=bool(int(sys.argv[1])))
def step(x):
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(v * x)
    grads = tape.gradient(loss, [v])
    health.update(opt, grads, [v])
    v.assign_sub(0.0 * grads[0])

slots = []
for call in range(1, 34):
    health.before_call(step)
    step(tf.fill([4], float(call)))  # the gradient is x: its norm is 2 * call
    health.after_call(step)
    (watched,) = health.watched.values()
    slots.append([float(x) for x in watched[1].numpy()])
    watched[1].assign([0.0, 0.0])  # wiped: what the graph writes next is seen
print(json.dumps({"slots": slots, "sent": [[e[2], float(e[3])] for e in sent]}))
"""


@pytest.mark.parametrize("jit", [False, True])
def test_a_compiled_step_computes_the_norm_only_when_asked_unless_under_xla(jit):
    """Without XLA the graph writes the norm at the asked calls only (1, 17, 33: a step not
    sampled computes nothing); under XLA at every call (a conditional would copy its predicate
    to the host each step), read at the same calls. Either way three samples, exact norms."""
    out = subprocess.run(
        [sys.executable, "-c", SEAM, str(int(jit))],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        check=True,
    ).stdout
    seen = json.loads(out.strip().splitlines()[-1])
    asked = {1, 1 + GRADIENTS_EVERY, 1 + 2 * GRADIENTS_EVERY}
    written = [i for i, slot in enumerate(seen["slots"], 1) if slot[0] == 2.0]
    assert written == (list(range(1, 34)) if jit else sorted(asked))
    assert [s[1] for s in seen["slots"] if s[0] == 2.0][:1] == [2.0]  # |(1,1,1,1)| = 2
    assert seen["sent"] == [[c, 2.0 * c] for c in sorted(asked)]


def test_an_eager_nan_loss_is_found_at_its_step_and_a_compiled_one_in_the_gradients(tmp_path):
    """Eager: the tape's target is read at each gradient() on the CPU: DD713 at step 13, one
    finding (the gradients' NaN is its evidence, not a second one). Compiled: the target has
    no value to read; the NaN shows as the gradients' (DD715) at the first sample after it."""
    report, _ = _run(tmp_path, "--mode", "eager", "--nan-at", "13")
    seen = report["profile"]["health"]["nonfinite_loss"]
    assert seen["step"] == 13 and seen["value"] == "nan" and seen["read_every"] == 1
    assert "DD713" in codes(report) and "DD715" not in codes(report)
    report, grads = _run(tmp_path, "--mode", "loop", "--nan-at", "13")
    assert report["profile"]["health"]["nonfinite_loss"] is None
    assert grads["nonfinite"]["step"] == _first_sampled_step(13)
    assert "DD715" in codes(report) and "DD713" not in codes(report)
