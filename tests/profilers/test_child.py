"""The code that runs inside the profiled script: the recorder's window and the import hook."""

from __future__ import annotations

import contextlib
import os
import sys
import textwrap

import pytest

from dldoctor.profilers.child import importhook
from dldoctor.profilers.child.recorder import Recorder, WindowReached
from dldoctor.profilers.collector import Collector
from dldoctor.profilers.protocol import parse


class Batches:
    """An iterator standing in for a framework's: ``n`` batches, then StopIteration."""

    def __init__(self, n: int) -> None:
        self.left = n

    def fetch(self) -> int:
        if not self.left:
            raise StopIteration
        self.left -= 1
        return self.left


def _events(read_fd: int) -> list:
    os.set_blocking(read_fd, False)
    data = b""
    while True:
        try:
            chunk = os.read(read_fd, 1 << 16)
        except BlockingIOError:
            break
        if not chunk:
            break
        data += chunk
    return [parse(line) for line in data.decode().splitlines()]


@pytest.fixture
def pipe():
    read_fd, write_fd = os.pipe()
    yield read_fd, write_fd
    for fd in (read_fd, write_fd):
        with contextlib.suppress(OSError):
            os.close(fd)


def test_the_window_stops_after_n_complete_steps(pipe):
    read_fd, write_fd = pipe
    rec = Recorder(write_fd, max_steps=3, deadline=None)
    batches = Batches(10)
    fetched = 0
    with pytest.raises(WindowReached) as stopped:
        while True:
            rec.timed(1, Batches.fetch, batches)
            fetched += 1
    assert stopped.value.code == 0
    assert fetched == 3 and batches.left == 7  # the 4th batch was never fetched
    events = _events(read_fd)
    kinds = [e.kind for e in events]
    assert kinds == ["D", "D", "D", "E", "Q"]
    assert events[-1].payload["reason"] == "steps" and events[-1].payload["steps"] == 3
    collector = Collector(origin=0.0)
    for e in events:
        collector._dispatch(e)
    assert collector.processes[os.getpid()].data.count == 3


def test_explicit_marks_take_over_from_batches(pipe):
    read_fd, write_fd = pipe
    rec = Recorder(write_fd, max_steps=None, deadline=None)
    batches = Batches(5)
    for _ in range(5):
        rec.timed(1, Batches.fetch, batches)
        rec.mark()
    rec.flush()
    kinds = [e.kind for e in _events(read_fd)]
    assert kinds.count("B") == 5 and kinds.count("D") == 5
    assert rec.explicit and rec.steps.complete == 4


def test_a_loader_inside_another_is_timed_once(pipe):
    read_fd, write_fd = pipe
    rec = Recorder(write_fd, max_steps=None, deadline=None)
    inner = Batches(3)
    rec.timed(1, lambda _: rec.timed(2, Batches.fetch, inner), None)
    rec.flush()
    assert [(e.kind, e.fields[0]) for e in _events(read_fd)] == [("D", "1")]


def test_a_gone_dldoctor_leaves_the_script_running(pipe):
    read_fd, write_fd = pipe
    rec = Recorder(write_fd, max_steps=None, deadline=None)
    os.close(read_fd)
    rec.event("L", {"id": 1})  # EPIPE: swallowed, and the channel is dropped
    assert rec.fd == -1
    assert rec.timed(1, Batches.fetch, Batches(1)) == 0


def test_the_import_hook_patches_once_after_the_module_runs(tmp_path, monkeypatch):
    (tmp_path / "fakefw").mkdir()
    (tmp_path / "fakefw" / "__init__.py").write_text("")
    (tmp_path / "fakefw" / "data.py").write_text(
        textwrap.dedent(
            """
            class Loader:
                def __next__(self):
                    return 1
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    calls = []

    def patch(module):
        calls.append(module.__name__)
        module.Loader.__next__ = lambda self: 2

    finder = importhook.install({"fakefw.data": patch})
    try:
        import fakefw.data

        assert next(fakefw.data.Loader()) == 2
        assert calls == ["fakefw.data"]
        assert type(fakefw.data.__loader__).__name__ == "SourceFileLoader"
        assert fakefw.data.__spec__.loader is fakefw.data.__loader__
    finally:
        sys.meta_path.remove(finder)
        for name in ("fakefw.data", "fakefw"):
            sys.modules.pop(name, None)
