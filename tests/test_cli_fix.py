"""`dldoctor fix` as a user (or an attacker's report) runs it: the right environment, no shell.

Issue 10, items 1 (the wrong environment), 2 (a report that runs code), 5 (escape sequences in
the plan), 8 (a live fix without the runtime findings) and 13 (--apply with stdin closed).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pty
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dldoctor.checks.registry import run_checks
from dldoctor.document.report import Report
from dldoctor.document.upgrade import upgrade_facts
from dldoctor.facts.model import Facts
from dldoctor.matrix import load
from tests.probes.fakes import dist_info, package

FACTS = Path(__file__).resolve().parent / "data" / "facts"
ESCAPES = ("\x1b", "\r", "\x08", "\x9b", "\u202e")


def dldoctor(
    *args: str, env: dict[str, str] | None = None, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dldoctor", *args],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=stdin,
        env={**os.environ, **(env or {})},
    )


def report_file(path: Path, facts_doc: dict) -> Path:
    facts = Facts.from_dict(facts_doc)
    report = Report(
        "dldoctor check", "2026-11-23T00:00:00+00:00", 0.2, facts, tuple(run_checks(facts, load()))
    )
    path.write_text(json.dumps(report.to_dict()))
    return path


def h100_facts() -> dict:
    """The recorded facts, written under schema 1.0, read as today's reports write them."""
    return upgrade_facts(json.loads((FACTS / "h100_cpu_stack.json").read_text()), "1.0")


def test_a_foreign_reports_plan_is_shown_with_its_interpreter_and_runs_nothing(tmp_path):
    result = dldoctor(
        "fix", "--from", str(report_file(tmp_path / "r.json", h100_facts())), "--dry-run"
    )
    assert result.returncode == 1
    assert (
        "$ /work/venv/bin/python -m pip install torch==2.13.0+cu130 "
        "--index-url https://download.pytorch.org/whl/cu130" in result.stdout
    )
    assert "[DD201]" in result.stdout
    assert result.stdout.rstrip().endswith(
        "Dry run: nothing was run. (--apply would run the automatic steps)"
    )


def test_apply_of_a_report_from_another_machine_refuses_in_one_line(tmp_path):
    report = report_file(tmp_path / "r.json", h100_facts())  # /work/venv/bin/python: not here
    result = dldoctor("fix", "--from", str(report), "--apply", "--yes")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dldoctor: error: --apply fixes only the interpreter judged here, and the report's "
        f"interpreter /work/venv/bin/python does not exist here ({sys.executable})"
    ]
    assert "Traceback" not in result.stdout + result.stderr


def crafted(tmp_path: Path, marker: Path, python: str) -> dict:
    """A report built to run code: shell syntax and screen-hiding codes in every string it holds."""
    doc = h100_facts()
    hide = "\r\x1b[2K\x1b]0;title\x07\x1b]52;c;ZXZpbA==\x07\u202e"
    doc["python"]["command"] = f"{python}{hide}; touch {marker} #"
    doc["python"]["executable"] = f"$(touch {marker})"
    doc["packages"]["module_conflicts"] = [
        {
            "module": f"cv2{hide}ok",
            "distributions": [f"opencv-python; touch {marker}", f"$(touch {marker})"],
            "shared_files": 3,
        }
    ]
    return doc


def test_a_crafted_report_shows_a_clean_plan_and_creates_nothing(tmp_path):
    marker = tmp_path / "pwned"
    report = report_file(tmp_path / "r.json", crafted(tmp_path, marker, "/usr/bin/python3"))
    shown = dldoctor("fix", "--from", str(report))
    assert shown.returncode == 1
    assert not any(c in shown.stdout for c in ESCAPES)
    # The hidden text is visible, and the interpreter string is one quoted argument.
    assert (
        f"$ '/usr/bin/python3\ufffd\ufffd; touch {marker} #' -m pip uninstall -y tensorflow-cpu"
        in shown.stdout
    )
    # The clash's names are not plain distribution names: its step has no command at all, and
    # the only commands holding "touch" hold it inside the one quoted interpreter argument.
    lines = shown.stdout.splitlines()
    clash = [n for n, ln in enumerate(lines) if "[DD302]" in ln]  # its removal, its reinstall
    assert len(clash) == 2
    for n in clash:
        assert "(by hand" in lines[n] and not lines[n + 1].lstrip().startswith("$")
    commands = [ln.strip() for ln in lines if ln.strip().startswith("$ ")]
    assert all(ln.startswith("$ '/usr/bin/python3") for ln in commands if "touch" in ln)
    applied = dldoctor("fix", "--from", str(report), "--apply", "--yes")
    assert applied.returncode == 2 and "does not exist here" in applied.stderr
    assert len(applied.stderr.strip().splitlines()) == 1
    assert not any(c in applied.stderr for c in ESCAPES)
    assert not marker.exists()


def test_apply_with_stdin_not_a_terminal_or_closed_is_one_line_and_exit_2(tmp_path):
    report = str(report_file(tmp_path / "r.json", h100_facts()))
    for stdin in (subprocess.DEVNULL, None):
        if stdin is None:  # closed altogether: `dldoctor fix --apply <&-`
            result = subprocess.run(
                [
                    "bash",
                    "-c",
                    'exec 0<&-; exec "$0" -m dldoctor fix --from "$1" --apply',
                    sys.executable,
                    report,
                ],
                capture_output=True,
                text=True,
                timeout=180,
            )
        else:
            result = dldoctor("fix", "--from", report, "--apply", stdin=stdin)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            "dldoctor: error: --apply asks before it runs anything, and stdin is not a terminal: add --yes"
        ]


def test_apply_asks_on_a_terminal_and_a_no_runs_nothing(tmp_path):
    doc = h100_facts()
    doc["python"].update(command=sys.executable, executable=sys.executable, prefix=sys.prefix)
    report = report_file(tmp_path / "r.json", doc)  # this interpreter's own report
    parent, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dldoctor", "fix", "--from", str(report), "--apply"],
        stdin=child,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(child)
    os.write(parent, b"n\n")
    out, err = proc.communicate(timeout=180)
    os.close(parent)
    assert proc.returncode == 1, err
    assert "Run the 8 automatic step(s) now?" in out
    assert out.rstrip().endswith("Nothing was run.")


def test_without_python_the_plan_names_the_interpreter_dldoctor_runs_in(tmp_path):
    """Issue 10 item 1: `.venv/bin/dldoctor fix`, venv not activated, PATH's python elsewhere."""
    site = tmp_path / "site"
    dist_info(site, "torchvision", "0.23.0", requires=("torch==2.8.0",))  # built for another torch
    trap = tmp_path / "bin"
    trap.mkdir()
    (trap / "python").write_text("#!/bin/sh\nexit 1\n")
    (trap / "python").chmod(0o755)
    env = {"PATH": f"{trap}:{os.environ['PATH']}", "PYTHONPATH": str(site)}
    result = dldoctor("fix", "--quick", env=env)
    commands = [ln.strip() for ln in result.stdout.splitlines() if ln.strip().startswith("$ ")]
    assert f"$ {sys.executable} -m pip install 'torchvision==0.28.*' " in "\n".join(commands)
    assert all(not ln.startswith(("$ python ", "$ pip ")) for ln in commands)


# ---- a real throwaway venv, judged with --python ----------------------------------------------


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A real pure-Python wheel, so that pip installs it offline (--no-index --find-links)."""
    info = f"{name.replace('-', '_')}-{version}.dist-info"
    contents = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [f"{p},{_hash(t.encode())},{len(t.encode())}" for p, t in contents.items()]
    path = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for p, t in contents.items():
            archive.writestr(p, t)
        archive.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    return path


PURELIB = "import sysconfig; print(sysconfig.get_path('purelib'))"


def installed_clash(site: Path, name: str, module: str = "fakeclash") -> None:
    """A distribution as pip leaves it, installing ``module`` (its one file shared by both)."""
    dist_info(site, name, "1.0")
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    (info / "top_level.txt").write_text(f"{module}\n")
    (site / module).mkdir(exist_ok=True)
    (site / module / "core.py").write_text(f"WHO = {name!r}\n")
    files = [
        f"{module}/core.py",
        *(f"{info.name}/{f}" for f in ("METADATA", "INSTALLER", "top_level.txt")),
    ]
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in [*files, f"{info.name}/RECORD"]))


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("judged") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    return root


def test_apply_acts_on_the_judged_venv_and_never_on_paths_python(venv, tmp_path):
    python = venv / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True
        ).strip()
    )
    installed_clash(site, "fakeclash")
    installed_clash(site, "fakeclash-cpu")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel(wheels, "fakeclash-cpu", "1.0", {"fakeclash/core.py": "WHO = 'wheel'\n"})
    # A `python` and a `pip` first on PATH that would betray being run.
    trap, betrayed = tmp_path / "bin", tmp_path / "path-python-ran"
    trap.mkdir()
    for tool in ("python", "python3", "pip"):
        (trap / tool).write_text(f'#!/bin/sh\necho "$0 $*" >> {betrayed}\nexit 1\n')
        (trap / tool).chmod(0o755)
    env = {
        "PATH": f"{trap}:{os.environ['PATH']}",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    result = dldoctor("fix", "--python", str(python), "--quick", "--apply", "--yes", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"$ {python} -m pip uninstall -y fakeclash fakeclash-cpu" in result.stdout
    assert f"$ {python} -m pip install fakeclash-cpu==1.0" in result.stdout
    assert not betrayed.exists()
    left = subprocess.check_output(
        [
            str(python),
            "-c",
            "import importlib.metadata as m, fakeclash.core as c; "
            "print(sorted(d.metadata['Name'] for d in m.distributions() if 'fakeclash' in d.metadata['Name']), c.WHO)",
        ],
        text=True,
    )
    assert left.strip() == "['fakeclash-cpu'] wheel"  # the other one gone, the kept one reinstalled
    again = dldoctor("fix", "--python", str(python), "--quick", env=env)
    assert "DD302" not in again.stdout


def test_a_report_of_the_judged_venv_applies_and_a_lookalike_prefix_refuses(venv, tmp_path):
    python = str(venv / "bin" / "python")
    site = Path(subprocess.check_output([python, "-c", PURELIB], text=True).strip())
    installed_clash(site, "otherclash", module="otherclash")
    installed_clash(site, "otherclash-cpu", module="otherclash")
    wheel(tmp_path, "otherclash-cpu", "1.0", {"otherclash/core.py": "WHO = 'wheel'\n"})
    env = {
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(tmp_path),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    check = dldoctor("check", "--python", python, "--quick", "--format", "json")
    doc = json.loads(check.stdout)["facts"]
    lookalike = json.loads(json.dumps(doc))
    lookalike["python"]["prefix"] = "/"  # the same interpreter, but conda would be sent to /
    other = report_file(tmp_path / "other.json", lookalike)
    refused = dldoctor("fix", "--from", str(other), "--python", python, "--apply", "--yes", env=env)
    assert refused.returncode == 2
    assert f"the report's environment / is not this interpreter's ({venv})" in refused.stderr
    same = report_file(tmp_path / "same.json", doc)
    assert (
        dldoctor("fix", "--from", str(same), "--apply", "--yes", env=env).returncode == 2
    )  # not --python's
    ok = dldoctor("fix", "--from", str(same), "--python", python, "--apply", "--yes", env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"$ {python} -m pip uninstall -y otherclash otherclash-cpu" in ok.stdout


# ---- a live fix plans from what check sees, runtime probes included ---------------------------


def test_a_live_fix_includes_the_runtime_findings_check_shows(tmp_path):
    site = tmp_path / "site"
    package(site, "jax", "raise ImportError('libfake.so.1: cannot open shared object file')\n")
    dist_info(site, "jax", "0.4.30")
    dist_info(site, "jaxlib", "0.4.30")
    env = {"PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    check = dldoctor("check", "--framework", "jax", "--timeout", "30", "--format", "json", env=env)
    report = json.loads(check.stdout)
    seen = {
        f["code"]
        for f in report["findings"]
        if f["severity"] in ("warning", "error") and f["fixes"]
    }
    runtime = {c for c in seen if c.startswith("DD6")}
    assert runtime, check.stdout
    fix = dldoctor("fix", "--framework", "jax", "--timeout", "30", env=env)
    planned = {
        ln.split("[", 1)[1].split("]", 1)[0] for ln in fix.stdout.splitlines() if "[DD" in ln
    }
    assert runtime <= planned
    quick = dldoctor("fix", "--quick", env=env)
    assert not any("[DD6" in ln for ln in quick.stdout.splitlines())
