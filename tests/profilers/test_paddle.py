"""paddle.io.DataLoader and the dygraph loop: the measured data wait and each step's split
(forward, backward, optimizer step at paddle's own seams) match the script's own timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dldoctor.profilers.child.torch_steps import CHECK_EVERY, GRADIENTS_EVERY
from tests.profilers.helpers import SCRIPTS, TOLERANCE, codes, marked_line, profile, truth
from tests.profilers.test_gradients import _first_sampled_step

SCRIPT = str(SCRIPTS / "train_paddle.py")


def test_paddle_dataloader(tmp_path):
    _, report = profile(tmp_path, SCRIPT, "--truth", str(tmp_path / "t.json"))
    p = report["profile"]
    true = truth(tmp_path / "t.json")
    steady = p["data_wait"]["steady_fraction"]
    assert abs(steady - true["fraction"]) <= TOLERANCE, (p["data_wait"], true)
    assert p["steps"]["count"] == true["steps"] == 60
    (loader,) = p["loaders"]
    assert loader["framework"] == "paddle"
    assert loader["site"]["line"] == marked_line("train_paddle.py")
    assert loader["config"]["num_workers"] == 0
    fix = next(f for f in report["findings"] if f["code"] == "DD701")["fixes"][0]
    assert fix["summary"].startswith("raise num_workers from 0 to ")
    split = p["step_breakdown"]
    assert split["measured"] and "not_separable" not in split
    for phase, share in true["phases"].items():
        assert abs(split["fractions"][phase] - share) <= TOLERANCE, (phase, split, true)
    assert "copy" not in split["fractions"]  # paddle's copy is inside its DataLoader: not 0 %


def test_paddle_gradients_exploding_from_a_known_step_with_paddles_own_fixes(tmp_path):
    """From step 20 the loss, so every gradient, is 1e5 times larger (the chain rule is linear
    in the loss): exploding, first seen at the first sampled step from 20. Three optimizer
    steps per training step, as in the torch script."""
    result, report = profile(
        tmp_path, SCRIPT, "--sleep-ms", "0", "--scale-at", "20", "--scale", "1e5"
    )
    assert result.returncode == 0, result.stderr
    grads = report["profile"]["health"]["gradients"]
    assert grads["exploded"]["step"] == grads["explosion_onset"]["step"] == _first_sampled_step(20)
    (finding,) = [f for f in report["findings"] if f["code"] == "DD715"]
    assert "paddle.nn.ClipGradByGlobalNorm" in finding["fixes"][0]["summary"]
    assert "DD713" not in codes(report)


def test_paddle_nan_loss_is_found_at_its_step(tmp_path):
    result, report = profile(tmp_path, SCRIPT, "--sleep-ms", "0", "--nan-at", "13")
    assert result.returncode == 0, result.stderr
    seen = report["profile"]["health"]["nonfinite_loss"]
    assert seen["step"] == 13 and seen["value"] == "nan"
    assert "DD713" in codes(report) and "DD715" not in codes(report)


SEAM = r"""
import json, sys
import paddle
from dldoctor.profilers.child import paddle_steps, torch_steps
from dldoctor.profilers.child.recorder import Recorder

paddle.set_device("cpu")
on_device = sys.argv[1] == "gpu"
rec = Recorder(-1, None, None)
found, reads, grad_reads = [], [0], [0]
rec.event = lambda kind, data: found.append(data)
rec.queue = lambda event, t=None: None

def scalar(tensor):  # paddle's own read, counted
    reads[0] += 1
    return paddle_steps._scalar(tensor)

def on_cpu(tensor):  # a GPU is the one thing faked: where the loss lives
    return paddle_steps._on_cpu(tensor) and not on_device

def grad_stats(optimizer):
    grad_reads[0] += 1
    return paddle_steps._grad_stats(optimizer)

layer = paddle.nn.Linear(4, 1)
opt = paddle.optimizer.SGD(learning_rate=0.0, parameters=layer.parameters())
backward = torch_steps._checked(rec, paddle.Tensor.backward, on_cpu, scalar)
gradients = torch_steps._gradients(rec, grad_stats)
for call in range(1, 101):
    loss = layer(paddle.ones([2, 4])).mean()
    if call >= 40:
        loss = loss * float("nan")
    backward(loss)
    gradients(opt)
    opt.step()
    opt.clear_grad()
print(json.dumps({"found": found, "reads": reads[0], "grad_reads": grad_reads[0]}))
"""


def test_a_device_loss_is_read_only_at_sampled_backward_calls_and_the_norms_every_16th():
    """Counted at the seam, on 100 real paddle steps whose loss is NaN from call 40: on the
    CPU the loss is read at every call until the NaN (40 reads, found at 40); on a GPU only
    at calls 1, 33 and 65 (each read waits for the device), found at 65 and said to be read
    once in 32. The gradient norms are read at the 1st and every 16th step either way."""
    seen = {}
    for where in ("cpu", "gpu"):
        out = subprocess.run(
            [sys.executable, "-c", SEAM, where],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
            check=True,
        ).stdout
        seen[where] = json.loads(out.strip().splitlines()[-1])
    cpu, gpu = seen["cpu"], seen["gpu"]
    assert cpu["reads"] == 40
    assert cpu["found"] == [{"value": "nan", "backward_calls": 40, "read_every": 1}]
    sampled = [c for c in range(1, 101) if c % CHECK_EVERY == 1]
    first_after = next(c for c in sampled if c >= 40)
    assert gpu["reads"] == sampled.index(first_after) + 1 == 3  # then it stops reading
    assert gpu["found"] == [
        {"value": "nan", "backward_calls": first_after, "read_every": CHECK_EVERY}
    ]
    for run in (cpu, gpu):
        assert run["grad_reads"] == len([c for c in range(1, 101) if c % GRADIENTS_EVERY == 1])
