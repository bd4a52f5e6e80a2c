"""The child's event lines: parsed or refused, never raising; JSON lines stay atomic in size."""

from __future__ import annotations

from dldoctor.profilers.protocol import MAX_LINE_BYTES, Event, json_line, parse


def test_plain_and_json_lines_parse():
    assert parse("D 12 3 1.5 1.75 1") == Event("D", 12, ("3", "1.5", "1.75", "1"))
    assert parse('L 12 {"id":1}') == Event("L", 12, (), {"id": 1})


def test_garbage_is_refused():
    for line in ("", "D", "DD 1 2", "D x 1", 'L 1 {"id":', "L 1 [1]", "\x00\xff"):
        assert parse(line) is None


def test_json_lines_are_cut_to_stay_below_pipe_buf():
    line = json_line("X", 1, {"kind": "exception", "message": "é" * 10_000, "type": "E"})
    assert len(line.encode()) <= MAX_LINE_BYTES and line.endswith("\n")
    assert parse(line.rstrip("\n")).payload["type"] == "E"
