"""The one cleaning boundary: every escape and control sequence out, in every renderer; JSON verbatim."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest

from dldoctor.checks.registry import run_checks
from dldoctor.document.report import Report
from dldoctor.facts.model import Facts
from dldoctor.report import markdown, terminal
from dldoctor.report.clean import clean, md_cell, md_fence, md_text
from tests.report.golden import DATA

# What a hostile string carries: screen clear, cursor home, erase line, a window title (OSC 0,
# BEL-terminated), a clipboard write (OSC 52, ST-terminated), a hyperlink (OSC 8), a DCS string,
# 8-bit CSI and OSC, a carriage return and backspaces that overwrite, bidi overrides, NUL, DEL.
HOSTILE = (
    "ok\x1b[2J\x1b[H\x1b[2K\x1b]0;pwned\x07\x1b]52;c;cm0gLXJmIH4=\x1b\\"
    "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\\x1bPq#0\x1b\\\x9b31m\x9d0;t\x9c"
    "\rfake\x08\x08\u202eevil\u202c\u2066x\u2069\x00\x7f end"
)
LEAKS = ("\x1b", "\r", "\x08", "\x9b", "\x9d", "\x9c", "\x00", "\x7f", "\u202e", "\u2066")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("plain text: ok", "plain text: ok"),
        ("\x1b[31mred\x1b[0m", "red"),
        ("a\x1b]0;title\x07b", "ab"),
        ("a\x1b]52;c;ZXZpbA==\x1b\\b", "ab"),
        ("a\x9b2Kb", "ab"),
        ("shown\rhidden", "shown\ufffdhidden"),
        ("abc\x08\x08X", "abc\ufffd\ufffdX"),
        ("\u202eabc\u202c", "\ufffdabc\ufffd"),
        ("one\ntwo\tthree", "one\ufffdtwo three"),
        ("unterminated \x1b]0;title forever", "unterminated "),
    ],
)
def test_clean(text, expected):
    assert clean(text) == expected


def test_clean_keeps_newlines_only_when_asked():
    assert clean("a\nb\x1b[1m", newlines=True) == "a\nb"


def test_nothing_of_a_hostile_string_gets_through():
    out = clean(HOSTILE)
    assert not any(c in out for c in LEAKS)
    assert out.startswith("oklink") and out.endswith("end") and "fake" in out and "evil" in out


def test_markdown_helpers_keep_outside_text_in_its_place():
    assert md_cell("a | b\nc") == "a \\| b\ufffdc"
    assert md_text("[click](http://evil) <img src=x> *x* `y`") == (
        "\\[click\\](http://evil) \\<img src=x\\> \\*x\\* \\`y\\`"
    )
    assert md_text("# heading", line_start=True) == "\\# heading"
    fence = md_fence(["pip install x", "```", "# now outside?"], "sh")
    assert fence[0] == "````sh" and fence[-1] == "````" and "```" in fence[2]


def hostile_report(matrix) -> Report:
    doc = json.loads((DATA / "facts" / "h100_cpu_stack.json").read_text())
    doc["nvidia"]["gpus"][0]["name"] = "NVIDIA H100" + HOSTILE
    doc["system"]["os"]["pretty_name"] = HOSTILE + " | table | `x` ```"
    doc["python"]["executable"] = "/work/venv/bin/python" + HOSTILE
    facts = Facts.from_dict(doc)
    return Report(
        "dldoctor check --from r\x1b[2J.json",
        "2026-11-23T00:00:00+00:00",
        0.2,
        facts,
        tuple(run_checks(facts, matrix)),
    )


def test_the_terminal_view_shows_no_escape_from_facts(matrix):
    report = hostile_report(matrix)
    for out in (terminal.Out(io.StringIO()), terminal.Out(io.StringIO(), color=True, width=80)):
        terminal.render(report, out, verbose=True)
        text = out.stream.getvalue().replace("\x1b[0m", "")
        for code in ("1", "2", "31", "32", "33", "36", "1;31"):  # our own colours only
            text = text.replace(f"\x1b[{code}m", "")
        assert not any(c in text for c in LEAKS)
        assert "NVIDIA H100ok" in text


def test_the_markdown_view_cannot_be_broken_out_of(matrix):
    text = markdown.render(hostile_report(matrix))
    assert not any(c in text for c in LEAKS)
    table = [ln for ln in text.splitlines() if ln.startswith("| System |")]
    assert len(table) == 1 and table[0].count(" | ") == 1  # still two cells
    folded = text.split("<details>")[1]
    assert "````json" in folded and "\n````\n</details>" in folded  # a fence no fact can close


def test_json_keeps_outside_text_verbatim(matrix):
    report = hostile_report(matrix)
    document = json.loads(json.dumps(report.to_dict()))
    assert document["facts"]["nvidia"]["gpus"][0]["name"] == "NVIDIA H100" + HOSTILE


def test_the_profile_view_cleans_the_script_and_the_reasons():
    from dldoctor.profilers import rules
    from dldoctor.profilers.report import ProfileReport
    from dldoctor.report.profile_terminal import render
    from tests.profilers.synthetic import make

    profile = make()
    profile["target"]["args"] = ["--name", HOSTILE]
    profile["verdict"] = {**profile["verdict"], "reason": HOSTILE}
    report = ProfileReport(
        command="dldoctor profile train.py",
        created="2026-11-23T12:00:00+00:00",
        duration_s=1.0,
        profile=profile,
        findings=tuple(rules.judge(profile)),
        gates=(),
    )
    out = terminal.Out(io.StringIO())
    render(replace(report), out)
    assert not any(c in out.stream.getvalue() for c in LEAKS)
