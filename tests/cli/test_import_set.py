"""`dldoctor check --quick` imports only what a static check needs (its speed is its imports)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

# Each of these costs start-up time and does nothing for a static check; the reason is why it
# must stay off that path.
NOT_ON_THE_QUICK_PATH = {
    "tomllib": "the matrix is read from its parsed copies once they exist",
    "tempfile": "a parsed copy is only read (tempfile writes one)",
    "dldoctor.document.load": "only --from reads a report",
    "dldoctor.document.validate": "see dldoctor.document.load",
    "dldoctor.document.upgrade": "see dldoctor.document.load",
    "dldoctor.probes.probe": "--quick runs no probe",
    "dldoctor.probes.runner": "--quick starts no child",
    "dldoctor.probes.collect": "--quick collects no child records",
    "dldoctor.profilers.analysis": "profiling is another command",
    "dldoctor.profilers.runner": "profiling is another command",
    "dldoctor.fixes.plan": "the plan is built by `fix`, not by `check`",
    "dldoctor.fixes.resolve": "resolving releases is `install`'s work",
    "importlib.metadata": "distributions are read directly (it imports the email package)",
    "email": "see importlib.metadata",
    "rich": "the terminal view is plain ANSI",
    "typer": "the command line is argparse, built for the invoked command only",
    "click": "see typer",
    "shellingham": "see typer",
    "pydantic": "nothing here validates with it",
    "hashlib": "it loads OpenSSL: the matrix copies are named with CPython's own SHA-256",
    "ctypes": "NVML is asked in a child, and only where a driver library exists",
    "pynvml": "see ctypes",
    "asyncio": "nothing here is asynchronous",
    "concurrent.futures": "five gatherer threads need no executor",
    "numpy": "no framework, and nothing of theirs, is imported",
    "torch": "no framework is imported",
    "tensorflow": "no framework is imported",
    "jax": "no framework is imported",
    "paddle": "no framework is imported",
}

PROGRAM = """
import json, runpy, sys
sys.argv = ["dldoctor", "check", "--quick", "--format", "json"]
try:
    runpy.run_module("dldoctor", run_name="__main__")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _modules_of_a_quick_check(cache: Path) -> list[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    env.pop("DLDOCTOR_NO_CACHE", None)
    run = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, env=env, timeout=120
    )
    assert json.loads(run.stdout)["facts"]  # it did a whole check
    return json.loads(run.stderr.strip().splitlines()[-1])


def test_the_quick_check_imports_nothing_it_does_not_need(tmp_path: Path) -> None:
    _modules_of_a_quick_check(tmp_path)  # the first run writes the matrix's parsed copies
    loaded = set(_modules_of_a_quick_check(tmp_path))
    offending = {
        name: why
        for name, why in NOT_ON_THE_QUICK_PATH.items()
        if any(m == name or m.startswith(name + ".") for m in loaded)
    }
    assert offending == {}
    assert "dldoctor.checks.registry" in loaded  # and the list is of a run that judged


# `dldoctor profile SCRIPT`: dldoctor's own process, and the script's before its first line
# (what a plain `python SCRIPT` has not imported by then is the bootstrap's cost).
NOT_IN_PROFILE = {
    "typer": "the command line is argparse, built for the invoked command only",
    "click": "see typer",
    "rich": "the summary is plain ANSI",
    "dldoctor.checks": "profiling judges no installation",
    "dldoctor.matrix": "see dldoctor.checks",
    "dldoctor.profilers.gate": "only --fail-if needs it",
}
NOT_BEFORE_THE_SCRIPT = {
    "typing": "the bootstrap's annotations are never evaluated",
    "pkgutil": "the script runs as python runs it, without runpy.run_path (which imports it)",
    "argparse": "the command line is dldoctor's, not the script's",
    "inspect": "see argparse",
    "dataclasses": "the recorder needs none",
    "pathlib": "see dataclasses",
    "subprocess": "the bootstrap starts no process",
    "socket": "events go down an inherited pipe",
    "dldoctor.cli": "see argparse",
    "dldoctor.facts": "the script's process gathers nothing",
    "typer": "see argparse",
    "click": "see argparse",
}

PROFILE_PROGRAM = """
import json, runpy, sys
sys.argv = ["dldoctor", "profile", sys.argv[1]]
try:
    runpy.run_module("dldoctor", run_name="__main__")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""
FIRST_LINE = "import sys\nprint(sorted(sys.modules))\n"


def _offending(loaded: set[str], bound: dict[str, str]) -> dict[str, str]:
    return {
        name: why
        for name, why in bound.items()
        if any(m == name or m.startswith(name + ".") for m in loaded)
    }


def test_a_profile_run_and_the_script_before_its_first_line_import_nothing_they_need_not(
    tmp_path: Path,
) -> None:
    script = tmp_path / "first_line.py"
    script.write_text(FIRST_LINE)
    plain = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    run = subprocess.run(
        [sys.executable, "-c", PROFILE_PROGRAM, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    ours = set(json.loads(run.stderr.strip().splitlines()[-1]))
    assert "dldoctor.profilers.session" in ours  # a run that profiled
    assert _offending(ours, NOT_IN_PROFILE) == {}
    before = set(ast.literal_eval(run.stdout.splitlines()[0]))
    assert "dldoctor.profilers.child.bootstrap" in before  # the script ran under dldoctor
    extra = before - set(ast.literal_eval(plain.stdout.splitlines()[0]))
    assert _offending(extra, NOT_BEFORE_THE_SCRIPT) == {}


# `dldoctor profile` of a script that ends at once: what only a run that lasts needs.
NOT_FOR_A_SCRIPT_THAT_ENDS_AT_ONCE = {
    "psutil": "the sampler starts once the script has run for session.SETTLE_S",
    "dldoctor.profilers.sampler": "see psutil",
    "dldoctor.facts.nvml": "NVML is opened for a run that lasts, as the sampler",
    "pynvml": "see dldoctor.facts.nvml",
    "ctypes": "see dldoctor.facts.nvml",
}


def test_a_profile_of_a_script_that_ends_at_once_sets_up_no_sampling(tmp_path: Path) -> None:
    script = tmp_path / "first_line.py"
    script.write_text(FIRST_LINE)
    run = subprocess.run(
        [sys.executable, "-c", PROFILE_PROGRAM, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    ours = set(json.loads(run.stderr.strip().splitlines()[-1]))
    assert "dldoctor.profilers.analysis" in ours  # a run that profiled and reported
    assert _offending(ours, NOT_FOR_A_SCRIPT_THAT_ENDS_AT_ONCE) == {}


# `dldoctor profile`: what the script's start does not wait for (imported while it starts).
NOT_BEFORE_THE_LAUNCH = {
    "dldoctor.profilers.collector": "the events are read once the script runs; its pipe holds them",
    "dldoctor.profilers.trace": "see dldoctor.profilers.collector",
    "dldoctor.facts.host": "the host's facts (cores, NVML's library) are read meanwhile",
    "dldoctor.facts.nvml": "NVML is opened once the script has said hello",
    "dldoctor.profilers.gpu": "see dldoctor.facts.nvml",
    "dldoctor.profilers.sampler": "see dldoctor.facts.nvml",
    "psutil": "see dldoctor.facts.nvml",
    "dldoctor.profilers.analysis": "the report's modules are imported while the script runs",
}

LAUNCH_PROGRAM = """
import json, runpy, sys
from dldoctor.profilers import runner
start, seen = runner.start, []

def observed(*args, **kwargs):
    seen.append(sorted(sys.modules))
    return start(*args, **kwargs)

runner.start = observed
sys.argv = ["dldoctor", "profile", sys.argv[1]]
try:
    runpy.run_module("dldoctor", run_name="__main__")
except SystemExit:
    pass
print(json.dumps(seen[0]), file=sys.stderr)
"""


def test_a_profile_run_starts_the_script_before_importing_what_only_watching_it_needs(
    tmp_path: Path,
) -> None:
    script = tmp_path / "first_line.py"
    script.write_text(FIRST_LINE)
    run = subprocess.run(
        [sys.executable, "-c", LAUNCH_PROGRAM, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    at_launch = set(json.loads(run.stderr.strip().splitlines()[-1]))
    assert "dldoctor.profilers.session" in at_launch  # the launch of a profile run
    assert _offending(at_launch, NOT_BEFORE_THE_LAUNCH) == {}
