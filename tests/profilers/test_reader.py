"""The event reader: once the child is gone, it reads what is left and stops, even on a
channel that never reads EOF (the FIFO dldoctor holds open for the script's descendants)."""

from __future__ import annotations

import os
import threading

from dldoctor.profilers import runner, tree
from dldoctor.profilers.collector import Collector


def test_lines_written_before_the_exit_are_all_read_and_the_reader_stops():
    read_fd, write_fd = os.pipe()  # the write end stays open: no EOF, as with the FIFO
    lines = [f"D 7 1 {1 + i / 10:.4f} {1.05 + i / 10:.4f} 1\n" for i in range(200)]
    for start in range(0, len(lines), 50):
        os.write(write_fd, "".join(lines[start : start + 50]).encode())
    collector = Collector(origin=0.0)
    done = runner.Done()
    reader = threading.Thread(target=runner.read_events, args=([read_fd], collector, done))
    reader.start()
    done.set()  # the child exited after writing them
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert collector.events == 200 and collector.processes[7].data.count == 199
    os.close(write_fd)
    done.close()


def test_the_reader_stops_at_the_channels_eof_once_the_tree_lets_go_of_its_fifo(monkeypatch):
    # Never quiet long enough: only EOF on both channels can end the reader.
    monkeypatch.setattr(runner, "QUIET_S", 3600.0)
    family = tree.open_tree()
    assert family is not None
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"D 7 1 1.0000 1.0500 1\nD 7 1 1.1000 1.1500 1\n")
    descendant = os.open(family.fifo, os.O_WRONLY | os.O_NONBLOCK)  # a rank's recorder
    os.write(descendant, b"D 9 1 1.0000 1.0500 1\n")
    collector = Collector(origin=0.0)
    done = runner.Done()
    reader = threading.Thread(
        target=runner.read_events, args=([read_fd, family.read_fd], collector, done)
    )
    reader.start()
    os.close(write_fd)  # the script has exited
    os.close(descendant)  # and so has the rank
    family.release()
    done.set()
    reader.join(timeout=60)
    try:
        assert not reader.is_alive()
        assert collector.events == 3
    finally:
        family.close()
        done.close()
