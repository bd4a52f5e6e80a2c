"""When the probe children start: the longest first, and while the static facts are gathered."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from dldoctor.cli import common
from dldoctor.facts import nvidia
from dldoctor.facts.model import Facts
from dldoctor.matrix import load
from dldoctor.probes.plan import launch_order
from dldoctor.probes.probe import ProbeEvent, ProbeOptions, run_probes, start_probes
from tests.probes.fakes import HANG, dist_info, package

WAIT_S = 60.0  # a bound on waiting for a child, never a measured duration


@pytest.fixture(scope="module")
def matrix() -> Any:
    return load()


def facts_with(*names: str) -> Facts:
    frameworks = {n: {"distributions": [{"name": n, "version": "1.0"}]} for n in names}
    return Facts(system={"cpu": {"usable_cores": 2}}, packages={"frameworks": frameworks})


def fake_site(site: Path, modules: dict[str, str]) -> dict[str, str]:
    """Importable stand-ins; the environment that puts them first for the probe children."""
    for name, init in modules.items():
        package(site, name, init)
        dist_info(site, name, "1.0")
    return {**os.environ, "PYTHONPATH": str(site)}


def probe_children() -> list[psutil.Process]:
    """This process's probe children (the harness gets its arguments' file last)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if os.path.basename((child.cmdline() or [""])[-1]).startswith("dldoctor-args-"):
                found.append(child)
        except psutil.Error:
            continue
    return found


def wait_for_probe_child() -> list[psutil.Process]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        children = probe_children()
        if children:
            return children
        time.sleep(0.02)
    return []


def test_the_longest_child_is_started_first_ties_in_plan_order():
    groups = (("torch",), ("tensorflow", "keras"), ("jax",), ("paddle",), ("onnxruntime",))
    assert launch_order(groups) == [
        ("tensorflow", "keras"),
        ("jax",),  # TensorFlow's child waits for its import's verdict (probes/deferral.py)
        ("torch",),
        ("paddle",),
        ("onnxruntime",),
    ]
    assert launch_order((("jax",), ("mystery",), ("onnxruntime",))) == [
        ("jax",),
        ("mystery",),
        ("onnxruntime",),
    ]


def test_children_start_one_after_another_longest_first(tmp_path, matrix):
    fail = "raise ImportError('a stand-in')\n"
    env = fake_site(tmp_path, {n: fail for n in ("torch", "tensorflow", "jax", "onnxruntime")})
    events: list[ProbeEvent] = []
    lock = threading.Lock()

    def record(event: ProbeEvent) -> None:
        with lock:
            events.append(event)

    options = ProbeOptions(python=sys.executable, timeout_s=WAIT_S, env=env)
    section = run_probes(
        facts_with("torch", "tensorflow", "jax", "onnxruntime"), matrix, options, record
    )
    starts = [e.framework for e in events if e.kind == "start"]
    assert starts == ["tensorflow", "jax", "torch", "onnxruntime"]
    # The report keeps the plan's order, and every child ran to its own end.
    assert list(section["frameworks"]) == ["torch", "tensorflow", "jax", "onnxruntime"]
    assert {r["status"] for r in section["frameworks"].values()} == {"fail"}


def test_the_children_run_while_the_static_facts_are_still_gathered(monkeypatch, matrix):
    seen: list[list[psutil.Process]] = []
    real = nvidia.gather_nvidia

    def slow_nvidia(*args: Any) -> Any:  # ends only once a probe child is running (or the bound)
        seen.append(wait_for_probe_child())
        return real(*args)

    monkeypatch.setattr(nvidia, "gather_nvidia", slow_nvidia)
    facts, source = common.gather_and_probe(
        matrix, None, 5.0, (False, False, "onnxruntime", WAIT_S, None)
    )
    assert seen and seen[0], "no probe child started before the NVML facts were gathered"
    assert source == " --framework onnxruntime"
    assert facts.runtime["frameworks"]["onnxruntime"]["status"] == "pass"
    assert facts.nvidia and facts.accelerators  # the static facts are all there too
    assert facts.cuda.get("library_map") is not None


def test_static_facts_that_fail_kill_the_children_already_started(monkeypatch, matrix):
    seen: list[list[psutil.Process]] = []

    def interrupted(*args: Any) -> Any:
        seen.append(wait_for_probe_child())
        raise KeyboardInterrupt

    monkeypatch.setattr(nvidia, "gather_nvidia", interrupted)
    with pytest.raises(KeyboardInterrupt):
        common.gather_and_probe(matrix, None, 5.0, (False, False, "onnxruntime", WAIT_S, None))
    assert seen and seen[0]
    for child in seen[0]:
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert probe_children() == []


def test_cancel_kills_a_hung_child_and_removes_its_work_directory(tmp_path, matrix):
    env = fake_site(tmp_path, {"tensorflow": HANG})
    options = ProbeOptions(python=sys.executable, timeout_s=WAIT_S, env=env)
    running = start_probes(facts_with("tensorflow"), matrix, options)
    children = wait_for_probe_child()
    assert children
    workdir = json.loads(Path(children[0].cmdline()[-1]).read_text())["workdir"]
    assert os.path.isdir(workdir)
    running.cancel()
    for child in children:
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert not os.path.exists(workdir)


def test_what_a_framework_leaves_in_its_temporary_directory_goes_with_the_probes(tmp_path, matrix):
    """The children end with os._exit: a file a framework would delete at exit (TensorFlow's
    autograph writes one per run) must not stay in the user's temporary directory."""
    temp = tmp_path / "users-tmp"
    temp.mkdir()
    leaves = (
        "import tempfile\n"
        "fd, path = tempfile.mkstemp(prefix='autograph-', suffix='.py')\n"
        "raise ImportError(path)\n"
    )
    env = {**fake_site(tmp_path / "site", {"tensorflow": leaves}), "TMPDIR": str(temp)}
    options = ProbeOptions(python=sys.executable, timeout_s=WAIT_S, env=env)
    section = run_probes(facts_with("tensorflow"), matrix, options)
    left = Path(section["frameworks"]["tensorflow"]["import"]["error"]["message"])
    assert left.name.startswith("autograph-")
    assert left.parent.name == "tmp" and left.parent.parent.name.startswith("dldoctor-probe-")
    assert not left.exists() and not left.parent.parent.exists()
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize("users", [None, "", "28"])
def test_the_childrens_idle_openblas_threads_sleep_unless_the_user_says_otherwise(
    tmp_path, matrix, users
):
    """Every child imports NumPy, whose OpenBLAS workers spin ~0.1 s idle before they sleep:
    the children get the least spin, a user's own setting (even an empty one) is theirs."""
    says = "import os\nraise ImportError(repr(os.environ.get('OPENBLAS_THREAD_TIMEOUT')))\n"
    env = fake_site(tmp_path / "site", {"tensorflow": says})
    env.pop("OPENBLAS_THREAD_TIMEOUT", None)
    if users is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = users
    options = ProbeOptions(python=sys.executable, timeout_s=WAIT_S, env=env)
    section = run_probes(facts_with("tensorflow"), matrix, options)
    seen = section["frameworks"]["tensorflow"]["import"]["error"]["message"]
    assert seen == repr("4" if users is None else users)


def test_the_parents_own_work_runs_while_the_children_do(matrix):
    seen: list[list[psutil.Process]] = []
    facts, _ = common.gather_and_probe(
        matrix,
        None,
        5.0,
        (False, False, "onnxruntime", WAIT_S, None),
        # Waited for, bounded: the gate starts the child from its own thread, a moment later.
        meanwhile=lambda: seen.append(wait_for_probe_child()),
    )
    assert seen and seen[0], "the parent's work waited for the children instead of overlapping"
    assert facts.runtime["frameworks"]["onnxruntime"]["status"] == "pass"
    quick: list[bool] = []
    common.gather_and_probe(
        matrix, None, 5.0, (True, False, None, WAIT_S, None), meanwhile=lambda: quick.append(True)
    )
    assert quick == []  # no children: the caller does its work in its own time


@pytest.mark.parametrize("entry", ["cluster", "notebook"])
def test_the_cluster_gatherer_and_the_notebook_probe_while_gathering(monkeypatch, matrix, entry):
    """`check --cluster` (a node's gatherer) and `dldoctor.check()` overlap as `check` does."""
    from dldoctor.cli import cluster
    from dldoctor.cluster.launch import Launch

    seen: list[list[psutil.Process]] = []
    real = nvidia.gather_nvidia

    def slow_nvidia(*args: Any) -> Any:
        seen.append(wait_for_probe_child())
        return real(*args)

    monkeypatch.setattr(nvidia, "gather_nvidia", slow_nvidia)
    if entry == "cluster":
        launch = Launch("env", 0, 1, 0, 1, 0, 1, "127.0.0.1", 29500)
        probe = (False, False, "onnxruntime", WAIT_S, None)
        sent = cluster._gather(matrix, launch, "host", None, probe, None, False)
        assert sent is not None and b"onnxruntime" in sent
    else:
        import dldoctor

        checked = dldoctor.check(frameworks=["onnxruntime"], timeout_s=WAIT_S)
        runtime = checked.report.facts.runtime
        assert runtime["frameworks"]["onnxruntime"]["status"] == "pass"
    assert seen and seen[0], "no probe child started before the NVML facts were gathered"
