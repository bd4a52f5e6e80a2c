"""What -v says under Frameworks for each probed framework's record."""

from __future__ import annotations

from typing import Any

from dldoctor.facts.model import Facts
from dldoctor.report.runtime_summary import details


def facts_with(record: dict[str, Any]) -> Facts:
    return Facts(runtime={"frameworks": {"tensorflow": record}})


def test_a_module_left_to_its_own_probe_is_said_beside_the_status():
    record = {"status": "pass", "duration_s": 6.24, "devices": [{"id": "cpu"}]}
    assert details(facts_with(record)) == ["tensorflow: pass in 6.2 s, devices cpu"]
    record["info"] = {"imported_elsewhere": ["jax"]}
    assert details(facts_with(record)) == [
        "tensorflow: pass in 6.2 s, devices cpu (jax: left to its own probe)"
    ]
    record["info"] = {"imported_elsewhere": "jax"}  # not the shape a child sends: nothing said
    assert details(facts_with(record)) == ["tensorflow: pass in 6.2 s, devices cpu"]
