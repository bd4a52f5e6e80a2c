"""`dldoctor check` against a broken machine: a wedged or crashing NVML, an nvidia-smi that prints
forever or leaves a process behind, a framework import that daemonises, Ctrl-C, bad paths and
hostile reports. Real subprocesses throughout; only the driver library is a fake (built here)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from dldoctor.document.schema import report_schema
from tests.fakes import fake_libnvml, procs
from tests.fakes.fsroot import script
from tests.probes.fakes import dist_info, package

needs_cc = pytest.mark.skipif(fake_libnvml.compiler() is None, reason="needs a C compiler")


def dldoctor(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dldoctor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def processes_with(needle: str) -> list[int]:
    """Live processes whose environment holds ``needle`` (what a run left behind)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if needle.encode() in environ and procs.alive(int(name)):
            found.append(int(name))
    return found


@needs_cc
@pytest.mark.parametrize(
    ("behaviour", "status", "title", "code"),
    [
        ("hang", "hung", "NVML did not answer within 2 s: the driver is wedged", "DD105"),
        ("segv", "crashed", "NVML crashed (SIGSEGV) while initialising (nvmlInit)", "DD106"),
    ],
)
def test_a_wedged_or_crashing_nvml_is_a_finding_and_the_report_is_written(
    tmp_path: Path, behaviour: str, status: str, title: str, code: str
):
    lib = fake_libnvml.build(tmp_path / "lib", behaviour)
    path = tmp_path / "report.json"
    env = {"LD_LIBRARY_PATH": str(lib)}
    result = dldoctor("check", "--quick", "--timeout", "1", "--json", str(path), env=env)
    assert result.returncode == 1, result.stderr
    assert f"{title} ({code})" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    document = json.loads(path.read_text())
    jsonschema.validate(document, report_schema())
    assert document["facts"]["nvidia"]["nvml"]["status"] == status
    assert [f["code"] for f in document["findings"] if f["code"].startswith("DD10")] == [code]
    assert processes_with(f"LD_LIBRARY_PATH={lib}") == []  # the NVML child was killed


def test_an_nvidia_smi_that_prints_forever_is_cut_with_bounded_memory(tmp_path: Path):
    script(tmp_path, "/bin/nvidia-smi", "exec yes 'No devices were found, really'\n")
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    # Measured from a small launcher: a process forked from this (large) test process inherits
    # its resident pages into ru_maxrss before it execs, whatever dldoctor itself then uses.
    launcher = (
        "import os, subprocess, sys, json\n"
        "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)\n"
        "out = p.stdout.read()\n"
        "_, status, usage = os.wait4(p.pid, 0)\n"
        "sys.stdout.write(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]) + '\\n')\n"
        "sys.stdout.write(out.decode())\n"
    )
    measured = [sys.executable, "-m", "dldoctor", "check", "--quick", "--format", "json"]
    run = subprocess.run(
        [sys.executable, "-c", launcher, *measured],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    first, _, out = run.stdout.partition("\n")
    code, maxrss = json.loads(first)
    assert code == 0
    smi = json.loads(out)["facts"]["nvidia"]["nvidia_smi"]
    assert smi["ran"] and smi["output"].splitlines() == ["No devices were found, really"] * 5
    assert maxrss < 300 * 1024  # KiB: the run stays small, whatever it was fed


@pytest.mark.parametrize("keep_stdio", [True, False], ids=["holding-pipes", "detached"])
def test_an_nvidia_smi_that_leaves_a_process_behind_leaves_nothing(tmp_path, keep_stdio):
    pidfile = tmp_path / "pid"
    script(tmp_path, "/bin/nvidia-smi", procs.escapee(pidfile, keep_stdio) + "echo failed\n")
    result = dldoctor("check", "--quick", env={"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"})
    pid = procs.wait_for_pid(pidfile)
    try:
        assert result.returncode == 0, result.stderr
        assert procs.gone(pid)
    finally:
        procs.kill(pid)


DAEMONISING_IMPORT = """\
import os, time
if os.fork() == 0:  # the classic daemon: fork, setsid, fork, let go of every inherited fd
    os.setsid()
    if os.fork() == 0:
        with open({pidfile!r} + ".new", "w") as f:
            f.write(str(os.getpid()))
        os.rename({pidfile!r} + ".new", {pidfile!r})
        os.closerange(0, 1024)
        time.sleep(300)
    os._exit(0)
os.wait()
while not os.path.exists({pidfile!r}):
    time.sleep(0.01)
__version__ = "2.6.0"
"""


def test_a_framework_whose_import_daemonises_leaves_nothing_behind(tmp_path: Path):
    site, pidfile = tmp_path / "site", tmp_path / "pid"
    package(site, "torch", DAEMONISING_IMPORT.format(pidfile=str(pidfile)))
    dist_info(site, "torch", "2.6.0")
    result = dldoctor("check", "--framework", "torch", env={"PYTHONPATH": str(site)})
    pid = procs.wait_for_pid(pidfile)
    try:
        assert "Traceback" not in result.stderr
        assert procs.gone(pid)
    finally:
        procs.kill(pid)


HANGING_IMPORT = """\
import time
open({marker!r}, "w").close()
time.sleep(3600)
"""


def test_ctrl_c_marks_the_unfinished_probes_interrupted_and_still_writes_the_report(tmp_path):
    site, marker, path = tmp_path / "site", tmp_path / "importing", tmp_path / "report.json"
    package(site, "torch", HANGING_IMPORT.format(marker=str(marker)))
    dist_info(site, "torch", "2.6.0")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dldoctor", "check", "--framework", "torch", "--json", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site)},
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err.splitlines()[-1] and "Traceback" not in err
    assert "SIGKILL" not in out
    document = json.loads(path.read_text())
    jsonschema.validate(document, report_schema())
    runtime = document["facts"]["runtime"]
    assert runtime["interrupted"] is True
    torch = runtime["frameworks"]["torch"]
    assert torch["status"] == "interrupted"
    assert torch["reason"].startswith("interrupted during import")
    assert not [f for f in document["findings"] if f["code"] in ("DD601", "DD607", "DD608")]
    again = dldoctor("check", "--from", str(path))  # judged later: history, not an interruption
    assert again.returncode in (0, 1), again.stderr
    assert "interrupted during import" in again.stdout


def test_ctrl_c_while_gathering_stops_now_and_still_writes_what_was_gathered(tmp_path: Path):
    """The --python gatherer hangs (its timeout: 60 s); Ctrl-C stops it, and the run, now: the
    report holds the machine's facts, the interpreter's marked interrupted, and judges nothing
    of what it never saw."""
    pidfile, path = tmp_path / "pid", tmp_path / "report.json"
    fake = script(tmp_path, "/bin/python", f"echo $$ > {pidfile}\nexec sleep 600\n")
    argv = ["check", "--python", str(fake), "--timeout", "60", "--json", str(path)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "dldoctor", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid = procs.wait_for_pid(pidfile)
    time.sleep(0.5)  # the other gatherers' few milliseconds
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)  # far less than the gatherer's 60 s
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [
        f"Report written to {path}",
        "dldoctor: interrupted: what had not been gathered or probed by then is marked so",
    ]
    assert procs.gone(pid)
    assert "(interrupted, " in out.splitlines()[0]
    assert "Python: unknown (interrupted (Ctrl-C) before it was gathered)" in out
    document = json.loads(path.read_text())
    jsonschema.validate(document, report_schema())
    facts, gone = document["facts"], "interrupted (Ctrl-C) before it was gathered"
    assert facts["python"] == {"errors": {"python": gone}}
    assert facts["packages"] == {"errors": {"packages": gone}}
    # Kept if gathered before the Ctrl-C (a few ms after the gatherer started, unless loaded).
    system = facts["system"]
    assert system.get("os", {}).get("name") == "Linux" or system == {"errors": {"system": gone}}
    assert facts["runtime"]["interrupted"] is True and facts["runtime"]["ran"] is False
    unseen = ("python", "frameworks", "packages")
    assert not [f["code"] for f in document["findings"] if f["area"] in unseen]


def test_fix_interrupted_while_gathering_plans_nothing(tmp_path: Path):
    pidfile = tmp_path / "pid"
    fake = script(tmp_path, "/bin/python", f"echo $$ > {pidfile}\nexec sleep 600\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dldoctor", "fix", "--python", str(fake), "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    procs.wait_for_pid(pidfile)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130 and out == ""
    assert err.strip().splitlines() == ["dldoctor: error: interrupted: nothing was planned or run"]


@pytest.mark.parametrize("where", ["missing-dir", "a-directory"])
def test_an_unwritable_json_path_is_refused_before_any_work(tmp_path: Path, where: str):
    marker = tmp_path / "smi-ran"
    script(tmp_path, "/bin/nvidia-smi", f"touch {marker}\n")
    target = tmp_path / "no" / "r.json" if where == "missing-dir" else tmp_path
    env = {"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    result = dldoctor("check", "--quick", "--json", str(target), env=env)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"dldoctor: error: cannot write the report to {target}: ")
    assert not marker.exists()  # nothing was gathered: nvidia-smi never ran


def test_a_hanging_python_is_given_what_timeout_says(tmp_path: Path):
    pidfile = tmp_path / "pid"
    fake = script(tmp_path, "/bin/python", f"echo $$ > {pidfile}\nexec sleep 600\n")
    result = dldoctor("check", "--python", str(fake), "--timeout", "5")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.endswith("python did not answer within its 5 s timeout and was killed")
    assert procs.gone(procs.wait_for_pid(pidfile))


@pytest.mark.parametrize("kind", ["dev-zero", "deep"])
def test_a_hostile_report_is_one_line_and_exit_2(tmp_path: Path, kind: str):
    if kind == "dev-zero":
        path, message = Path("/dev/zero"), "is larger than 16 MiB: not a dldoctor report"
    else:
        path, message = tmp_path / "deep.json", "nests deeper than 64 levels: not a dldoctor report"
        path.write_text('{"schema_version": "1.0", "facts": ' + "[" * 1000 + "]" * 1000 + "}")
    result = dldoctor("check", "--from", str(path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"dldoctor: error: {path} {message}"]
