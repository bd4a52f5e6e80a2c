"""The script runs as `python SCRIPT` would, and however it ends, the report is written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from tests.profilers.helpers import SCRIPTS, codes, profile, read_report, start

PLAIN = str(SCRIPTS / "plain.py")


def _plain_run(*args: str, cwd=None, stdin: str = "") -> dict:
    result = subprocess.run(
        [sys.executable, *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=60
    )
    return json.loads(result.stdout.splitlines()[0])


def test_argv_path_main_cwd_env_and_stdin_are_those_of_a_plain_run(tmp_path):
    plain = _plain_run(PLAIN, "--stdin", "a b", "-x", cwd=tmp_path, stdin="hello\n")
    result, report = profile(tmp_path, PLAIN, "--stdin", "a b", "-x", cwd=tmp_path, stdin="hello\n")
    profiled = json.loads(result.stdout.splitlines()[0])
    # What descendants need to be profiled too (ranks a launcher starts) and to be ended if
    # dldoctor must stop the run: two variables, and PYTHONPATH; sys.path is untouched.
    assert plain.pop("dldoctor_env") == []
    assert profiled.pop("dldoctor_env") == ["DLDOCTOR_CHILD", "DLDOCTOR_PROFILE_TREE"]
    assert profiled == plain
    assert profiled["stdin"] == "hello" and profiled["sitecustomize"] is None
    assert profiled["frameworks_loaded"] == []
    assert report["profile"]["target"] == {
        "kind": "script",
        "name": PLAIN,
        "args": ["--stdin", "a b", "-x"],
    }


def test_dash_m_runs_a_module_like_python_dash_m(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tool.py").write_text((SCRIPTS / "plain.py").read_text())
    plain = _plain_run("-m", "pkg.tool", "x", cwd=tmp_path)
    result, report = profile(tmp_path, "-m", "pkg.tool", "x", cwd=tmp_path)
    profiled = json.loads(result.stdout.splitlines()[0])
    assert profiled.pop("dldoctor_env") != plain.pop("dldoctor_env") == []  # see above
    assert profiled == plain
    assert plain["argv"][0].endswith("tool.py") and plain["path0"] == str(tmp_path)
    assert report["profile"]["target"]["kind"] == "module"


def test_a_script_that_never_touches_a_framework_gets_no_verdict_and_exit_0(tmp_path):
    result, report = profile(tmp_path, PLAIN)
    assert result.returncode == 0
    assert report["profile"]["verdict"]["class"] == "unknown"
    assert report["profile"]["frameworks"] == []
    assert "DD709" in codes(report)
    assert report["profile"]["exit"]["status"] == "completed"


def test_the_scripts_exit_code_becomes_dldoctors(tmp_path):
    result, report = profile(tmp_path, PLAIN, "--exit", "3")
    assert result.returncode == 3
    assert report["profile"]["exit"]["returncode"] == 3
    assert report["summary"]["exit_code"] == 3
    assert "DD710" in codes(report)


def test_a_script_that_raises_keeps_its_traceback_and_its_report(tmp_path):
    result, report = profile(tmp_path, PLAIN, "--steps", "12", "--step-ms", "5", "--raise")
    assert result.returncode == 1
    ended = report["profile"]["exit"]
    assert ended["status"] == "failed" and ended["exception"] == "ValueError: plain failure"
    assert report["profile"]["steps"]["count"] == 11  # 12 marks
    traceback = result.stderr[result.stderr.index("Traceback") :]
    assert traceback.splitlines()[1].strip().startswith(f'File "{PLAIN}"')  # no dldoctor frames
    assert "runpy" not in traceback and "bootstrap" not in traceback


def test_a_script_killed_by_a_signal_exits_128_plus_n_with_its_report(tmp_path):
    result, report = profile(tmp_path, PLAIN, "--steps", "12", "--step-ms", "5", "--kill")
    assert result.returncode == 128 + signal.SIGKILL
    ended = report["profile"]["exit"]
    assert ended["status"] == "killed" and ended["signal"] == "SIGKILL"


def test_steps_stops_the_script_cleanly_after_n_steps(tmp_path):
    result, report = profile(tmp_path, "--steps", "15", PLAIN, "--forever", "--step-ms", "5")
    assert result.returncode == 0
    p = report["profile"]
    assert p["steps"]["count"] == 15
    assert p["exit"]["stopped_by"] == "steps" and p["exit"]["status"] == "stopped"
    assert "signals_sent" not in p["exit"]  # it stopped itself; dldoctor sent nothing


def test_duration_stops_the_script_cleanly(tmp_path):
    result, report = profile(tmp_path, "--duration", "1.5", PLAIN, "--forever", "--step-ms", "10")
    assert result.returncode == 0
    p = report["profile"]
    assert p["exit"]["stopped_by"] == "duration"
    assert 0.5 < p["wall_s"] < 10
    assert p["steps"]["count"] >= 10


def test_ctrl_c_sent_to_dldoctor_reaches_the_script_and_the_report_is_written(tmp_path):
    proc, report_path = start(tmp_path, PLAIN, "--forever", "--step-ms", "10")
    assert proc.stdout is not None
    while "TRAINING" not in proc.stdout.readline():
        pass
    proc.send_signal(signal.SIGINT)  # dldoctor alone, as `kill -INT` does
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, stderr
    assert "KeyboardInterrupt" in stderr
    report = read_report(report_path)
    ended = report["profile"]["exit"]
    assert ended["status"] == "interrupted" and ended["signals_received"] == ["SIGINT"]
    assert report["profile"]["steps"]["count"] >= 2


def test_fail_if_with_a_bad_condition_is_a_usage_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dldoctor", "profile", "--fail-if", "speed>3", PLAIN],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--fail-if 'speed>3'" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_script_is_a_usage_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dldoctor", "profile", str(tmp_path / "nope.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "can't open file" in result.stderr


def test_ctrl_c_at_a_terminal_reaches_the_script_once(tmp_path):
    """The terminal sends SIGINT to the whole foreground group: dldoctor must not add a second."""
    import fcntl
    import os
    import pty
    import termios

    from tests.profilers.helpers import command

    master, slave = pty.openpty()

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    report_path = tmp_path / "report.json"
    proc = subprocess.Popen(
        command(report_path, PLAIN, "--forever", "--step-ms", "10"),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=controlling_terminal,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    os.close(slave)
    seen = b""
    while b"TRAINING" not in seen:
        seen += os.read(master, 4096)
    os.write(master, b"\x03")  # Ctrl-C, as typed
    while proc.poll() is None:  # keep draining the terminal so nothing blocks on output
        try:
            os.read(master, 4096)
        except OSError:
            break
    proc.wait(timeout=60)
    os.close(master)
    assert proc.returncode == 128 + signal.SIGINT
    ended = read_report(report_path)["profile"]["exit"]
    assert ended["signals_received"] == ["SIGINT (from the terminal)"]
    assert ended["status"] == "interrupted"


def test_dldoctor_itself_imports_no_framework(tmp_path):
    code = (
        "import json, runpy, sys\n"
        f"sys.argv = ['dldoctor', 'profile', {str(SCRIPTS / 'train_torch.py')!r}, '--items', '96']\n"
        "try:\n    runpy.run_module('dldoctor', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "frameworks = ('torch', 'tensorflow', 'paddle', 'jax', 'keras')\n"
        "print(json.dumps([m for m in frameworks if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert json.loads(result.stdout.splitlines()[-1]) == []
    assert "Input-bound" in result.stderr  # the child did import torch, and was profiled


def test_step_is_a_no_op_outside_a_profile():
    import dldoctor

    assert dldoctor.step() is None


def _python(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_a_module_that_cannot_be_found_is_pythons_one_line_and_exit_code(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    for name in ("no_such_module_xyz", "no_such_pkg.sub", "pkg"):  # pkg: no __main__
        plain = _python("-m", name, cwd=tmp_path)
        result, report = profile(tmp_path, "-m", name, cwd=tmp_path)
        assert plain.returncode == 1 and result.returncode == plain.returncode
        assert result.stderr == plain.stderr and len(plain.stderr.splitlines()) == 1, name
        assert report["profile"]["exit"]["not_started"] == plain.stderr.strip()
        assert report["findings"] == [] and report["summary"]["exit_code"] == 1


def test_a_module_whose_own_import_fails_keeps_its_traceback_and_summary(tmp_path):
    (tmp_path / "broken.py").write_text("import no_such_dependency_xyz\n")
    result, report = profile(tmp_path, "-m", "broken", cwd=tmp_path)
    assert result.returncode == 1
    assert "not_started" not in report["profile"]["exit"]
    assert report["profile"]["exit"]["exception"].startswith("ModuleNotFoundError")
    frames = [ln for ln in result.stderr.splitlines() if ln.startswith("  File ")]
    assert frames == [f'  File "{tmp_path / "broken.py"}", line 1, in <module>']
    assert "dldoctor profile" in result.stderr  # the summary follows


def test_a_syntax_error_prints_as_python_prints_it(tmp_path):
    script = tmp_path / "bad.py"
    script.write_text("x = (\n")
    plain = _python(str(script), cwd=tmp_path)
    result, report = profile(tmp_path, str(script), cwd=tmp_path)
    assert result.returncode == plain.returncode == 1
    assert result.stderr.startswith(plain.stderr)  # no bootstrap or runpy frames before it
    assert "Traceback" not in result.stderr and "bootstrap" not in result.stderr
    assert report["profile"]["exit"]["exception"].startswith("SyntaxError")


def test_a_python_the_script_starts_is_measured_and_its_own_sitecustomize_still_runs(tmp_path):
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "sitecustomize.py").write_text("import os\nos.environ['USER_SITE_RAN'] = '1'\n")
    launcher = tmp_path / "launch.py"
    launcher.write_text(
        "import os, subprocess, sys\n"
        "print('launcher', os.environ.get('USER_SITE_RAN'), flush=True)\n"
        f"sys.exit(subprocess.run([sys.executable, {PLAIN!r}, '--steps', '12', '--step-ms', '5'])"
        ".returncode)\n"
    )
    env_path = f"{site_dir}:{os.environ.get('PYTHONPATH', '')}"
    result = subprocess.run(
        [sys.executable, "-m", "dldoctor", "profile", "--json", str(tmp_path / "r.json"),
         str(launcher)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": env_path},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "launcher 1"  # the user's sitecustomize ran
    child = json.loads(result.stdout.splitlines()[1])
    assert child["sitecustomize"] == str(site_dir / "sitecustomize.py")
    assert str(site_dir) in child["path"] and not any(
        "dldoctor-profile" in p for p in child["path"]
    )
    p = read_report(tmp_path / "r.json")["profile"]
    assert p["steps"]["count"] == 11 and p["steps"]["source"] == "step()"  # 12 marks
    (rank,) = p["ranks"]
    assert rank["pid"] == p["steps"]["pid"] and p["slowest_rank"] is None


def test_a_warning_raised_through_a_dldoctor_wrapper_points_at_the_scripts_line(tmp_path):
    script = tmp_path / "warn.py"
    script.write_text(
        "import warnings\nimport torch\nfrom torch import nn\n\n\n"
        "class Noisy(nn.Module):\n"
        "    def forward(self, x):  # its caller's caller's caller: Module.__call__'s caller\n"
        "        warnings.warn('noisy forward', UserWarning, stacklevel=4)\n"
        "        return x\n\n\n"
        "Noisy()(torch.zeros(1))\n"
    )
    plain = _python(str(script), cwd=tmp_path)
    result, _ = profile(tmp_path, str(script), cwd=tmp_path)
    assert plain.stderr.startswith(f"{script}:12: UserWarning: noisy forward")
    assert result.stderr.startswith(plain.stderr)  # not a dldoctor file


def test_a_script_compiles_as_python_compiles_it_its_coding_and_no_future_of_ours(tmp_path):
    """The script's own coding cookie is read, and the bootstrap's `from __future__ import
    annotations` does not leak into it: an annotation naming nothing fails as in a plain run."""
    script = tmp_path / "coded.py"
    script.write_bytes(
        b"# -*- coding: latin-1 -*-\nprint(repr('\xe9'), __name__, bool(__annotations__) is False)\n"
        b"def f(x: no_such_name) -> None: ...\n"
    )
    plain = _python(str(script), cwd=tmp_path)
    result, _ = profile(tmp_path, str(script), cwd=tmp_path)
    assert plain.stdout == result.stdout == "'é' __main__ True\n"
    assert plain.returncode == result.returncode == 1
    assert "NameError: name 'no_such_name' is not defined" in result.stderr
