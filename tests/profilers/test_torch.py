"""PyTorch DataLoaders: the measured data wait matches the script's own timing; fixes name values."""

from __future__ import annotations

import json

from tests.profilers.helpers import SCRIPTS, TOLERANCE, codes, marked_line, profile, truth

SCRIPT = str(SCRIPTS / "train_torch.py")


def test_workers_0_measures_the_true_wait_and_says_raise_num_workers(tmp_path):
    result, report = profile(
        tmp_path,
        "--fail-if", "input-bound",
        "--fail-if", "data-wait>0.99",
        SCRIPT, "--items", "640", "--sleep-ms", "1.5", "--truth", str(tmp_path / "truth.json"),
    )  # fmt: skip
    p = report["profile"]
    true = truth(tmp_path / "truth.json")
    assert abs(p["data_wait"]["fraction"] - true["fraction"]) <= TOLERANCE, (p["data_wait"], true)
    assert p["steps"]["count"] == true["steps"] == 80
    assert p["steps"]["source"] == "batches"
    assert p["verdict"]["class"] == "input-bound"
    assert result.returncode == 1  # the gate; the script itself exited 0
    assert [g["tripped"] for g in report["gates"]] == [True, False]
    (loader,) = p["loaders"]
    assert loader["framework"] == "torch" and loader["kind"] == "DataLoader"
    assert loader["site"]["line"] == marked_line("train_torch.py")
    assert loader["site"]["file"].endswith("train_torch.py")
    assert loader["config"]["num_workers"] == 0 and loader["config"]["batch_size"] == 8
    assert loader["batches"] == 80 and loader["passes_completed"] == 1
    finding = next(f for f in report["findings"] if f["code"] == "DD701")
    assert finding["severity"] == "warning"
    assert finding["fixes"][0]["summary"].startswith("raise num_workers from 0 to ")
    assert f"train_torch.py:{marked_line('train_torch.py')}" in finding["fixes"][0]["notes"]
    assert "DD708" in codes(report)  # no GPU here: said, and the input pipeline still judged
    assert "Input-bound" in result.stderr and "raise num_workers from 0 to" in result.stderr


def test_workers_2_measures_the_true_wait_and_finds_the_workers(tmp_path):
    trace = tmp_path / "trace.json"
    _, report = profile(
        tmp_path,
        "--trace", str(trace),
        SCRIPT, "--workers", "2", "--items", "1200", "--sleep-ms", "3", "--epochs", "2",
        "--truth", str(tmp_path / "truth.json"),
    )  # fmt: skip
    p = report["profile"]
    true = truth(tmp_path / "truth.json")
    assert abs(p["data_wait"]["fraction"] - true["fraction"]) <= TOLERANCE, (p["data_wait"], true)
    (loader,) = p["loaders"]
    assert loader["config"]["num_workers"] == 2
    assert len(loader["worker_pids"]) == 2 and loader["worker_starts"] == 2  # one set per epoch
    assert loader["passes_completed"] == 2
    assert p["cpu"]["workers"] is not None and p["cpu"]["workers"] > 0
    assert p["cpu"]["worker_busy"] is not None
    # Worker throughput is the wait here (each worker sleeps 24 ms per batch): more workers.
    assert loader["batch_making"]["mean_s"] >= 0.024 and loader["batch_making"]["count"] > 0
    fix = next(f for f in report["findings"] if f["code"] in ("DD701", "DD702"))["fixes"][0]
    assert fix["summary"].startswith("raise num_workers from 2 to ")
    assert "to make in a worker (measured)" in fix["notes"]
    events = json.loads(trace.read_text())
    waits = [e for e in events if e.get("name") == "wait for batch"]
    assert len(waits) == loader["batches"] == 300
    assert any(e.get("ph") == "C" for e in events)
    assert all("pid" in e and "tid" in e for e in events)  # Perfetto files every event by both
    names = {e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"}
    for index, worker in enumerate(loader["worker_pids"]):  # one track per loader worker
        assert names[worker] == f"loader 1 worker {index} (of pid {p['steps']['pid']})"
    worker_counters = {e["pid"] for e in events if e["ph"] == "C"} & set(loader["worker_pids"])
    assert worker_counters  # their CPU, sampled on their own tracks
    phases = {e["name"] for e in events if e.get("tid") == 3}
    assert {"forward", "backward", "optimizer step"} <= phases


def test_a_healthy_loop_is_not_called_input_bound(tmp_path):
    _, report = profile(tmp_path, SCRIPT, "--items", "480", "--sleep-ms", "0", "--width", "512")
    p = report["profile"]
    assert p["data_wait"]["fraction"] < 0.2
    assert p["verdict"]["class"] in ("cpu-bound", "healthy")
    assert not {"DD701"} & set(codes(report))


def test_explicit_steps_and_a_fork_are_accounted_to_the_right_process(tmp_path):
    result, report = profile(
        tmp_path, SCRIPT, "--fork", "--mark-steps", "--items", "400",
        "--truth", str(tmp_path / "truth.json"),
    )  # fmt: skip
    p = report["profile"]
    true = truth(tmp_path / "truth.json")
    assert result.returncode == 0
    assert p["steps"]["source"] == "step()"
    assert p["steps"]["count"] == true["steps"] - 1  # N marks delimit N-1 steps
    assert abs(p["data_wait"]["fraction"] - true["fraction"]) <= TOLERANCE
    main = [proc for proc in p["processes"] if proc["main"]]
    assert len(main) == 1 and main[0]["pid"] == p["steps"]["pid"]
    forked = [proc for proc in p["processes"] if not proc["main"]]
    assert forked and forked[0]["marked_steps"] >= 1 and forked[0]["batch_steps"] == 0


def test_validation_batches_are_reported_apart_and_never_training_steps(tmp_path):
    """Training batches load at once; each validation batch (no_grad) sleeps a known 200 ms."""
    result, report = profile(
        tmp_path, SCRIPT, "--items", "160", "--sleep-ms", "0", "--epochs", "2",
        "--val-items", "16", "--val-sleep-ms", "25", "--truth", str(tmp_path / "truth.json"),
    )  # fmt: skip
    p = report["profile"]
    true = truth(tmp_path / "truth.json")
    assert result.returncode == 0, result.stderr
    assert p["steps"]["count"] == true["steps"] == 40 and p["steps"]["source"] == "batches"
    train, val = sorted(p["loaders"], key=lambda ld: ld["evaluation_batches"])
    assert train["phase"] == "training" and train["evaluation_batches"] == 0
    assert val["phase"] == "evaluation" and val["evaluation_batches"] == val["batches"] == 4
    assert val["wait"]["p50_s"] >= 0.2  # each slept 8 × 25 ms
    assert p["data_wait"]["total_s"] < val["wait"]["total_s"] / 2
    assert p["verdict"]["class"] != "input-bound" and "DD701" not in codes(report)


def test_time_in_iter_loader_is_counted_as_waiting_for_data(tmp_path):
    """The sampler sleeps a known 300 ms each time it starts a pass; with a worker, that is
    inside iter(loader) (the iterator prefetches its first indices), once per epoch."""
    _, report = profile(
        tmp_path, SCRIPT, "--items", "96", "--sleep-ms", "0", "--epochs", "2", "--workers", "1",
        "--iter-sleep-ms", "300", "--truth", str(tmp_path / "truth.json"),
    )  # fmt: skip
    p = report["profile"]
    true = truth(tmp_path / "truth.json")
    (loader,) = p["loaders"]
    made = loader["iterator_start"]
    assert made["count"] == 2 and made["total_s"] >= 0.6
    assert made["total_s"] <= true["iter_s"]  # timed inside the script's own clock
    first = p["data_wait"]["first_steps"]
    assert first["count"] == 2 and first["wait_s"] >= made["total_s"]  # in the steps it starts
    assert loader["first_batch_wait"]["total_s"] >= made["total_s"]
    assert p["data_wait"]["total_s"] >= made["total_s"]


def test_python_work_in_the_loop_body_is_named_not_blamed_on_the_model(tmp_path):
    """Each step runs 40 ms of pure-Python preprocessing in the loop, in preprocess()."""
    result, report = profile(
        tmp_path, SCRIPT, "--items", "160", "--sleep-ms", "0", "--preprocess-ms", "40",
        "--truth", str(tmp_path / "truth.json"),
    )  # fmt: skip
    p = report["profile"]
    true = truth(tmp_path / "truth.json")
    breakdown = p["step_breakdown"]
    assert breakdown["measured"] is True
    shares = breakdown["fractions"]
    assert shares["forward"] > 0 and shares["backward"] > 0 and shares["optimizer"] > 0
    # The loop body holds the preprocessing (the truth) and the loop's other Python work.
    assert shares["loop_body"] >= true["preprocess_fraction"] - TOLERANCE, (shares, true)
    assert abs(sum(shares.values()) - 1) < 0.01
    found = codes(report)
    assert "DD712" in found and "DD703" not in found  # named as such, once
    top = p["loop_body_samples"]["user"][0]
    line = marked_line("train_torch.py", "PREPROCESS-LINE")
    assert top["function"] == "preprocess" and top["line"] in (line, line + 1)
    assert top["file"].endswith("train_torch.py")
    fix = next(f for f in report["findings"] if f["code"] == "DD712")["fixes"][0]
    assert "in preprocess" in fix["notes"] and "collate_fn" in fix["summary"]
    assert "loop body" in result.stderr


def test_the_loop_body_line_is_still_named_once_the_sampler_has_slowed_down(tmp_path):
    """80 steps of 40 ms preprocessing: most of the loop body is sampled at the lower rate
    (frames.SLOW_RATE_HZ), each sample counting for the time it stands for."""
    _, report = profile(
        tmp_path, SCRIPT, "--items", "640", "--sleep-ms", "0", "--preprocess-ms", "40",
        "--truth", str(tmp_path / "truth.json"),
    )  # fmt: skip
    sampled = report["profile"]["loop_body_samples"]
    assert sampled["taken"] < sampled["samples"]  # the lower rate was in use
    top = sampled["user"][0]
    line = marked_line("train_torch.py", "PREPROCESS-LINE")
    assert top["function"] == "preprocess" and top["line"] in (line, line + 1)
    assert top["file"].endswith("train_torch.py")
    assert top["share"] >= 0.5, sampled  # ~0.9 of the loop body is preprocess()
    assert "DD712" in codes(report)


def test_a_per_batch_cost_outside_the_workers_is_named_instead_of_more_workers(tmp_path):
    """Two workers make each batch at once; choosing each batch (in the main process) sleeps a
    known 20 ms. More workers cannot help: the advice must say what the wait is."""
    _, report = profile(
        tmp_path, SCRIPT, "--workers", "2", "--items", "320", "--sleep-ms", "0",
        "--batch-sampler-sleep-ms", "20",
    )  # fmt: skip
    p = report["profile"]
    (loader,) = p["loaders"]
    assert loader["wait"]["p50_s"] >= 0.02  # each batch waited for its 20 ms choice
    assert loader["batch_making"]["mean_s"] < loader["wait"]["p50_s"] / 2
    assert p["verdict"]["class"] == "input-bound"
    fixes = next(f for f in report["findings"] if f["code"] == "DD701")["fixes"]
    assert not any("num_workers" in f["summary"] for f in fixes)
    assert any(f["summary"].startswith("remove the per-batch cost") for f in fixes), fixes
    assert "more workers would not help" in " ".join(f["notes"] for f in fixes)


def test_the_step_where_the_loss_first_became_nan_is_reported(tmp_path):
    result, report = profile(
        tmp_path, SCRIPT, "--items", "160", "--sleep-ms", "0", "--nan-at", "13"
    )
    assert result.returncode == 0, result.stderr
    seen = report["profile"]["health"]["nonfinite_loss"]
    # 3 per step; a CPU loss is read at every backward
    assert seen == {"value": "nan", "step": 13, "backward_calls": 3 * 12 + 1, "read_every": 1}
    (finding,) = [f for f in report["findings"] if f["code"] == "DD713"]
    assert finding["title"].startswith("The loss became nan at training step 13")
    assert "clip_grad_norm_" in finding["fixes"][0]["summary"]
    # The NaN gradients that follow are this finding's cause seen again, not another finding.
    assert report["profile"]["health"]["gradients"]["nonfinite"]["l2"] == "nan"
    assert "DD715" not in codes(report) and "DD716" not in codes(report)
    _, healthy = profile(tmp_path, SCRIPT, "--items", "96", "--sleep-ms", "0")
    assert healthy["profile"]["health"]["nonfinite_loss"] is None
    assert "DD713" not in codes(healthy)
