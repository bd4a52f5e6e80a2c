"""Each profile rule at, below and above its thresholds, and what its finding carries; the step
breakdown and training health the rules read, from real collector records."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from dldoctor.document.schema import profile_report_schema
from dldoctor.model import Area, Severity
from dldoctor.profilers import jobs, rules, tune
from dldoctor.profilers import thresholds as th
from dldoctor.profilers.analysis import analyse, classify
from dldoctor.profilers.collector import Steps
from dldoctor.profilers.thresholds import pct
from tests.profilers.sessions import PID, session
from tests.profilers.synthetic import loader, make, stats
from tests.profilers.test_rules import _with_loop_body

EPS = 1e-4  # a fraction just off a threshold (reports round fractions to 4 digits)


def found(profile: dict) -> dict:
    return {f.code: f for f in rules.judge(profile)}


def rejudged(profile: dict) -> dict:
    profile["verdict"] = classify(profile)
    return profile


def healthy(gpu_busy: float | None = 0.6) -> dict:
    """Neither input- (1 ms of 70 ms waiting) nor CPU-bound (main thread 30 %)."""
    return make(wait_s=0.001, gpu_busy=gpu_busy)


@pytest.mark.parametrize("delta", [-EPS, 0.0, EPS])
def test_gpu_underused_below_its_threshold_only(delta):
    busy = th.GPU_UNDERUSED + delta
    profile = healthy(busy)
    assert profile["verdict"]["class"] == "healthy"
    finding = found(profile).get("DD704")
    assert (finding is not None) is (delta < 0)
    if finding:
        assert finding.severity is Severity.INFO
        assert finding.title == f"The GPU is busy only {pct(busy)} of the time"
        assert finding.evidence == {"gpu": busy}
        assert finding.fixes[0].summary.startswith("raise the batch size")


def test_gpu_underused_only_on_a_healthy_run_with_a_measured_gpu():
    cpu_bound = make(wait_s=0.001, gpu_busy=0.2, main_thread=0.95)
    assert cpu_bound["verdict"]["class"] == "cpu-bound"
    assert "DD704" not in found(cpu_bound)  # the CPU is the cause, not the batch size
    assert "DD704" not in found(healthy(None))


def test_gpu_bound_quotes_the_busy_fraction_as_good_news():
    busy = th.GPU_BOUND + 0.1
    finding = found(healthy(busy))["DD705"]
    assert finding.severity is Severity.OK
    assert pct(busy) in finding.title and finding.evidence == {"gpu_busy_fraction": busy}
    assert "DD705" not in found(healthy(th.GPU_BOUND - EPS))


def test_cpu_bound_with_a_gpu_warns_and_quotes_both_figures():
    profile = make(wait_s=0.001, gpu_busy=0.4, main_thread=0.95)
    finding = found(profile)["DD703"]
    assert finding.severity is Severity.WARNING
    assert pct(0.95) in finding.title and pct(0.4) in finding.title
    assert finding.evidence == {"main_thread_busy": 0.95, "gpu_busy_fraction": 0.4}
    assert finding.fixes[0].summary.startswith("move per-batch CPU work out of the training loop")


def test_cpu_bound_without_a_gpu_is_information_and_expected():
    finding = found(make(wait_s=0.001, gpu_busy=None, main_thread=0.95))["DD703"]
    assert finding.severity is Severity.INFO and not finding.fixes
    assert "expected when the model runs on the CPU" in finding.title
    assert finding.evidence == {"main_thread_busy": 0.95, "gpu_busy_fraction": None}


def test_cpu_bound_falls_back_to_the_main_process_cores():
    profile = make(wait_s=0.001, gpu_busy=0.4, main_thread=0.95)
    profile["cpu"]["main_thread_busy"] = None
    profile["cpu"]["main_process_cores"] = 0.9
    finding = found(rejudged(profile))["DD703"]
    assert finding.evidence["main_thread_busy"] == 0.9 and pct(0.9) in finding.title


def saturated(wait: float, busy: float | None, share: float | None) -> dict:
    profile = make(cores=8.0)
    profile["data_wait"]["steady_fraction"] = wait
    profile["cpu"].update(worker_busy=busy, tree_share_of_cores=share)
    return rejudged(profile)


@pytest.mark.parametrize("delta", [-EPS, 0.0, EPS])
@pytest.mark.parametrize("which", ["wait", "busy", "share"])
def test_saturated_workers_need_each_threshold_reached(which, delta):
    values = {"wait": th.INPUT_BOUND, "busy": th.WORKER_BUSY, "share": th.CORES_BUSY}
    if which == "wait":
        values["wait"] = th.INPUT_NOTABLE + delta
    else:
        values[which] += delta
    finding = found(saturated(**values)).get("DD706")
    assert (finding is not None) is (delta >= 0)
    if finding:
        assert finding.severity is Severity.INFO
        assert pct(values["busy"]) in finding.title and pct(values["share"]) in finding.title
        assert "of the 8 cores available" in finding.title
        assert finding.evidence == {"worker_busy": values["busy"], "tree_share": values["share"]}


@pytest.mark.parametrize(("busy", "share"), [(None, 0.9), (0.9, None)])
def test_saturated_workers_unmeasured_are_not_judged(busy, share):
    assert "DD706" not in found(saturated(th.INPUT_BOUND, busy, share))


def test_saturated_workers_say_nothing_without_a_verdict():
    profile = saturated(th.INPUT_BOUND, 0.99, 0.99)
    profile["steps"]["count"] = th.MIN_STEPS - 1
    assert rejudged(profile)["verdict"]["class"] == "unknown"
    assert "DD706" not in found(profile)


@pytest.mark.parametrize("reason", ["NVML Shared Library Not Found", None])
def test_no_gpu_says_why_or_that_the_reason_is_unknown(reason):
    profile = make(gpu_busy=None)
    profile["gpu"]["reason"] = reason
    finding = found(profile)["DD708"]
    assert finding.severity is Severity.INFO
    assert f"({reason or 'unknown reason'})" in finding.title
    assert finding.evidence == {"reason": reason}
    assert "DD708" not in found(make(gpu_busy=0.5))


@pytest.mark.parametrize("steps", [0, 1, th.MIN_STEPS - 1, th.MIN_STEPS, th.MIN_STEPS + 1])
def test_too_few_steps_below_the_minimum_only(steps):
    finding = found(make(steps=steps)).get("DD709")
    assert (finding is not None) is (steps < th.MIN_STEPS)
    if finding:
        assert finding.severity is Severity.WARNING and finding.evidence == {"steps": steps}
        assert finding.title.startswith(
            "No training step seen" if steps == 0 else f"Only {steps} training steps seen"
        )
        assert "dldoctor.step()" in finding.fixes[0].summary


@pytest.mark.parametrize(
    ("status", "extra", "how"),
    [
        ("failed", {"exception": "ValueError: bad batch"}, "raised ValueError: bad batch"),
        ("failed", {"returncode": 3}, "exited with code 3"),
        ("interrupted", {"signal": "SIGINT"}, "was interrupted (SIGINT)"),
        ("killed", {"signal": "SIGKILL"}, "was killed by SIGKILL"),
    ],
)
def test_a_script_that_did_not_finish_says_how(status, extra, how):
    profile = make(steps=40)
    profile["exit"].update(status=status, **extra)
    finding = found(profile)["DD710"]
    assert finding.title == f"The script {how} after 40 steps: this report covers what ran"
    assert finding.evidence == {"exit": profile["exit"]}


@pytest.mark.parametrize("status", ["completed", "stopped"])
def test_a_finished_or_stopped_script_is_no_finding(status):
    profile = make()
    profile["exit"]["status"] = status
    assert "DD710" not in found(profile)


def test_a_loss_that_became_nan_names_its_step_and_the_two_usual_causes():
    profile = make()
    profile["health"] = {"nonfinite_loss": {"value": "nan", "step": 17, "backward_calls": 17}}
    finding = found(profile)["DD713"]
    assert finding.severity is Severity.WARNING
    assert finding.title.startswith("The loss became nan at training step 17")
    assert finding.evidence == {"nonfinite_loss": profile["health"]["nonfinite_loss"]}
    summaries = [f.summary for f in finding.fixes]
    assert "clip_grad_norm_" in summaries[0] and "GradScaler" in summaries[1]
    for health in (None, {}, {"nonfinite_loss": None}):
        profile["health"] = health
        assert "DD713" not in found(profile)


@pytest.mark.parametrize("every", [None, 1, 32])
def test_a_loss_read_at_every_nth_backward_is_found_by_a_step_not_dated_to_it(every):
    profile = make()
    seen = {"value": "inf", "step": 33, "backward_calls": 33, "read_every": every}
    profile["health"] = {"nonfinite_loss": seen}
    title = found(profile)["DD713"].title
    if every == 32:
        assert title.startswith("The loss was found inf at training step 33 (on the GPU")
        assert "read once every 32 backward calls: it became so after the read before)" in title
    else:
        assert title.startswith("The loss became inf at training step 33: the steps after")


def test_the_nonfinite_loss_is_dated_by_the_steps_that_count():
    """Seen during a step: the batch step counts where batches are the steps, the marked step
    where dldoctor.step() marks them."""
    batches = session([], set())
    record = batches.collector.processes[PID]
    nan = f"N {PID} " + json.dumps({"value": "inf", "backward_calls": 9, "read_every": 32})
    batch_step = record.data.count + 1
    batches.collector.feed(nan)
    assert analyse(batches)["health"]["nonfinite_loss"] == {
        "value": "inf",
        "step": batch_step,
        "backward_calls": 9,
        "read_every": 32,
    }
    marked = session([], set())
    for i in range(th.MIN_STEPS + 2):
        marked.collector.feed(f"B {PID} {1.0 + i * 0.1:.4f} s")
    marked_step = marked.collector.processes[PID].marks.count + 1
    marked.collector.feed(nan)
    profile = analyse(marked)
    assert profile["steps"]["source"] == "step()"
    assert marked_step != batch_step
    assert profile["health"]["nonfinite_loss"]["step"] == marked_step
    assert analyse(session([], set()))["health"]["nonfinite_loss"] is None
    for bad in ("32", 0, -1, True, 1 << 40, None):  # untrusted: a positive count or nothing
        odd = session([], set())
        odd.collector.feed(f"N {PID} " + json.dumps({"value": "nan", "read_every": bad}))
        assert analyse(odd)["health"]["nonfinite_loss"]["read_every"] is None


def tuned(baseline_s: float, best_s: float) -> tuple[dict, dict]:
    """A profile whose --tune trials (the boundary: each a real run otherwise) ran at
    ``best_s`` per step for the first candidate and slower for the rest."""
    profile = make(steps=30, step_s=baseline_s, wait_s=baseline_s / 2)
    profile["data_wait"]["first_steps"] = {"count": 0, "time_s": 0.0, "wait_s": 0.0}
    profile["loaders"] = [loader(num_workers=0, persistent_workers=False)]
    runs = []

    def trial(env: dict, n: int, duration_s: float) -> dict:
        runs.append(env)
        return make(steps=n, step_s=best_s if len(runs) == 1 else baseline_s * 2, wait_s=0.0)

    section = tune.run(profile, trial, steps=None)
    assert section is not None
    return profile, section


def test_a_tuned_setting_that_is_faster_is_the_fix_with_its_measured_speedup():
    profile, section = tuned(0.070, 0.035)
    best, baseline = section["best"], section["baseline"]
    finding = found({**profile, "tune": section})["DD714"]
    settings = ", ".join(f"{k}={v}" for k, v in best["settings"].items())
    speedup = baseline["step_s"] / best["step_s"]
    assert finding.severity is Severity.WARNING
    assert finding.title == (
        f"Measured with --tune: {settings} makes each step {speedup:.1f}× faster "
        f"({best['step_s'] * 1e3:.1f} ms against {baseline['step_s'] * 1e3:.1f} ms)"
    )
    file, line = section["loader_site"]
    assert finding.fixes[0].summary == f"set {settings} in the DataLoader built at {file}:{line}"
    assert f"Measured over {section['trial_steps']} steps per trial" in finding.fixes[0].notes
    assert f"{len(section['trials'])} settings tried" in finding.fixes[0].notes
    assert finding.evidence == {
        "baseline": baseline,
        "best": best,
        "trials": len(section["trials"]),
    }


def test_no_tuned_fix_without_a_better_setting_or_a_measured_baseline():
    profile, section = tuned(0.070, 0.069)  # under the gain a fix must bring
    assert section["best"] is None
    assert "DD714" not in found({**profile, "tune": section})
    profile, section = tuned(0.070, 0.035)
    section["baseline"]["step_s"] = None
    assert "DD714" not in found({**profile, "tune": section})
    assert "DD714" not in found(profile)  # no --tune


def phased(steps: int, first_wait: float = 0.1) -> Steps:
    """Steps of 1 s each: a wait (``first_wait`` in the first), then copy 0.05, forward 0.3,
    backward 0.4, optimizer 0.05; what remains of the second is the loop body's own."""
    record = Steps()
    for i in range(steps):
        t = float(i)
        wait = first_wait if i == 0 else 0.1
        record.boundary(t)
        record.wait(t, t + wait)
        record.phase("c", t + 0.10, t + 0.15)
        record.phase("f", t + 0.15, t + 0.45)
        record.phase("b", t + 0.45, t + 0.85)
        record.phase("o", t + 0.85, t + 0.90)
    record.end(float(steps))
    return record


def test_each_step_splits_into_wait_phases_and_loop_body():
    split = jobs.breakdown(phased(12), steady=False)
    assert split["measured"] is True and split["steady"] is False
    expected = {"data_wait": 0.1, "copy": 0.05, "forward": 0.3, "backward": 0.4}
    expected.update(optimizer=0.05, loop_body=0.1)
    assert split["fractions"] == pytest.approx(expected, abs=1e-4)


def test_the_steady_breakdown_leaves_the_first_step_out():
    steps = phased(11, first_wait=0.6)  # the first batch waits 0.6 s: start-up
    everything = jobs.breakdown(steps, steady=False)["fractions"]
    steady = jobs.breakdown(steps, steady=True)
    assert steady["steady"] is True
    assert steady["fractions"]["data_wait"] == pytest.approx(0.1, abs=1e-4)
    assert everything["data_wait"] == pytest.approx((0.6 + 10 * 0.1) / 11, abs=1e-4)
    assert steady["fractions"]["forward"] == pytest.approx(0.3, abs=1e-4)


def test_phases_that_overlap_past_the_step_leave_no_negative_loop_body():
    record = Steps()
    record.boundary(0.0)
    record.phase("f", 0.0, 0.8)
    record.phase("b", 0.0, 1.3)  # overlapping, and past the step's end: 2.1 s in a 1 s step
    record.end(1.0)
    fractions = jobs.breakdown(record, steady=False)["fractions"]
    assert fractions["loop_body"] == 0.0
    assert fractions["forward"] == pytest.approx(0.8) and fractions["backward"] == 1.0  # capped


def test_steps_without_phases_have_no_breakdown():
    record = Steps()
    for i in range(5):
        record.boundary(float(i))
        record.wait(float(i), i + 0.5)
    record.end(5.0)
    assert jobs.breakdown(record, steady=False) == {"measured": False, "fractions": None}
    assert jobs.breakdown(Steps(), steady=False) == {"measured": False, "fractions": None}


def finding_schema():
    schema = profile_report_schema()
    part = {"$defs": schema["$defs"], "$ref": "#/$defs/finding"}
    kind = jsonschema.validators.validator_for(part)
    return kind(part)


SCENARIOS = {
    "input-bound": make(),
    "input-wait": make(wait_s=0.007, gpu_busy=0.9),
    "cpu-bound": make(wait_s=0.001, gpu_busy=0.4, main_thread=0.95),
    "underused": healthy(0.2),
    "no-gpu": make(gpu_busy=None),
    "few-steps": make(steps=3),
    "saturated": saturated(th.INPUT_BOUND, 0.95, 0.95),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_finding_fits_the_schema_worst_first(name):
    findings = rules.judge(copy.deepcopy(SCENARIOS[name]))
    assert findings
    validator = finding_schema()
    for finding in findings:
        validator.validate(finding.to_dict())
        assert finding.area is Area.PROFILE
    order = [(-f.severity.rank, f.code) for f in findings]
    assert order == sorted(order)


def test_a_script_that_never_started_is_not_judged():
    profile = make(steps=0)
    assert rules.judge(profile)  # too few steps, and more
    profile["exit"]["not_started"] = "No module named train"
    assert rules.judge(profile) == []


def test_a_crashing_rule_names_the_error_as_information(monkeypatch):
    def broken(profile):
        raise KeyError("x")

    monkeypatch.setitem(rules._RULES, "DD799", rules.Rule("DD799", "broken", "never", broken))
    (finding,) = [f for f in rules.judge(make()) if f.code == "DD799"]
    assert finding.title == "profile rule broken crashed: KeyError: 'x' (a dldoctor bug)"
    assert finding.severity is Severity.INFO and finding.area is Area.PROFILE


def wait_evidence(profile: dict) -> dict:
    """What a data-wait finding must carry: the fractions, the wait per step, the training
    loaders of the main process."""
    wait = profile["data_wait"]
    return {
        "data_wait_fraction": wait["fraction"],
        "data_wait_fraction_without_first_batches": wait["steady_fraction"],
        "steps": profile["steps"]["count"],
        "wait_per_step_p50_s": wait["per_step"]["p50_s"],
        "wait_per_step_p95_s": wait["per_step"]["p95_s"],
        "loaders": [
            {"site": "train.py:42", "config": ld["config"], "wait": ld["wait"]}
            for ld in profile["loaders"]
            if ld["in_main_process"]
        ],
    }


def waiting(fraction: float) -> dict:
    profile = make(gpu_busy=0.9)
    background = loader(id=2)
    background["in_main_process"] = False  # a loader of another process: not this loop's
    profile["loaders"].append(background)
    profile["data_wait"]["steady_fraction"] = fraction
    return rejudged(profile)


@pytest.mark.parametrize(
    ("fraction", "code"),
    [
        (th.INPUT_NOTABLE - EPS, None),
        (th.INPUT_NOTABLE, "DD702"),
        (th.INPUT_BOUND - EPS, "DD702"),
        (th.INPUT_BOUND, "DD701"),
        (th.INPUT_BOUND + EPS, "DD701"),
    ],
)
def test_data_wait_findings_at_below_and_above_each_threshold(fraction, code):
    profile = waiting(fraction)
    codes = found(profile)
    assert {"DD701", "DD702"} & set(codes) == ({code} if code else set())
    if code:
        finding = codes[code]
        assert finding.severity is (Severity.WARNING if code == "DD701" else Severity.INFO)
        assert pct(fraction) in finding.title
        assert finding.evidence == wait_evidence(profile)
        assert finding.fixes  # the loader advice, for either
        if code == "DD701":
            assert finding.title.startswith("Input-bound: the training loop waits for data")


def test_no_data_wait_finding_without_a_verdict():
    profile = waiting(0.5)
    profile["steps"]["count"] = th.MIN_STEPS - 1
    assert rejudged(profile)["verdict"]["class"] == "unknown"
    assert not {"DD701", "DD702"} & set(found(profile))


def test_no_loop_body_finding_without_a_verdict():
    profile = _with_loop_body(0.5, gpu_busy=None)
    assert "DD712" in found(profile)
    profile["steps"]["count"] = th.MIN_STEPS - 1
    assert rejudged(profile)["verdict"]["class"] == "unknown"
    assert "DD712" not in found(profile)


def test_a_rule_is_registered_once_under_a_dd7xx_code(monkeypatch):
    monkeypatch.setattr(rules, "_RULES", dict(rules._RULES))

    def fn(profile: dict) -> list:
        return []

    assert rules.rule("DD798", "new-rule", "when it fires")(fn) is fn
    registered = rules._RULES["DD798"]
    assert (registered.code, registered.name, registered.summary, registered.fn) == (
        "DD798",
        "new-rule",
        "when it fires",
        fn,
    )
    for code in ("DD7981", "DD79", "DD698", "XD798", "dd798", "DD7a8", "DDD98"):
        with pytest.raises(ValueError, match="is not DD7xx"):
            rules.rule(code, f"other-{code.lower()}", "s")(fn)
    with pytest.raises(ValueError, match="registered twice"):
        rules.rule("DD798", "another-name", "s")(fn)
    with pytest.raises(ValueError, match="registered twice"):
        rules.rule("DD797", "new-rule", "s")(fn)
    assert "DD797" not in rules._RULES


def sampled(profile: dict, user: int, leaf: int) -> dict:
    rows = [
        {"file": "train.py", "line": 50 + i, "function": f"f{i}", "share": 0.4 - i / 20}
        for i in range(5)
    ]
    profile["loop_body_samples"] = {
        "samples": 100,
        "loop_samples": 60,
        "user": rows[:user],
        "leaf": [{**r, "file": "lib.py"} for r in rows[:leaf]],
    }
    return profile


def test_the_loop_body_finding_names_the_top_lines_and_innermost_functions():
    profile = sampled(_with_loop_body(0.5, gpu_busy=None), user=5, leaf=4)
    finding = found(profile)["DD712"]
    fractions = profile["step_breakdown"]["fractions"]
    model = fractions["forward"] + fractions["backward"] + fractions["optimizer"]
    assert finding.severity is Severity.WARNING
    assert finding.title == (
        f"The training loop's own Python code takes {pct(0.5)} of each step, outside data "
        f"loading and the model (forward, backward and optimizer: {pct(model)})"
    )
    rows = profile["loop_body_samples"]["user"]
    lines = "; ".join(
        f"train.py:{r['line']} in {r['function']} ({pct(r['share'])})" for r in rows[:3]
    )
    leaves = "; ".join(f"{r['function']} (lib.py:{r['line']}, {pct(r['share'])})" for r in rows[:3])
    notes = finding.fixes[0].notes
    assert notes.startswith(f"Sampled in the main thread outside the timed phases: {lines}.")
    assert f" Innermost functions: {leaves}." in notes
    assert notes.endswith("printing a tensor) also shows here.")
    assert finding.fixes[0].summary.startswith("move the per-batch work out of the training loop")
    assert finding.evidence == {"step_breakdown": fractions, "top_lines": rows}


def test_the_loop_body_finding_says_when_no_line_was_sampled():
    finding = found(sampled(_with_loop_body(0.5, gpu_busy=None), user=0, leaf=0))["DD712"]
    notes = finding.fixes[0].notes
    assert notes.startswith(
        "Sampled in the main thread outside the timed phases: no line of your code was sampled."
    )
    assert "Innermost functions" not in notes
    assert finding.evidence["top_lines"] == []


def started(mean_s: float, share: float, count: int = 2, **config) -> dict:
    """A loader whose ``count`` first batches (one per pass) wait ``mean_s`` each on average,
    ``share`` of all its waiting; forked workers re-created for each pass unless ``config``
    says otherwise."""
    ld = loader(num_workers=2, **config)
    first = {**stats(count, mean_s), "total_s": count * mean_s}
    ld.update(first_batch_wait=first, worker_starts=count, passes_completed=count)
    ld["wait"] = {**stats(1000, 0.01), "total_s": first["total_s"] / share}
    return ld


@pytest.mark.parametrize(
    ("mean_s", "share", "fires"),
    [
        (th.STARTUP_WAIT_S - EPS, 0.9, False),
        (th.STARTUP_WAIT_S, 0.9, True),
        (th.STARTUP_WAIT_S + EPS, 0.9, True),
        (3.0, th.STARTUP_SHARE - EPS, False),  # 6 s of 24 s: the waiting is mostly elsewhere
        (3.0, th.STARTUP_SHARE, True),  # exactly a quarter (6 s of 24 s)
        (3.0, th.STARTUP_SHARE + EPS, True),
    ],
)
def test_worker_startup_at_below_and_above_both_thresholds(mean_s, share, fires):
    ld = started(mean_s, share)
    finding = found(make(loaders=[ld])).get("DD707")
    assert (finding is not None) is fires
    if finding:
        assert finding.title == (
            f"The first batch of each pass waits {mean_s:.1f} s (worker start-up and first "
            f"prefetch): {pct(share)} of all the waiting, left out of the verdict"
        )
        assert finding.evidence == {
            "first_batch_wait": ld["first_batch_wait"],
            "site": "train.py:42",
        }


def test_worker_startup_needs_a_first_batch_seen():
    ld = started(3.0, 0.5)
    ld["first_batch_wait"] = {"count": 0, "total_s": 0.0, "mean_s": None, "p50_s": None,
                              "p95_s": None, "max_s": None}  # fmt: skip
    codes = found(make(loaders=[ld]))
    assert "DD707" not in codes  # nor a crash of the rule (also DD707, as information)


@pytest.mark.parametrize("why", ["mean", "share"])
def test_worker_startup_judges_every_loader_after_one_that_does_not_qualify(why):
    quick = started(0.5, 0.9) if why == "mean" else started(3.0, 0.1)
    quick["site"] = {"file": "val.py", "line": 7, "function": "main"}
    (finding,) = [
        f for f in rules.judge(make(loaders=[quick, started(3.0, 0.5)])) if f.code == "DD707"
    ]
    assert finding.evidence["site"] == "train.py:42"


@pytest.mark.parametrize(
    ("starts", "persistent", "advised"),
    [(1, False, False), (2, False, True), (3, False, True), (3, True, False), (None, False, False)],
)
def test_persistent_workers_advised_only_where_workers_were_started_again(
    starts, persistent, advised
):
    """``None``: a report written before worker starts were counted (read back with --from)."""
    ld = started(3.0, 0.5, count=3, persistent_workers=persistent)
    if starts is None:
        del ld["worker_starts"]
    else:
        ld["worker_starts"] = starts
    finding = found(make(loaders=[ld]))["DD707"]
    assert finding.title.startswith("The first batch of each pass waits 3.0 s")  # no crash
    summaries = [f.summary for f in finding.fixes]
    assert summaries == (["set persistent_workers=True"] if advised else [])
    if advised:
        assert finding.fixes[0].notes == (
            "In the DataLoader built at train.py:42: its workers are started again for every "
            f"pass ({starts} times here)."
        )


def test_a_moderate_wait_without_a_verdict_is_no_finding():
    profile = waiting(0.1)
    assert "DD702" in found(profile)
    profile["steps"]["count"] = th.MIN_STEPS - 1
    assert rejudged(profile)["verdict"]["class"] == "unknown"
    assert "DD702" not in found(profile)


@pytest.mark.parametrize("steps", [th.MIN_STEPS - 1, th.MIN_STEPS])
def test_an_unseparable_wait_is_the_reason_from_the_minimum_of_steps(steps):
    profile = make(steps=steps)
    profile["data_wait"].update(fraction=None, steady_fraction=None, not_separable="compiled")
    reason = rejudged(profile)["verdict"]["reason"]
    assert reason == (
        "compiled" if steps >= th.MIN_STEPS else f"{steps} training steps seen (need 10)"
    )


def test_worker_startup_is_no_share_of_no_waiting():
    """A report written before the first batch's wait counted making the iterator (read back):
    3 s of first-batch waiting and none in the loader's waits is no share to quote."""
    ld = started(3.0, 0.5, count=1)
    ld["wait"] = {**stats(20, 0.0), "total_s": 0.0}
    assert "DD707" not in found(make(loaders=[ld]))
