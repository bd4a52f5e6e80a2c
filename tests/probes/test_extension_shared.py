"""torch's extensions run in torch's own child, after its probe: torch is imported once, and an
extension that crashes that child costs neither torch's results nor another extension's."""

from __future__ import annotations

import sysconfig
from pathlib import Path
from typing import Any

import pytest
import torch

from dldoctor.probes.collect import new_record
from dldoctor.probes.extensions import after_framework, shared, unstarted
from tests.probes.conftest import once
from tests.probes.ext_fakes import NMS_OK, SEGFAULT, dist_info, package, plain_module
from tests.probes.test_extension_probes import TIMEOUT_S, _check

TORCH_LIB = Path(torch.__file__).parent / "lib"


def crash_then_vision(site: Path, scratch: Path) -> Path:
    """triton segfaults on import; torchvision (after it in the matrix's order) is healthy."""
    site.mkdir(parents=True, exist_ok=True)
    files = package(site, "triton", {"__init__.py": SEGFAULT, "language.py": "constexpr = int\n"})
    dist_info(site, "triton", "3.7.0", files)
    vision = {"__init__.py": "__version__ = '0.28.0'\nfrom torchvision import ops\n"}
    files = package(site, "torchvision", {**vision, "ops.py": NMS_OK})
    so = plain_module(site, scratch, "torchvision/_C" + str(sysconfig.get_config_var("EXT_SUFFIX")))
    dist_info(site, "torchvision", "0.28.0", [*files, so])
    return site


@pytest.fixture
def crash_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    def produce(folder: Path) -> Any:
        site = crash_then_vision(folder / "site", folder / "scratch")
        args = ("--framework", "torch", "--timeout", str(TIMEOUT_S))
        return _check(site, folder / "report.json", *args)

    return once(tmp_path_factory, "extension-shared-run", produce)


def test_a_segfaulting_extension_after_torch_s_smoke_tests_leaves_torch_judged(crash_run):
    runtime = crash_run["report"]["facts"]["runtime"]
    torch_record = runtime["frameworks"]["torch"]
    # triton was imported in torch's child, after torch's probe had ended, and crashed it.
    assert torch_record["process"]["shared_with"] == ["torch", "triton", "torchvision"]
    assert torch_record["process"]["signal"] == "SIGSEGV"
    assert torch_record["status"] == "pass" and torch_record["reason"] == ""
    assert torch_record["smoke"] and {s["status"] for s in torch_record["smoke"]} == {"pass"}
    triton = runtime["extensions"]["triton"]
    assert triton["status"] == "crash" and triton["during"] == "import triton"
    assert triton["companions"]["torch"]["ok"] is True
    # Judged: torch's results stand, the crash is triton's finding alone.
    findings = crash_run["report"]["findings"]
    assert not [
        f for f in findings if f["severity"] == "error" and "extension" not in f["evidence"]
    ]
    (crash,) = [f for f in findings if f["evidence"].get("extension") == "triton"]
    assert crash["title"] == (
        "`import triton` (triton 3.7.0) crashed with SIGSEGV during import triton"
    )
    assert crash["evidence"]["signal"] == "SIGSEGV"


def test_an_extension_the_crashed_child_never_began_gets_a_child_of_its_own(crash_run):
    vision = crash_run["report"]["facts"]["runtime"]["extensions"]["torchvision"]
    assert vision["status"] == "pass"
    assert vision["process"]["shared_with"] == [] and vision["process"]["signal"] is None
    (nms,) = vision["smoke"]
    assert nms["status"] == "pass" and nms["got"] == {"0.5": [0, 2], "0.75": [0, 1, 2]}
    assert not [f for f in crash_run["report"]["findings"] if "torchvision" in f["title"]]


def test_only_extensions_that_import_a_probed_framework_first_share_its_child():
    jobs = {
        "torchvision": {"module": "torchvision", "after": ["torch"], "call": None},
        "tensorrt": {"module": "tensorrt", "after": [], "call": None},
    }
    assert shared(jobs, (("tensorflow", "keras"), ("torch",))) == {
        ("torch",): {"torchvision": jobs["torchvision"]}
    }
    assert shared(jobs, (("jax",),)) == {}  # torch not probed: no child to share


def test_a_record_the_child_never_began_is_probed_again_and_the_others_are_settled():
    began, never, interrupted = new_record(), new_record(), new_record()
    began.update(status="fail", duration_s=0.5, companions={"torch": {"ok": False}})
    interrupted.update(status="interrupted", reason="interrupted")
    settings = {"module": "m", "after": ["torch"], "call": None}
    again: list[str] = []

    def rerun(name: str, options: Any) -> Any:
        again.append(name)
        fresh = new_record()
        fresh.update(status="pass", duration_s=1.0)
        return {name: fresh}, [f"{name}: again"]

    records = {"a": began, "b": never, "c": interrupted}
    out, errors = after_framework(records, dict.fromkeys(records, settings), rerun)
    assert again == ["b"] and errors == ["b: again"]
    assert out["b"]["status"] == "pass"
    assert out["a"]["status"] == "skip"  # torch failed to import there: torch's own finding
    assert out["c"]["status"] == "interrupted"
    assert unstarted(new_record()) and not unstarted(began) and not unstarted(interrupted)
