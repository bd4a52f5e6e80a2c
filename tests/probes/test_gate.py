"""The gate that admits probe children: launch order, one per free core, idle children let go."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from dldoctor.matrix import load
from dldoctor.probes import gate as gating
from dldoctor.probes.gate import Gate, busy_seconds
from dldoctor.probes.probe import ProbeEvent, ProbeOptions, start_probes
from tests.probes.fakes import HANG
from tests.probes.test_schedule import facts_with, fake_site

WAIT_S = 60.0  # a bound on waiting, never a measured duration
SETTLE_S = 0.3  # lets a waiting thread reach its wait before the test moves on (no assertion)


class Waiter:
    """``gate.wait(ticket)`` in a thread; what the test had done when it returned."""

    def __init__(self, gate: Gate, ticket: int, log: list[str]) -> None:
        self.result: bool | None = None
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._run, args=(gate, ticket, log), daemon=True)
        self.thread.start()
        time.sleep(SETTLE_S)

    def _run(self, gate: Gate, ticket: int, log: list[str]) -> None:
        self.result = gate.wait(ticket)
        self.seen = list(log)

    def join(self) -> bool | None:
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive(), "the gate never let this ticket through"
        return self.result


@pytest.fixture
def spinning(monkeypatch):
    """Every child reads as using a whole core (the /proc reader is the seam)."""
    used = {"s": 0.0}

    def busy(pid: int) -> float:
        used["s"] += 100.0
        return used["s"]

    monkeypatch.setattr(gating, "busy_seconds", busy)


def test_a_ticket_waits_for_the_one_before_it_to_start(spinning):
    gate, log = Gate(4, threading.Event()), []
    first, second = gate.turn(), gate.turn()
    waiter = Waiter(gate, second.ticket, log)
    log.append("first started")
    first.started(101)
    assert waiter.join() is True
    assert waiter.seen == ["first started"]


def test_a_busy_child_holds_its_core_until_it_ends(spinning):
    gate, log = Gate(1, threading.Event()), []
    first, second = gate.turn(), gate.turn()
    assert gate.wait(first.ticket)
    first.started(101)
    waiter = Waiter(gate, second.ticket, log)
    time.sleep(2 * gating.SAMPLE_S)  # several samples, every one of them busy
    log.append("first finished")
    first.finished()
    assert waiter.join() is True
    assert waiter.seen == ["first finished"]


def test_a_busy_child_holds_its_core_only_so_long(spinning, monkeypatch):
    monkeypatch.setattr(gating, "HOLD_S", 0.5)
    gate = Gate(1, threading.Event())
    first, second = gate.turn(), gate.turn()
    first.started(None)  # not readable in /proc (as on Windows): busy until the hold ends
    waiter = Waiter(gate, second.ticket, [])
    assert waiter.join() is True
    assert second.ticket not in gate.gone and first.ticket in gate.running  # still running


def test_with_a_core_to_spare_the_next_child_starts_beside_a_busy_one(spinning):
    gate = Gate(2, threading.Event())
    first, second = gate.turn(), gate.turn()
    first.started(101)
    assert gate.wait(second.ticket)


def test_a_child_that_waits_instead_of_computing_stops_holding_its_core():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        gate = Gate(1, threading.Event())
        first, second = gate.turn(), gate.turn()
        first.started(sleeper.pid)
        waiter = Waiter(gate, second.ticket, [])
        assert waiter.join() is True
        assert sleeper.poll() is None  # let through while the sleeping child still runs
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_ticket_that_ends_without_a_child_passes_its_turn_on(spinning):
    gate, log = Gate(1, threading.Event()), []
    first, second, third = gate.turn(), gate.turn(), gate.turn()
    waiter = Waiter(gate, third.ticket, log)
    second.finished()  # its child never started (cancelled, its probe unreadable)
    log.append("first ended")
    first.finished()
    assert waiter.join() is True
    assert waiter.seen == ["first ended"]


def test_cancelling_lets_every_waiting_ticket_go_without_starting(spinning):
    cancel = threading.Event()
    gate = Gate(1, cancel)
    first, second = gate.turn(), gate.turn()
    first.started(101)
    waiter = Waiter(gate, second.ticket, [])
    cancel.set()
    assert waiter.join() is False


def test_the_cpu_time_of_a_process_is_read_from_proc():
    if not os.path.exists(f"/proc/{os.getpid()}/stat"):
        pytest.skip("no /proc here")
    before = busy_seconds(os.getpid())
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:  # burn 0.2 CPU s
        pass
    after = busy_seconds(os.getpid())
    assert isinstance(before, float) and isinstance(after, float) and after >= before + 0.15
    assert busy_seconds(2**22 + 12345) is None  # no such process


def fake_proc(root: Any, pid: int, stat: str, schedstat: str | None) -> str:
    folder = root / str(pid)
    folder.mkdir(parents=True)
    (folder / "stat").write_text(stat)
    if schedstat is not None:
        (folder / "schedstat").write_text(schedstat)
    return str(root)


# Fields 14 and 15 (utime, stime: 300 and 100 ticks); the name holds ") (" as a name may.
STAT = "4242 (a) (b) S 1 4242 4242 0 -1 4194304 100 0 0 0 300 100 0 0 20 0 1 0 5 0 0\n"


def test_a_child_starved_of_the_cpu_by_others_still_counts_as_busy(tmp_path):
    """Its time waiting on a run queue (/proc/PID/schedstat, ns) counts: a machine loaded by
    other work must not look like idle children to the gate."""
    ticks = os.sysconf("SC_CLK_TCK")
    proc = fake_proc(tmp_path, 4242, STAT, "1000 2500000000 7\n")
    assert busy_seconds(4242, proc) == pytest.approx(400 / ticks + 2.5)
    without = fake_proc(tmp_path / "old", 4242, STAT, None)  # a kernel without schedstats
    assert busy_seconds(4242, without) == pytest.approx(400 / ticks)
    broken = fake_proc(tmp_path / "broken", 4242, "4242 (a) S 1", None)
    assert busy_seconds(4242, broken) is None


def test_a_hung_probe_does_not_hold_the_only_core_for_its_timeout(tmp_path):
    """On one core, TensorFlow's import hangs (sleeping); ONNX Runtime still runs to its end."""
    env = fake_site(tmp_path, {"tensorflow": HANG, "onnxruntime": "x = 1\n"})
    ended = threading.Event()

    def record(event: ProbeEvent) -> None:
        if event.kind == "end" and event.framework == "onnxruntime":
            ended.set()

    facts = facts_with("tensorflow", "onnxruntime")
    facts.system["cpu"]["usable_cores"] = 1
    options = ProbeOptions(python=sys.executable, timeout_s=10 * WAIT_S, env=env)
    running = start_probes(facts, load(), options, record)
    try:
        assert ended.wait(WAIT_S), "onnxruntime waited behind the hung tensorflow probe"
    finally:
        running.cancel()
    section: Any = running.section
    assert section["groups"] == [["tensorflow"], ["onnxruntime"]]
