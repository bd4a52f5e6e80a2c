"""The regression corpus: real failures from public trackers as recorded reports, and their verdicts.

A case file (tests/cases/*.json) holds what its thread shows, sparsely: facts laid over
``_machine.json`` (a plain Linux machine with nothing installed), the finding its maintainers'
root cause must come out as, and the source. What a gatherer derives mechanically from those
facts (each framework's distributions, NVIDIA wheels and pins, `pip check`, GPU telemetry
defaults, the runtime record's empty fields) is derived here with dldoctor's own gatherer
functions, so a case stays what the thread said. See README.md beside this file.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dldoctor.facts import interpreter, interpreter_arguments
from dldoctor.facts.requirements import unsatisfied
from dldoctor.matrix import Matrix, load

JSON = dict[str, Any]
HERE = Path(__file__).resolve().parent
MACHINE = HERE / "_machine.json"
CASE_KEYS = {
    "title", "source", "root_cause", "platform", "expected", "not_shown", "facts", "xfail", "notes",
}  # fmt: skip
PLATFORMS = {"linux", "windows", "wsl", "macos", "container"}


@dataclass(frozen=True)
class Expected:
    """What the judged report must say: the top finding (any of `primary`), nothing in `must_not`."""

    primary: tuple[str, ...]
    must_not: tuple[str, ...] = ()
    also: tuple[str, ...] = ()  # other real problems the thread shows, each its own root cause
    mentions: tuple[str, ...] = ()  # words the top finding's fixes must contain
    healthy: bool = False


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    title: str
    source: str
    root_cause: str
    platform: str
    expected: Expected
    not_shown: tuple[str, ...]
    facts: JSON
    xfail: str | None = None
    data: JSON = field(default_factory=dict, repr=False)


def case_paths() -> list[Path]:
    return sorted(p for p in HERE.glob("*.json") if not p.name.startswith("_"))


def load_case(path: Path) -> Case:
    data = json.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - CASE_KEYS
    if unknown:
        raise ValueError(f"{path.name}: unknown keys {sorted(unknown)}")
    want = data["expected"]
    primary = want.get("primary") or ()
    expected = Expected(
        primary=(primary,) if isinstance(primary, str) else tuple(primary),
        must_not=tuple(want.get("must_not") or ()),
        also=tuple(want.get("also") or ()),
        mentions=tuple(want.get("mentions") or ()),
        healthy=bool(want.get("healthy")),
    )
    if expected.healthy == bool(expected.primary):
        raise ValueError(f"{path.name}: expected needs a primary code or healthy: true, not both")
    if data["platform"] not in PLATFORMS:
        raise ValueError(f"{path.name}: platform {data['platform']!r} not in {sorted(PLATFORMS)}")
    if not str(data["source"]).startswith("https://"):
        raise ValueError(f"{path.name}: source must be the thread's URL")
    return Case(
        name=path.stem,
        path=path,
        title=data["title"],
        source=data["source"],
        root_cause=data["root_cause"],
        platform=data["platform"],
        expected=expected,
        not_shown=tuple(data.get("not_shown") or ()),
        facts=data.get("facts") or {},
        xfail=data.get("xfail"),
        data=data,
    )


# ---- building the recorded report -------------------------------------------------------------


def merge(base: JSON, override: JSON) -> JSON:
    """Dicts merge key by key; anything else (lists included) is replaced."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


GPU_DEFAULTS: JSON = {
    "uuid": None,
    "pci_bus_id": None,
    "memory_used_bytes": None,
    "utilization_gpu_percent": None,
    "utilization_memory_percent": None,
    "temperature_c": None,
    "power_draw_w": None,
    "power_limit_w": None,
    "mig": {"current": False, "pending": False},
    "mig_device_count": 0,
    "mig_devices": [],
    "ecc": {"enabled": None, "volatile_uncorrected": None, "aggregate_uncorrected": None},
    "persistence_mode": None,
    "pcie": {"gen_current": None, "gen_max": None, "width_current": None, "width_max": None},
    "running_processes": None,
    "errors": {},
}


def _nvidia(facts: JSON) -> None:
    """A driver and GPUs as NVML answers them, from the few fields a thread shows."""
    nv = facts["nvidia"]
    gpus = nv.get("gpus") or []
    for index, gpu in enumerate(gpus):
        gpus[index] = merge(GPU_DEFAULTS, {"index": index, **gpu})
        gpus[index].setdefault("memory_total_bytes", None)
        gpus[index].setdefault("compute_capability", None)
    if nv.get("driver_version") and nv["nvml"].get("status") == "library_not_found":
        nv["nvml"] = {"status": "ok", "error": None, "error_code": None, "nvml_version": None}
        nv["proc_driver"] = {
            "text": None,
            "version": nv["driver_version"],
            "open_kernel_module": None,
            "error": None,
        }
        nv["kernel_module"] = {"loaded": True, "version": nv["driver_version"]}
    if nv.get("gpu_count") is None and nv["nvml"].get("status") == "ok":
        nv["gpu_count"] = len(gpus)
    pci = facts["accelerators"]["pci"]
    if gpus and not pci["nvidia"] and not facts["system"]["wsl"]["is_wsl"]:
        loaded = nv["nvml"].get("status") == "ok"
        pci["nvidia"] = [
            {
                "address": f"0000:{index + 1:02x}:00.0",
                "device_id": None,
                "class": "0x030000",
                "driver": "nvidia" if loaded else None,
            }
            for index in range(len(gpus))
        ]


def _site_packages(python: JSON) -> str:
    prefix = str(python.get("prefix") or "/usr")
    if str(python.get("marker_environment", {}).get("sys_platform")) == "win32":
        return prefix.rstrip("\\/") + "\\Lib\\site-packages"
    return f"{prefix}/lib/python{python['marker_environment']['python_version']}/site-packages"


def _packages(facts: JSON, matrix: Matrix) -> None:
    """What the interpreter gatherer derives from the installed distributions."""
    packages, python = facts["packages"], facts["python"]
    where = _site_packages(python)
    dists = []
    for dist in packages.get("distributions") or []:
        full = {
            "location": where,
            "installer": "pip",
            "requires": [],
            "top_level": [],
            "metadata_error": None,
            **dist,
        }
        dists.append(full)
    packages["distributions"] = dists
    args = interpreter_arguments(matrix)
    given = packages.get("frameworks") or {}
    grouped = interpreter.grouped(dists, args["interesting"])
    for key, group in grouped.items():  # each build is what the case says its build file says
        group.pop("providers")
        group["build"] = interpreter.jax_build(dists, args["interesting"]) if key == "jax" else {}
        group["build"] = merge(group["build"], (given.get(key) or {}).get("build") or {})
    packages["frameworks"] = grouped
    is_nvidia = interpreter.nvidia_matcher(args["nvidia_prefixes"], args["nvidia_exclude"])
    packages["nvidia_wheels"] = interpreter.nvidia_wheels(dists, is_nvidia)
    packages["nvidia_pins"] = interpreter.nvidia_pins(dists, is_nvidia)
    packages["duplicates"] = interpreter.duplicates(dists)
    packages["unsatisfied"] = unsatisfied(packages, python.get("marker_environment") or {})
    facts["cuda"]["pip_libraries"] = packages["nvidia_wheels"]


RECORD: JSON = {
    "status": "pass",
    "reason": "",
    "duration_s": 1.0,
    "companions": {},
    "info": {},
    "info_errors": {},
    "devices": [{"id": "cpu", "kind": "cpu"}],
    "smoke": [],
    "libraries": [],
    "warnings": [],
    "output": [],
    "during": None,
    "probe_error": None,
    "process": {"exit_code": 0, "signal": None, "timed_out": False, "output_tail": []},
}


def _runtime(facts: JSON) -> None:
    """The probe section: each framework's record filled in around what the thread showed."""
    runtime = facts.get("runtime")
    if not runtime:
        facts["runtime"] = {"ran": False, "reason": "the thread shows no framework's own words"}
        return
    runtime.setdefault("ran", True)
    runtime.setdefault("mode", "quick")
    runtime.setdefault("timeout_s", 60.0)
    runtime.setdefault("memory_limit_bytes", None)
    for key, record in (runtime.get("frameworks") or {}).items():
        full = merge(RECORD, record)
        imported = full.get("import") or {}
        module = {"tensorflow": "tensorflow", "paddle": "paddle"}.get(key, key)
        error = imported.get("error")
        full["import"] = {
            "module": module,
            "ok": error is None,
            "version": None,
            "error": None,
            "warnings": [],
            "output": [],
            **imported,
        }
        for smoke in full["smoke"]:
            smoke.setdefault("error", None)
        runtime["frameworks"][key] = full


def facts_of(case: Case, matrix: Matrix) -> JSON:
    base = json.loads(MACHINE.read_text(encoding="utf-8"))
    facts = merge(base, case.facts)
    _nvidia(facts)
    _packages(facts, matrix)
    _runtime(facts)
    return facts


def report_of(case: Case, matrix: Matrix) -> JSON:
    """The recorded report `dldoctor check --from` reads, as that machine would have written it."""
    return {
        "schema_version": "1.0",
        "dldoctor_version": "0",
        "command": "dldoctor check",
        "created": "2026-01-01T00:00:00+00:00",
        "duration_s": 1.0,
        "redacted": False,
        "summary": {"errors": 0, "warnings": 0, "infos": 0, "checks_crashed": 0},
        "facts": facts_of(case, matrix),
        "findings": [],
        "checks": [],
    }


# ---- judging ------------------------------------------------------------------------------------


def judge(
    case: Case, matrix: Matrix, workdir: Path, subprocess_run: bool = False
) -> tuple[int, JSON]:
    """Exit code and JSON report of `dldoctor check --from <report> --format json`: the real
    command line, in this process or, with ``subprocess_run``, in a child."""
    path = workdir / f"{case.name}.report.json"
    path.write_text(json.dumps(report_of(case, matrix), indent=1), encoding="utf-8")
    argv = ["check", "--from", str(path), "--format", "json"]
    if subprocess_run:
        env = {**os.environ, "PYTHONPATH": str(HERE.parents[1])}
        result = subprocess.run(
            [sys.executable, "-m", "dldoctor", *argv],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        code, out, err = result.returncode, result.stdout, result.stderr
    else:
        code, out, err = _in_process(argv)
    if code not in (0, 1):
        raise AssertionError(f"{case.name}: exit {code}: {err.strip()}")
    return code, json.loads(out)


def _in_process(argv: list[str]) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of the command line run in this process."""
    import contextlib
    import io

    from dldoctor.cli import app

    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            app(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def primary_code(report: JSON) -> str | None:
    """The report's primary diagnosis where it has one, else its first error, else first warning."""
    diagnosis = report.get("diagnosis")
    if isinstance(diagnosis, dict) and "primary" in diagnosis:
        primary = diagnosis["primary"]
        return str(primary["code"]) if isinstance(primary, dict) else None
    for severity in ("error", "warning"):
        for finding in report.get("findings") or []:
            if finding.get("severity") == severity:
                return str(finding["code"])
    return None


def top_finding(report: JSON, code: str | None) -> JSON:
    for finding in report.get("findings") or []:
        if finding.get("code") == code:
            return dict(finding)
    return {}


def finding_text(finding: JSON) -> str:
    """What the finding tells the user to do: each fix's words and commands (a title may only
    quote the framework's error, which names no cause)."""
    parts = []
    for fix in finding.get("fixes") or []:
        parts += [str(fix.get("summary") or ""), str(fix.get("notes") or "")]
        parts += [
            " ".join(map(str, c)) if isinstance(c, list) else str(c)
            for c in fix.get("commands") or []
        ]
    return "\n".join(parts)


def codes(report: JSON, *severities: str) -> list[str]:
    return [
        str(f["code"])
        for f in report.get("findings") or []
        if not severities or f.get("severity") in severities
    ]


@dataclass(frozen=True)
class Verdict:
    """How the judged report compares with what the maintainers established."""

    top: str | None
    top_ok: bool
    false_claims: tuple[str, ...]  # must_not codes present; on a healthy machine any warning/error
    extra_errors: int  # errors beyond one per root cause (primary + also)
    findings: int

    @property
    def ok(self) -> bool:
        return self.top_ok and not self.false_claims and self.extra_errors == 0


def verdict(case: Case, report: JSON) -> Verdict:
    found = codes(report, "error", "warning")
    errors = codes(report, "error")
    want = case.expected
    if want.healthy:
        return Verdict(primary_code(report), not found, tuple(found), 0, len(found))
    top = primary_code(report)
    text = finding_text(top_finding(report, top)).lower()
    named = all(word.lower() in text for word in want.mentions)
    claims = tuple(c for c in found if c in want.must_not)
    allowed = 1 + len(want.also)
    return Verdict(
        top, top in want.primary and named, claims, max(0, len(errors) - allowed), len(found)
    )


def all_cases() -> list[Case]:
    return [load_case(p) for p in case_paths()]


def matrix() -> Matrix:
    return load()
