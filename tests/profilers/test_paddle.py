"""paddle.io.DataLoader and the dygraph loop: the measured data wait and each step's split
(forward, backward, optimizer step at paddle's own seams) match the script's own timing."""

from __future__ import annotations

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
