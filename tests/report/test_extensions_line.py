"""The Packages line names the extensions and what each was built for (cleaned when shown)."""

from __future__ import annotations

from dldoctor.report.summary import packages_line
from tests.checks.scenarios import dist, make_facts, with_packages
from tests.checks.test_extensions import ext


def _facts(*items):
    section = {"torch_cxx11_abi": True, "installed": list(items), "errors": []}
    return make_facts(with_packages(dist("torch", "2.13.0")), {"packages": {"extensions": section}})


def test_extensions_are_listed_with_their_build():
    line = packages_line(
        _facts(
            ext("flash-attn", "2.8.3", cuda="12", torch="2.6"),
            ext("torchvision", "0.28.0", cuda=False),
        )
    )
    assert line.endswith(
        "· extensions: flash-attn 2.8.3 (CUDA 12, torch 2.6), torchvision 0.28.0 (CPU)"
    )


def test_no_extensions_add_nothing_and_many_are_bounded():
    assert "extensions" not in packages_line(_facts())
    line = packages_line(_facts(*(ext(f"x{i}", "1.0") for i in range(9))))
    assert line.endswith("x5 1.0, +3 more")


def test_the_extension_probes_are_counted():
    facts = _facts(ext("flash-attn", "2.8.3"), ext("torchvision", "0.28.0"), ext("apex", "0.1"))
    facts.runtime.update(
        ran=True,
        extensions={
            "flash-attn": {"status": "fail"},
            "torchvision": {"status": "pass"},
            "apex": {"status": "crash"},
            "deepspeed": {"status": "skip"},
        },
    )
    assert packages_line(facts).endswith(" · extension probes: 1 ok, 2 failed, 1 not run")
    facts.runtime["extensions"] = {}
    assert "probes" not in packages_line(facts)
