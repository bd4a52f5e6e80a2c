"""The DD7xx rules and their fixes, over hand-built profiles: values for the machine at hand."""

from __future__ import annotations

import pytest

from dldoctor.profilers import advice, rules
from dldoctor.profilers import thresholds as th
from dldoctor.profilers.analysis import classify
from tests.profilers.synthetic import loader, make, stats


def _codes(profile):
    return [f.code for f in rules.judge(profile)]


def _fix(profile, code="DD701"):
    return next(f for f in rules.judge(profile) if f.code == code).fixes[0]


def test_input_bound_on_16_cores_with_2_busy_workers_says_raise_to_8_and_pin_memory():
    # 70 ms steps, 50 ms of them waiting: 2 workers deliver a batch every 70 ms, so each needs
    # 140 ms per batch; 20 ms of compute per step needs 7 workers busy, plus one in hand.
    profile = make()
    assert profile["verdict"]["class"] == "input-bound"
    fix = _fix(profile)
    assert fix.summary == "raise num_workers from 2 to 8 and set pin_memory=True"
    assert "train.py:42" in fix.notes and "16 cores" in fix.notes


def test_cpu_bound_workers_are_capped_by_the_cores_left():
    fix = _fix(make(cores=4))
    assert fix.summary.startswith("raise num_workers from 2 to 3 ")  # 4 cores, one for the loop


def test_waiting_workers_io_may_exceed_the_core_count():
    fix = _fix(make(cores=4, worker_busy=0.1))
    assert fix.summary.startswith("raise num_workers from 2 to 8 ")
    assert "mostly waiting" in fix.notes


def test_no_gpu_no_pin_memory_but_a_note():
    profile = make(gpu_busy=None)
    fix = _fix(profile)
    assert "pin_memory" not in fix.summary and "also set pin_memory=True" in fix.notes
    assert "DD708" in _codes(profile)


def test_saturated_workers_on_all_cores_get_cheaper_batches_not_more_workers():
    profile = make(cores=2, worker_busy=0.99, main_thread=0.2)
    codes = _codes(profile)
    assert "DD701" in codes and "DD706" in codes
    fixes = next(f for f in rules.judge(profile) if f.code == "DD701").fixes
    assert [f.summary.split(":")[0] for f in fixes] == [
        "set pin_memory=True",
        "make each batch cheaper to produce",
    ]


def test_workers_recreated_every_epoch_get_persistent_workers():
    slow_start = loader(num_workers=4)
    slow_start.update(passes_completed=5, worker_starts=5, first_batch_wait=stats(5, 3.0))
    slow_start["wait"] = stats(1000, 0.04)
    profile = make(loaders=[slow_start], wait_s=0.04)
    assert "DD707" in _codes(profile)
    assert _fix(profile, "DD707").summary == "set persistent_workers=True"
    assert "set persistent_workers=True" in _fix(profile).summary


def test_slow_spawned_workers_are_start_up_not_the_verdict():
    spawned = loader(num_workers=2, persistent_workers=True, multiprocessing_context="spawn")
    spawned.update(first_batch_wait=stats(1, 3.8), wait=stats(25, 0.155))
    profile = make(loaders=[spawned], steps=25, wait_s=0.155, step_s=0.16)
    profile["data_wait"].update(steady_fraction=0.03)
    profile["verdict"] = classify(profile)
    assert profile["verdict"]["class"] != "input-bound"
    finding = next(f for f in rules.judge(profile) if f.code == "DD707")
    assert "3.8 s" in finding.title
    assert finding.fixes[0].summary == "use the fork start method where the libraries allow it"


def test_tf_pipeline_fix_names_prefetch_and_parallel_map():
    tf_loader = loader()
    tf_loader.update(
        framework="tensorflow",
        kind="tf.data",
        pipeline=[{"op": "TensorSlice"}, {"op": "Map", "py_function": False}, {"op": "Batch"}],
    )
    tf_loader["config"] = {
        "prefetch": False,
        "cache": False,
        "sequential_map": True,
        "parallel_map": False,
        "py_function": False,
    }
    fix = _fix(make(loaders=[tf_loader]))
    assert fix.summary == "pass num_parallel_calls=tf.data.AUTOTUNE to .map()"  # first
    assert "TensorSlice → Map → Batch" in fix.notes
    assert "(~20 ms here against ~50 ms waiting)" in fix.notes
    tf_loader["config"].update(sequential_map=False, parallel_map=True)
    fix = _fix(make(loaders=[tf_loader]))  # the map is parallel: now the prefetch
    assert fix.summary == "add .prefetch(tf.data.AUTOTUNE) as the pipeline's last step"
    tf_loader["config"]["prefetch"] = True
    found = rules.judge(make(loaders=[tf_loader]))
    assert not next(f for f in found if f.code == "DD701").fixes


@pytest.mark.parametrize(
    ("kwargs", "verdict"),
    [
        ({"wait_s": 0.014, "gpu_busy": 0.9}, "input-bound"),  # 14 of 70 ms: 20 %, on the line
        ({"wait_s": 0.010, "gpu_busy": 0.85}, "gpu-bound"),
        ({"wait_s": 0.010, "gpu_busy": 0.40, "main_thread": 0.95}, "cpu-bound"),
        ({"wait_s": 0.010, "gpu_busy": 0.40}, "healthy"),
        ({"wait_s": 0.010, "gpu_busy": None, "main_thread": 0.9}, "cpu-bound"),
        ({"steps": 5}, "unknown"),
    ],
)
def test_verdict_thresholds(kwargs, verdict):
    assert classify(make(**kwargs))["class"] == verdict


def test_moderate_wait_is_information_with_the_same_fixes():
    profile = make(wait_s=0.007, gpu_busy=0.9)
    findings = {f.code: f for f in rules.judge(profile)}
    assert findings["DD702"].severity.value == "info"
    assert "DD701" not in findings and "DD705" in findings


def test_a_crashing_rule_becomes_a_finding(monkeypatch):
    def broken(profile):
        raise KeyError("x")

    monkeypatch.setitem(rules._RULES, "DD799", rules.Rule("DD799", "broken", "never", broken))
    (finding,) = [f for f in rules.judge(make()) if f.code == "DD799"]
    assert "crashed" in finding.title


def test_rule_codes_are_unique_dd7xx_and_kebab_case():
    all_rules = rules.all_rules()
    assert len({r.code for r in all_rules}) == len(all_rules) >= 10
    assert all(r.code.startswith("DD7") and r.name == r.name.lower() for r in all_rules)
    with pytest.raises(ValueError):
        rules.rule("DD701", "again", "x")(lambda p: [])


def test_where_falls_back_when_no_site_was_found():
    assert advice.where({"site": None}) == "where the loader is built"


def test_secret_looking_arguments_are_withheld():
    from dldoctor.profilers.analysis import safe_args

    args = ["--lr", "0.1", "--api-key", "abc", "--hf_token=xyz", "--key-file", "k.pem", "-v"]
    assert safe_args(args) == [
        "--lr", "0.1", "--api-key", "<withheld>", "--hf_token=<withheld>", "--key-file",
        "<withheld>", "-v",
    ]  # fmt: skip


def test_a_loader_without_workers_gets_no_persistent_workers_advice():
    from dldoctor.profilers.advice import torch_like_fixes

    profile = make()
    zero = loader(num_workers=0, persistent_workers=False)
    zero.update(passes_completed=3, worker_starts=0, worker_pids=[])
    assert not any("persistent_workers" in f.summary for f in torch_like_fixes(zero, profile))
    two = loader(num_workers=2, persistent_workers=False)
    two.update(passes_completed=3, worker_starts=3)
    assert any("persistent_workers=True" in f.summary for f in torch_like_fixes(two, profile))


def test_fixes_are_for_training_loaders_not_the_validation_loader():
    from dldoctor.profilers.advice import loader_fixes

    val = loader(num_workers=0)
    val.update(phase="evaluation", site={"file": "val.py", "line": 7, "function": "main"})
    profile = make(loaders=[val])
    assert loader_fixes(profile) == []


def _with_loop_body(share: float, gpu_busy: float | None = None) -> dict:
    profile = make(wait_s=0.001, main_thread=0.97, gpu_busy=gpu_busy)
    rest = round(1 - share - 0.01, 4)
    profile["step_breakdown"] = {
        "measured": True,
        "steady": True,
        "fractions": {"data_wait": 0.01, "copy": 0.0, "forward": rest / 2, "backward": rest / 2,
                      "optimizer": 0.0, "loop_body": share},
    }  # fmt: skip
    profile["loop_body_samples"] = {
        "samples": 100,
        "loop_samples": 60,
        "user": [{"file": "train.py", "line": 57, "function": "augment", "share": 0.5}],
        "leaf": [],
    }
    profile["verdict"] = classify(profile)
    return profile


@pytest.mark.parametrize(
    ("share", "fires"),
    [(th.LOOP_BODY - 0.01, False), (th.LOOP_BODY, True), (th.LOOP_BODY + 0.2, True)],
)
def test_loop_body_python_at_below_and_above_its_threshold(share, fires):
    profile = _with_loop_body(share, gpu_busy=None)
    found = [f.code for f in rules.judge(profile)]
    assert ("DD712" in found) is fires
    assert ("DD703" in found) is (not fires)  # one root cause: the model, or the loop body


def test_loop_body_finding_names_the_sampled_line_and_not_on_a_gpu_bound_run():
    (finding,) = [f for f in rules.judge(_with_loop_body(0.5)) if f.code == "DD712"]
    assert "train.py:57 in augment (50 %)" in finding.fixes[0].notes
    busy_gpu = _with_loop_body(0.5, gpu_busy=0.95)
    assert busy_gpu["verdict"]["class"] == "gpu-bound"
    assert "DD712" not in [f.code for f in rules.judge(busy_gpu)]


@pytest.mark.parametrize(("delivery_share", "fixed"), [(0.45, True), (0.55, False), (0.9, False)])
def test_worker_advice_only_where_worker_throughput_explains_the_wait(delivery_share, fixed):
    profile = make()  # 2 workers, each step 20 ms of compute and ~50 ms of waiting
    ld = loader()
    wait = advice._batch_wait_s(ld)
    period = advice._step_compute_s(profile) + wait
    made = delivery_share * period * 2  # two workers deliver one batch every made / 2
    ld["batch_making"] = {**stats(1000, made), "collate_s": 0.0}
    profile["loaders"] = [ld]
    summaries = [f.summary for f in advice.torch_like_fixes(ld, profile)]
    assert (advice.fixed_cost_s(ld, profile) is not None) is fixed
    assert any(s.startswith("remove the per-batch cost") for s in summaries) is fixed
    assert any(s.startswith("raise num_workers") for s in summaries) is (not fixed)


def test_collation_that_dominates_making_a_batch_is_named():
    ld = loader()
    ld["batch_making"] = {**stats(100, 0.2), "collate_s": 0.6 * 100 * 0.2}
    summaries = [f.summary for f in advice.torch_like_fixes(ld, make(loaders=[ld]))]
    assert any(s.startswith("make collation cheaper: collate_fn takes 60 %") for s in summaries)
    ld["batch_making"]["collate_s"] = 0.4 * 100 * 0.2
    summaries = [f.summary for f in advice.torch_like_fixes(ld, make(loaders=[ld]))]
    assert not any("collation" in s for s in summaries)
