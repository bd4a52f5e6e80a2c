"""The Markdown view fits a ticket whatever the environment, and its embedded report reads back."""

from __future__ import annotations

import dataclasses
import json

from dldoctor.checks.registry import run_checks
from dldoctor.document.compact import LIMIT_CHARS
from dldoctor.document.load import embedded_json, parse_report
from dldoctor.document.report import Report
from dldoctor.facts.model import Facts
from dldoctor.matrix import load
from dldoctor.report import markdown
from tests.report.golden import report_for

MATRIX = load()


def huge(count: int, site: str = "/work/venv/lib/python3.11/site-packages") -> Report:
    """The recorded H100 machine with ``count`` more distributions, each with requirements, and
    a probe that printed a long log: what a real data-science image looks like."""
    base = report_for("h100_cpu_stack", MATRIX)
    facts = base.facts.to_dict()
    for dist in facts["packages"]["distributions"]:
        dist["location"] = site
    for i in range(count):
        facts["packages"]["distributions"].append(
            {
                "name": f"some-package-{i:04d}",
                "version": f"1.{i}.0",
                "location": site,
                "installer": "pip",
                "requires": [f"some-package-{(i + k) % count:04d}>=1.0" for k in range(1, 6)],
                "top_level": [f"some_package_{i:04d}"],
                "metadata_error": None,
            }
        )
    facts["runtime"] = {
        "ran": True,
        "frameworks": {
            "torch": {"status": "pass", "output": [f"log line {i}" * 20 for i in range(2000)]}
        },
    }
    grown = Facts.from_dict(facts)
    return dataclasses.replace(base, facts=grown, outcomes=tuple(run_checks(grown, MATRIX)))


def read_back(text: str) -> dict:
    block = embedded_json(text)
    assert block is not None
    return parse_report(block, "the Markdown")


def test_a_3000_package_environment_still_fits_a_ticket():
    report = huge(3000)
    assert len(json.dumps(report.to_dict())) > 10 * LIMIT_CHARS  # the JSON alone would not
    text = markdown.render(report)
    assert len(text) < LIMIT_CHARS
    document = read_back(text)
    assert document["facts_abridged"] is True
    names = {d["name"] for d in document["facts"]["packages"]["distributions"]}
    assert {"torch", "jaxlib", "tensorflow_cpu", "paddlepaddle"} <= names  # what checks ask about
    assert "some-package-0001" not in names
    # Re-judged from the Markdown alone, the verdicts are the report's.
    facts = Facts.from_dict(document["facts"])
    again = Report("x", "y", 0.0, facts, tuple(run_checks(facts, MATRIX)))
    assert again.diagnosis.primary.title == report.diagnosis.primary.title


def test_findings_and_fixes_come_before_the_facts():
    text = markdown.render(report_for("driver470_cpu_stack", MATRIX))
    assert text.index("**Diagnosis:**") < text.index("To fix:") < text.index("| Area | Facts |")
    assert text.index("| Area | Facts |") < text.index("```json dldoctor-report")


def test_a_small_environment_embeds_every_fact_and_reads_back_exactly():
    report = report_for("h100_cpu_stack", MATRIX)
    document = read_back(markdown.render(report))
    assert document["facts_abridged"] is False
    assert document["facts"] == json.loads(json.dumps(report.facts.to_dict()))
    assert [f["code"] for f in document["findings"]] == [f.code for f in report.findings]


def test_a_quoted_reply_still_reads_back():
    text = markdown.render(report_for("h100_cpu_stack", MATRIX))
    quoted = "\n".join("> " + line for line in text.splitlines())
    assert read_back(quoted)["facts"]["nvidia"]["driver_version"] == "580.65.06"


def test_a_hostile_report_with_megabyte_strings_still_fits():
    base = report_for("driver470_cpu_stack", MATRIX)
    facts = base.facts.to_dict()
    facts["system"]["os"]["distribution"] = "Debian " * 200_000
    facts["nvidia"]["gpus"][0]["name"] = "A100 " * 200_000
    grown = Facts.from_dict(facts)
    report = dataclasses.replace(base, facts=grown, outcomes=tuple(run_checks(grown, MATRIX)))
    text = markdown.render(report)
    assert len(text) < LIMIT_CHARS
    assert "The facts are too large to embed here" in text  # said, rather than cut mid-JSON


def test_redaction_that_lengthens_every_path_still_fits():
    from dldoctor.document.redact import redactor

    # Another user's one-letter home: each of 3000 paths grows by "<user-1>" once redacted.
    report = huge(3000, site="/home/x/venv/lib/python3.11/site-packages")
    scrubber = redactor("/home/alice", "alice", "somehost")
    text = markdown.render(report, scrubber.scrub)
    assert len(text) < LIMIT_CHARS
    assert "/home/x/" not in text and "/home/<user-1>/venv" in text
