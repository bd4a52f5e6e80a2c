"""The isolated runner with small real children: channel, crashes, timeouts, process groups."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time

import psutil
import pytest

from dldoctor.probes.runner import run_child

# A child speaks on the fd in its JSON arguments, as the real harness does.
PRELUDE = """\
import json, os, subprocess, sys, time
ARGS = json.loads(open(sys.argv[1], encoding="utf-8").read())
def send(message):
    os.write(ARGS["channel_fd"], (json.dumps(message) + "\\n").encode())
"""


def child(body: str, timeout_s: float = 20, **kwargs):
    source = PRELUDE + textwrap.dedent(body)
    return run_child([sys.executable, "-c", source], {}, timeout_s, **kwargs)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_what_the_child_prints_never_passes_for_a_result():
    outcome = child(
        """
        print('{"type": "done"}')
        sys.stderr.write('{"type": "smoke", "status": "pass"}\\n')
        os.write(1, b"\\x00\\xff raw bytes\\n")
        send({"type": "hello"})
        send({"type": "done"})
        """
    )
    assert [m["type"] for m in outcome.messages] == ["hello", "done"]
    assert outcome.done and not outcome.timed_out and outcome.returncode == 0
    assert '{"type": "done"}' in outcome.output_tail
    assert any("raw bytes" in line for line in outcome.output_tail)


def test_lines_on_the_channel_that_are_not_json_objects_are_counted_not_trusted():
    outcome = child(
        """
        os.write(ARGS["channel_fd"], b"garbage\\n[1, 2]\\n")
        send({"type": "done"})
        """
    )
    assert outcome.bad_lines == 2
    assert outcome.messages == [{"type": "done"}]


def test_a_segfault_is_a_result_with_its_signal_name():
    outcome = child(
        """
        import signal
        send({"type": "begin", "framework": "x"})
        os.kill(os.getpid(), signal.SIGSEGV)
        """
    )
    assert outcome.signal == "SIGSEGV"
    assert outcome.returncode == -11
    assert not outcome.done and not outcome.timed_out
    assert outcome.messages == [{"type": "begin", "framework": "x"}]


def test_a_hang_is_killed_at_the_timeout_with_its_whole_process_group():
    outcome = child(
        """
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        send({"type": "worker", "pid": worker.pid})
        time.sleep(600)
        """,
        timeout_s=2,
    )
    assert outcome.timed_out and outcome.signal == "SIGKILL"
    (worker,) = [m["pid"] for m in outcome.messages if m["type"] == "worker"]
    for _ in range(50):  # the kernel delivers SIGKILL asynchronously
        if gone(worker):
            break
        time.sleep(0.1)
    assert gone(worker)


def test_each_begin_restarts_the_per_framework_deadline():
    outcome = child(
        """
        for name in ("a", "b"):
            send({"type": "begin", "framework": name})
            time.sleep(1.5)
        send({"type": "done"})
        """,
        timeout_s=2.5,
    )
    assert outcome.done and not outcome.timed_out


def test_a_phase_may_ask_for_more_time():
    outcome = child(
        """
        send({"type": "phase", "phase": "compile", "timeout_s": 30})
        time.sleep(2)
        send({"type": "done"})
        """,
        timeout_s=1,
    )
    assert outcome.done and not outcome.timed_out


def test_a_grandchild_holding_the_channel_open_does_not_keep_the_runner_waiting():
    outcome = child(
        """
        fd = ARGS["channel_fd"]
        worker = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"], pass_fds=(fd,)
        )
        send({"type": "worker", "pid": worker.pid})
        send({"type": "done"})
        os._exit(0)
        """,
        timeout_s=60,
    )
    assert outcome.done and not outcome.timed_out and outcome.returncode == 0
    (worker,) = [m["pid"] for m in outcome.messages if m["type"] == "worker"]
    for _ in range(50):
        if gone(worker):
            break
        time.sleep(0.1)
    assert gone(worker)


def test_an_interpreter_that_cannot_start_is_a_result(tmp_path):
    outcome = run_child([str(tmp_path / "no-python"), "-c", "pass"], {}, 5)
    assert outcome.error and outcome.messages == [] and outcome.returncode is None


def test_messages_reach_the_callback_as_they_arrive():
    seen = []
    outcome = child(
        """
        send({"type": "begin", "framework": "x"})
        send({"type": "done"})
        """,
        on_message=seen.append,
    )
    assert seen == outcome.messages == [{"type": "begin", "framework": "x"}, {"type": "done"}]


def test_the_child_runs_in_its_own_session():
    outcome = child(
        """
        send({"type": "ids", "sid": os.getsid(0), "pid": os.getpid()})
        send({"type": "done"})
        """
    )
    (ids,) = [m for m in outcome.messages if m["type"] == "ids"]
    assert ids["sid"] == ids["pid"] != os.getsid(0)


def test_cancel_ends_the_child_as_cancelled_not_as_a_crash():
    import threading

    cancel = threading.Event()
    timer = threading.Timer(0.5, cancel.set)
    timer.start()
    outcome = child("""
        send({"type": "begin", "framework": "x"})
        time.sleep(600)
        """, cancel=cancel)  # fmt: skip
    timer.join()
    assert outcome.cancelled and not outcome.timed_out and not outcome.done


def test_a_child_flooding_the_channel_is_heard_only_up_to_the_budget(monkeypatch):
    from dldoctor.probes import runner

    monkeypatch.setattr(runner, "MAX_CHANNEL_BYTES", 10_000)
    outcome = child("""
        line = {"type": "info", "pad": "x" * 900}
        for _ in range(100):
            send(line)
        send({"type": "done"})
        """)  # fmt: skip
    kept = sum(len(json.dumps(m)) for m in outcome.messages)
    assert kept == outcome.channel_bytes <= 10_000
    assert [m["type"] for m in outcome.messages] == ["info"] * 10 + ["done"]  # done still fits
    assert outcome.bad_lines == 90


def test_arguments_too_long_for_a_command_line_arrive_whole_and_their_file_is_removed():
    """Linux caps one argument at 128 KiB (Windows a whole command line at 32,767 characters);
    the probe's arguments carry its modules' sources, so they travel in a private file."""
    big = "x" * (300 << 10)
    said = "mode = os.stat(sys.argv[1]).st_mode & 0o777\n"
    said += "send({'type': 'got', 'n': len(ARGS['big']), 'path': sys.argv[1], 'mode': mode})\n"
    outcome = run_child([sys.executable, "-c", PRELUDE + said], {"big": big}, 20)
    assert not outcome.error and outcome.returncode == 0, outcome.output_tail
    (got,) = [m for m in outcome.messages if m["type"] == "got"]
    assert got["n"] == len(big) and got["mode"] == 0o600
    assert not os.path.exists(got["path"])  # gone once the child ended


@pytest.mark.parametrize("exit_fd", ["pidfd", "none"])
def test_a_child_that_lingers_after_closing_its_pipes_is_over_when_it_exits(monkeypatch, exit_fd):
    """Both pipes read EOF a moment before the child has exited (here 0.3 s, an exit's teardown):
    the runner returns at the exit, not a poll interval later (the next child waits for it)."""
    from dldoctor.probes import runner

    monkeypatch.setattr(runner, "POLL_S", 30.0)  # the old empty wait, made obvious
    if exit_fd == "none":  # macOS, Linux < 5.3: short naps instead
        monkeypatch.setattr(runner.reaper, "exit_fd", lambda pid: None)
    outcome = child(
        """
        send({"type": "hello"})
        send({"type": "done"})
        for fd in (ARGS["channel_fd"], 1, 2):
            os.close(fd)
        time.sleep(0.3)
        os._exit(0)
        """,
        timeout_s=60,
    )
    assert [m["type"] for m in outcome.messages] == ["hello", "done"]
    assert outcome.done and not outcome.timed_out and outcome.returncode == 0
    assert outcome.duration_s < 15  # 30 s (POLL_S) when the exit was waited for by a poll
