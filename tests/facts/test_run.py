"""run_command: bounded output, a timeout that kills, and nothing left behind."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from dldoctor.facts import reaper
from dldoctor.facts.run import OUTPUT_LIMIT_BYTES, run_command
from tests.fakes import procs


def sh(body: str) -> list[str]:
    return ["/bin/sh", "-c", body]


def test_output_exit_code_and_both_streams_are_kept():
    result = run_command(sh("echo out; echo err >&2; exit 3"))
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.ok and not result.timed_out and not result.truncated
    assert result.describe_failure() == "sh exited with code 3: err"


def test_a_command_that_prints_forever_is_cut_at_the_limit_and_stopped():
    result = run_command(["yes", "garbage"], timeout_s=60)
    assert result.truncated and not result.ok
    assert len(result.stdout) == OUTPUT_LIMIT_BYTES
    assert result.stdout.startswith("garbage\ngarbage\n")
    assert "printed more than 4 MiB" in result.describe_failure()


@pytest.mark.parametrize(
    ("size", "truncated"), [(1000 - 1, False), (1000, False), (1000 + 1, True)]
)
def test_the_limit_is_exact(size, truncated):
    result = run_command(sh(f"head -c {size} /dev/zero"), limit_bytes=1000)
    assert result.truncated is truncated
    assert len(result.stdout) == min(size, 1000)


def test_a_hung_command_is_killed_at_its_timeout_and_says_how_long_it_had():
    result = run_command(sh("exec sleep 600"), timeout_s=0.5)
    assert result.timed_out and result.returncode is None
    assert result.describe_failure() == "sh did not answer within its 0.5 s timeout and was killed"


def test_a_command_that_cannot_start_is_an_error_not_an_exception(tmp_path: Path):
    result = run_command([str(tmp_path / "missing")])
    assert result.error == "No such file or directory" and result.returncode is None


@pytest.mark.parametrize("keep_stdio", [True, False], ids=["holding-pipes", "detached"])
def test_a_sleeper_that_left_the_session_is_killed(tmp_path: Path, keep_stdio: bool):
    """setsid takes it out of the group killpg reaches; the token in its environment finds it
    (when it let go of the pipes, at the sweep the command line makes at its end)."""
    pidfile = tmp_path / "pid"
    result = run_command(sh(procs.escapee(pidfile, keep_stdio) + "echo started"), timeout_s=30)
    pid = procs.wait_for_pid(pidfile)
    try:
        assert result.stdout == "started\n"
        if not keep_stdio:
            assert procs.alive(pid)  # nothing showed it stayed: the end-of-run sweep's job
            reaper.sweep()
        assert procs.gone(pid)
    finally:
        procs.kill(pid)


def test_the_sweep_spares_what_dldoctor_did_not_start(tmp_path: Path):
    import subprocess

    stranger = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        run_command(sh("true"))
        reaper.sweep()
        assert procs.alive(stranger.pid)
    finally:
        stranger.kill()
        stranger.wait()


def test_a_sleeper_whose_environment_is_large_is_found_by_its_mark(tmp_path: Path):
    """The mark comes after the inherited variables: past the first piece /proc is read in."""
    import os

    pidfile = tmp_path / "pid"
    big = {"DLDOCTOR_TEST_PAD_A": "a" * 100_000, "DLDOCTOR_TEST_PAD_B": "b" * 100_000}
    env = {**os.environ, **big}
    run_command(sh(procs.escapee(pidfile, False) + "echo started"), timeout_s=30, env=env)
    pid = procs.wait_for_pid(pidfile)
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read()
        assert environ.index(reaper.TOKEN_VAR.encode()) > 2 * reaper._CHUNK
        assert procs.alive(pid)
        reaper.sweep()
        assert procs.gone(pid)
    finally:
        procs.kill(pid)


@pytest.mark.parametrize("exit_fd", ["pidfd", "none"])
def test_a_command_that_lingers_after_closing_its_pipes_ends_at_its_exit(monkeypatch, exit_fd):
    """Its pipes' EOF comes before its exit (here 0.3 s of teardown): the result is taken at the
    exit, not a poll later, and what it wrote before is kept."""
    from dldoctor.facts import run

    if exit_fd == "pidfd":
        monkeypatch.setattr(run, "_POLL_S", 30.0)  # a poll, made obvious: 6 s naps before
    else:  # no pidfd (macOS, Linux < 5.3): naps of a fifth of the poll, as before
        monkeypatch.setattr(run.reaper, "exit_fd", lambda pid: None)
    code = "import os, time; os.write(1, b'said'); os.close(1); os.close(2); time.sleep(0.3)"
    started = time.monotonic()
    result = run_command([sys.executable, "-c", code], timeout_s=60)
    assert result.stdout == "said" and result.returncode == 0 and not result.timed_out
    assert time.monotonic() - started < 5
