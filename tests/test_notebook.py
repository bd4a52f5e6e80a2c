"""`import dldoctor; dldoctor.check()` in a notebook: the same pipeline, shown by IPython's own
display machinery (the one Jupyter, Colab and VS Code call)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

from IPython.core.formatters import DisplayFormatter

import dldoctor
from dldoctor.facts.model import Facts
from dldoctor.matrix import load
from dldoctor.notebook import Checked
from tests.report.golden import report_for


def displayed(value: object) -> dict[str, str]:
    data, _ = DisplayFormatter().format(value)
    return data


def test_the_notebook_check_is_the_command_check_and_renders_inline():
    checked = dldoctor.check(quick=True)
    data = displayed(checked)
    assert {"text/html", "text/markdown", "text/plain"} <= set(data)
    command = subprocess.run(
        [sys.executable, "-m", "dldoctor", "check", "--quick", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    expected = json.loads(command.stdout)
    assert [f.code for f in checked.findings] == [f["code"] for f in expected["findings"]]
    assert checked.exit_code == command.returncode
    for finding in expected["findings"]:
        assert finding["code"] in data["text/html"]
        assert finding["code"] in data["text/markdown"]
    assert data["text/plain"].startswith("dldoctor — dldoctor.check()")


def test_outside_text_cannot_add_markup_to_the_notebook():
    report = report_for("h100_cpu_stack", load())
    facts = report.facts.to_dict()
    facts["nvidia"]["gpus"][0]["name"] = '<img src=x onerror="alert(1)">\x1b]52;c;ZXZpbA==\x07'
    hostile = Checked(dataclasses.replace(report, facts=Facts.from_dict(facts)))
    html = displayed(hostile)["text/html"]
    assert "<img" not in html and "onerror=&quot;" in html
    assert "\x1b" not in html and "\x07" not in html
    assert html.index("Diagnosis") < html.index("<table>")  # verdicts before the facts


def test_import_dldoctor_stays_cheap_for_training_scripts():
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import dldoctor, sys; print(sorted(m for m in sys.modules if m.startswith('dldoctor')))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = run.stdout.strip()
    assert "dldoctor.notebook" not in loaded and "dldoctor.checks" not in loaded
