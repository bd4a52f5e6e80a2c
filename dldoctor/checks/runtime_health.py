"""Verdict on a framework that imports but computed nothing: zero smoke tests is not a pass."""

from __future__ import annotations

from typing import Any

from dldoctor.checks import runtime_common as rt
from dldoctor.checks.registry import Unjudged, Verdict, check
from dldoctor.facts.model import Facts
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Severity

JSON = dict[str, Any]


def _errors(record: JSON) -> list[str]:
    """What prevented the tests: facts that raised, the probe's own error, skipped tests."""
    said = [f"{key}: {value}" for key, value in (record.get("info_errors") or {}).items()]
    if record.get("probe_error"):
        said.append(f"probe: {rt.error_text(record['probe_error'])}")
    said += [
        f"{s.get('test')} on {s.get('device')}: skipped, {s.get('detail')}"
        for s in record.get("smoke") or []
        if s.get("status") == "skip"
    ]
    return said[:12]


@check(
    "DD610",
    "framework-computed-nothing",
    "A framework imports but not one smoke test ran on any device",
    Area.FRAMEWORKS,
)
def framework_computed_nothing(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: a framework imported, yet no smoke test passed or failed on any device (not even
    the CPU): listing its devices raised, or every test was skipped.

    Why: a framework that cannot list its devices or compute is broken, whatever its import
    says; calling it healthy because nothing failed is a false all-clear.

    Fix: depends on the errors quoted (they are what prevented the tests).
    """
    verdicts: list[Verdict | Unjudged] = []
    for key, record in rt.probed(facts).items():
        imported = (record.get("import") or {}).get("ok")
        if not imported or record.get("status") in ("crash", "timeout", "skip"):
            continue
        if record.get("smoke") is None:  # unknown (an old report, a paste): not "none ran"
            verdicts.append(Unjudged(rt.label(key), f"runtime.frameworks.{key}.smoke"))
            continue
        smoke = record["smoke"]
        ran = [s for s in smoke if not rt.deployment(s)]  # an export is not the framework computing
        if any(s.get("status") in ("pass", "fail", "crash", "timeout") for s in ran):
            continue
        errors = _errors(record)
        skipped = bool(smoke)
        label = rt.version_label(facts, key, record)
        if skipped:
            title = f"{label} imports, but every smoke test was skipped: nothing was computed"
        else:
            title = f"{label} imports, but no smoke test could run on any device" + (
                f": {rt.first_line(errors[0])}" if errors else ""
            )
        verdicts.append(
            Verdict(
                Severity.WARNING if skipped and not record.get("info_errors") else Severity.ERROR,
                title,
                evidence={"framework": key, "errors": errors, "devices": record.get("devices")},
            )
        )
    return verdicts
