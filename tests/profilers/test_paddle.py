"""paddle.io.DataLoader and the dygraph loop: the measured data wait and each step's split
(forward, backward, optimizer step at paddle's own seams) match the script's own timing."""

from __future__ import annotations

from tests.profilers.helpers import SCRIPTS, TOLERANCE, marked_line, profile, truth


def test_paddle_dataloader(tmp_path):
    script = str(SCRIPTS / "train_paddle.py")
    _, report = profile(tmp_path, script, "--truth", str(tmp_path / "t.json"))
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
