"""tf.data in a custom loop and Keras fit: the measured data wait and each step's split
(eager GradientTape phases, or one compiled tf.function call) match the truth."""

from __future__ import annotations

from tests.profilers.helpers import SCRIPTS, TOLERANCE, profile, truth

SCRIPT = str(SCRIPTS / "train_tf.py")


def test_custom_loop_over_tf_data(tmp_path):
    _, report = profile(tmp_path, SCRIPT, "--mode", "loop", "--truth", str(tmp_path / "t.json"))
    p = report["profile"]
    true = truth(tmp_path / "t.json")
    steady = p["data_wait"]["steady_fraction"]  # the truth leaves the tracing step out too
    assert abs(steady - true["fraction"]) <= TOLERANCE, (p["data_wait"], true)
    # The train step is a tf.function: one compiled call, said to be so, never "forward 0 %".
    split = p["step_breakdown"]
    assert abs(split["fractions"]["compiled"] - true["phases"]["compiled"]) <= TOLERANCE
    assert "cannot be separated" in split["not_separable"]
    assert not {"forward", "backward", "optimizer"} & set(split["fractions"])
    assert p["steps"]["count"] == true["steps"] == 60
    (loader,) = [ld for ld in p["loaders"] if ld["batches"]]
    assert loader["framework"] == "tensorflow" and loader["kind"] == "tf.data"
    assert [s["op"] for s in loader["pipeline"]] == ["Range", "Batch", "Map"]
    assert loader["pipeline"][2]["py_function"] is True
    assert p["verdict"]["class"] == "input-bound"
    fix = next(f for f in report["findings"] if f["code"] == "DD701")["fixes"][0]
    # The parallel map first: a prefetch hides at most a step's compute, little here.
    assert fix["summary"] == "pass num_parallel_calls=tf.data.AUTOTUNE to .map()"
    assert "Then, if the loop still waits, add .prefetch(tf.data.AUTOTUNE)" in fix["notes"]
    assert "tf.py_function" in fix["notes"]


def test_an_eager_gradient_tape_step_is_split_at_its_seams(tmp_path):
    """Eager forward (a layer sleeping a known 15 ms), tape.gradient, apply_gradients: each
    phase's share of step time matches the loop's own timing of it."""
    result, report = profile(
        tmp_path, SCRIPT, "--mode", "eager", "--items", "240", "--sleep-ms", "1",
        "--forward-sleep-ms", "15", "--truth", str(tmp_path / "t.json"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    p = report["profile"]
    true = truth(tmp_path / "t.json")
    split = p["step_breakdown"]
    assert split["measured"] and "not_separable" not in split, split
    for phase in ("forward", "backward", "optimizer"):
        assert abs(split["fractions"][phase] - true["phases"][phase]) <= TOLERANCE, (
            phase,
            split,
            true,
        )


def test_keras_fit_validation_batches_are_not_training_steps(tmp_path):
    """Training batches load at once; each validation batch sleeps a known 400 ms (8 × 50 ms).
    Counted as training, the validation would land in the last step; it must not."""
    result, report = profile(
        tmp_path, SCRIPT, "--mode", "fit", "--items", "240", "--sleep-ms", "0",
        "--val-items", "16", "--val-sleep-ms", "50", "--truth", str(tmp_path / "t.json"),
    )  # fmt: skip
    p = report["profile"]
    true = truth(tmp_path / "t.json")
    assert result.returncode == 0, result.stderr
    assert p["steps"]["source"] == "keras"
    assert p["steps"]["count"] == true["steps"] == 30
    (fit,) = [ld for ld in p["loaders"] if ld["kind"] == "keras.fit"]
    (val,) = [ld for ld in p["loaders"] if ld["kind"] == "keras.evaluate"]
    assert fit["batches"] == 30 and fit["phase"] == "training"
    assert fit["site"]["file"].endswith("train_tf.py")
    assert val["batches"] == val["evaluation_batches"] == 2 and val["phase"] == "evaluation"
    assert val["wait"]["p50_s"] >= 0.4  # each slept 400 ms
    # The training steps' waiting holds none of the validation batches' known sleeps (the
    # longest step is the first, which traces the train function: no bound on it here).
    assert p["data_wait"]["total_s"] < val["wait"]["total_s"] / 2


def test_keras_steps_per_execution_is_measured_per_batch_not_zero(tmp_path):
    """steps_per_execution=4 on a pipeline that sleeps 80 ms per batch: input-bound, per batch."""
    result, report = profile(
        tmp_path, SCRIPT, "--mode", "fit", "--items", "256", "--sleep-ms", "10", "--spe", "4",
        "--truth", str(tmp_path / "t.json"),
    )  # fmt: skip
    p = report["profile"]
    true = truth(tmp_path / "t.json")
    assert result.returncode == 0, result.stderr
    assert p["steps"]["source"] == "batches"  # each batch is a step, not each execution
    assert p["steps"]["count"] == true["steps"] == 32
    (fit,) = [ld for ld in p["loaders"] if ld["kind"] == "keras.fit"]
    assert fit["config"]["steps_per_execution"] == 4 and fit["config"]["separable"] is True
    # The measured wait holds all the time spent in the map's function (the truth), and more.
    assert p["data_wait"]["fraction"] >= true["fraction"] - TOLERANCE, (p["data_wait"], true)
    assert p["verdict"]["class"] == "input-bound"
