"""The analysis of a finished session, field by field: how the script ended, its loaders, its
processes and CPU, and a report section that follows the schema."""

from __future__ import annotations

import functools
import json

import jsonschema
import pytest

from dldoctor.document.schema import profile_report_schema
from dldoctor.profilers.analysis import analyse
from tests.profilers.sessions import PID, loader_event, session


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    """The profile section's validator, its schema checked once (``jsonschema.validate`` checks
    it on every call: seconds per test)."""
    schema = profile_report_schema()
    part = {"$defs": schema["$defs"], "$ref": "#/$defs/profile"}
    kind = jsonschema.validators.validator_for(part)
    kind.check_schema(part)
    return kind(part)


def validate(profile: dict) -> None:
    _validator().validate(profile)


def exit_of(**kwargs) -> dict:
    profile = analyse(session([], set(), **kwargs))
    validate(profile)
    return profile["exit"]


def test_a_clean_exit_is_completed():
    assert exit_of() == {
        "returncode": 0,
        "signal": None,
        "stopped_by": None,
        "exception": None,
        "status": "completed",
    }


def test_a_nonzero_exit_with_an_exception_is_failed_and_quotes_it():
    event = f"X {PID} " + json.dumps(
        {"kind": "exception", "type": "ValueError", "message": "bad batch"}
    )
    out = exit_of(returncode=1, events=(event,))
    assert out["status"] == "failed" and out["exception"] == "ValueError: bad batch"
    assert out["returncode"] == 1 and out["signal"] is None


@pytest.mark.parametrize(
    ("code", "name", "status"),
    [(-9, "SIGKILL", "killed"), (-2, "SIGINT", "interrupted"), (-11, "SIGSEGV", "killed")],
)
def test_a_signal_names_itself(code, name, status):
    out = exit_of(returncode=code)
    assert (out["signal"], out["status"]) == (name, status)


def test_an_unknown_signal_number_is_still_named():
    assert exit_of(returncode=-200)["signal"] == "signal 200"


def test_stopping_itself_at_the_step_limit_is_stopped():
    out = exit_of(returncode=0, events=(f"Q {PID} " + json.dumps({"reason": "steps"}),))
    assert (out["stopped_by"], out["status"]) == ("steps", "stopped")


def test_a_window_ended_by_dldoctor_is_the_duration_and_says_which_signals():
    out = exit_of(returncode=-15, enforced=["SIGTERM"], forwarded=["SIGHUP"], error="gone")
    assert out["stopped_by"] == "duration"
    assert out["signals_sent"] == ["SIGTERM"] and out["signals_received"] == ["SIGHUP"]
    assert out["error"] == "gone" and out["status"] == "killed"


def test_a_loader_is_reported_with_its_batches_and_first_wait():
    profile = analyse(session([], set(), steps=20, events=(loader_event(),)))
    validate(profile)
    (loader,) = profile["loaders"]
    assert loader["id"] == 1 and loader["pid"] == PID and loader["in_main_process"] is True
    assert (loader["framework"], loader["framework_version"], loader["kind"]) == (
        "torch",
        "2.13.0",
        "DataLoader",
    )
    assert loader["site"] == {"file": "train.py", "line": 42} and loader["config"] == {
        "num_workers": 2
    }
    assert loader["dataset"] == "Toy" and loader["pipeline"] == [{"op": "map"}]
    assert loader["batches"] == 21 and loader["first_batch_wait"]["count"] == 1
    assert loader["background_batches"] == 0 and loader["passes_completed"] == 0
    assert loader["worker_pids"] == [] and loader["worker_starts"] == 0
    assert loader["wait"]["mean_s"] == pytest.approx(0.01, abs=1e-4)


def test_worker_pids_and_passes_are_counted():
    events = (loader_event(), f"W {PID} 1 301,302", f"E {PID} 1 0.5 1")
    (loader,) = analyse(session([], set(), events=events))["loaders"]
    assert loader["worker_pids"] == [301, 302] and loader["worker_starts"] == 1
    assert loader["passes_completed"] == 1


def test_processes_and_the_cpu_over_the_steps():
    profile = analyse(session([], set()))
    assert profile["processes"] == [
        {"pid": PID, "main": True, "batch_steps": 20, "marked_steps": 0}
    ]
    assert profile["cpu"] == {
        "cores_available": 8.0,
        "main_process_cores": 0.5,
        "main_thread_busy": 0.5,
        "worker_busy": 0.75,
        "workers": 2.0,
        "tree_cores": 2.0,
        "tree_share_of_cores": 0.25,
    }


def test_marked_steps_win_over_batches():
    marks = tuple(f"B {PID} {1.0 + i * 0.2:.4f} s" for i in range(12))
    profile = analyse(session([], set(), events=marks))
    assert profile["steps"]["source"] == "step()" and profile["steps"]["count"] == 11
    keras = tuple(f"B {PID} {1.0 + i * 0.2:.4f} k" for i in range(12))
    assert analyse(session([], set(), events=keras))["steps"]["source"] == "keras"


def test_the_section_is_valid_json_with_a_verdict_and_thresholds():
    profile = analyse(session([90.0], {0}, events=(loader_event(),)))
    validate(profile)
    json.dumps(profile)
    assert profile["verdict"]["class"] == "gpu-bound"
    assert profile["gpu"]["devices"][0]["process_sm_percent_mean"] == 40.0
    assert profile["gpu"]["devices"][0]["power_mean_w"] == 100.0
    assert profile["gpu"]["devices"][0]["memory_used_peak_bytes"] == 1 << 30
    assert profile["gpu"]["devices"][0]["process_memory_peak_bytes"] == 1 << 29
    assert profile["sampling"]["samples"] == 80 and profile["thresholds"]["gpu_bound"] == 0.8
    assert profile["wall_s"] == 4.0 and profile["target"] == {
        "kind": "script",
        "name": "train.py",
        "args": ["--token", "<withheld>"],
    }
    series = profile["timeline"]
    assert len(series["data_wait"]) == len(series["gpu_busy"]) == len(series["main_cores"]) <= 60
    assert max(v for v in series["gpu_busy"] if v is not None) == pytest.approx(0.9, abs=1e-3)


def _keras_session(separable: bool) -> dict:
    info = {
        "id": 1,
        "framework": "tensorflow",
        "kind": "keras.fit",
        "site": {"file": "train.py", "line": 9},
        "config": {"steps_per_execution": 4, "separable": separable},
    }
    marks = tuple(f"B {PID} {1.0 + 0.4 * i:.3f} k" for i in range(13))
    profile = analyse(session([], set(), steps=0, events=(f"L {PID} {json.dumps(info)}", *marks)))
    validate(profile)
    return profile


def test_keras_steps_whose_data_wait_cannot_be_separated_say_so_instead_of_0_percent():
    profile = _keras_session(separable=False)
    assert profile["steps"]["count"] == 12 and profile["steps"]["source"] == "keras"
    assert profile["data_wait"]["fraction"] is None
    assert profile["verdict"]["class"] == "unknown"
    assert "steps_per_execution=4" in profile["verdict"]["reason"]
    assert "cannot be separated" in profile["data_wait"]["not_separable"]


def test_keras_steps_measured_per_batch_are_judged():
    profile = _keras_session(separable=True)
    assert (
        profile["data_wait"]["fraction"] is not None
        and profile["data_wait"]["not_separable"] is None
    )
    assert profile["verdict"]["class"] != "unknown"


def test_an_evaluation_only_script_is_measured_on_its_evaluation_batches():
    from dldoctor.profilers.collector import Collector
    from dldoctor.profilers.runner import RunResult, Target
    from dldoctor.profilers.session import Options, Session

    col = Collector(origin=0.0)
    col.feed(loader_event())
    for i in range(13):  # fetched with gradients off: evaluation, never training steps
        t = 1.0 + 0.1 * i
        col.feed(f"D {PID} 1 {t:.3f} {t + 0.05:.3f} 2")
    result = RunResult(PID, 0.0, 3.0, 0)
    profile = analyse(
        Session(Target("eval.py"), Options(), "2026-01-01T00:00:00+00:00", col, result)
    )
    validate(profile)
    assert profile["steps"]["source"] == "evaluation batches" and profile["steps"]["count"] == 12
    (loader,) = profile["loaders"]
    assert loader["phase"] == "evaluation" and loader["evaluation_batches"] == 13
    assert profile["processes"][0]["batch_steps"] == 0  # no training step was counted
