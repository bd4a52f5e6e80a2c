"""Extension libraries probed in their own children after the real torch (see ext_fakes.py).

One `dldoctor check --framework torch` over a site dir of fake extensions beside the venv's real
torch is shared by these tests: flash-attn's gcc-built module has an undefined c10 symbol,
torch-geometric hangs, torchaudio floods its output with escape sequences and fails, triton
segfaults, deepspeed kills its own process group, torchvision's NMS gives wrong indices.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import torch

from dldoctor.document.schema import report_schema
from dldoctor.facts.model import Facts
from dldoctor.probes.probe import ProbeOptions, run_probes
from tests.probes.conftest import once
from tests.probes.ext_fakes import MISSING_SYMBOL, NMS_OK, TRITON_OK, extension_site

ROOT = Path(__file__).resolve().parents[2]
TORCH_LIB = Path(torch.__file__).parent / "lib"
TIMEOUT_S = 20  # per child: room for `import torch` on a loaded 2-core machine


def _check(site: Path, report: Path, *args: str) -> dict[str, Any]:
    # Its own session: a hostile child signalling "its parent's group" cannot reach pytest.
    done = subprocess.run(
        [sys.executable, "-m", "dldoctor", "check", *args, "--format", "json", "--json", str(report)],
        capture_output=True, text=True, timeout=600, start_new_session=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])},
    )  # fmt: skip
    return {
        "returncode": done.returncode,
        "stdout": done.stdout,
        "stderr": done.stderr,
        "report": json.loads(report.read_text()) if report.exists() else None,
    }


@pytest.fixture
def ext_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    def produce(folder: Path) -> Any:
        site = extension_site(folder / "site", folder / "scratch", TORCH_LIB)
        args = ("--framework", "torch", "--timeout", str(TIMEOUT_S))
        return _check(site, folder / "report.json", *args)

    return once(tmp_path_factory, "extension-run", produce)


def records(run: dict[str, Any]) -> dict[str, Any]:
    return run["report"]["facts"]["runtime"]["extensions"]


def about(run: dict[str, Any], extension: str) -> list[dict[str, Any]]:
    """The findings about one extension, with what each folded."""
    return [
        f
        for f in run["report"]["findings"]
        if f["evidence"].get("extension") == extension and f["severity"] == "error"
    ]


def test_dldoctor_survives_every_extension_and_writes_a_valid_report(ext_run):
    assert ext_run["returncode"] == 1, ext_run["stderr"][-2000:]
    assert "Traceback" not in ext_run["stderr"]
    jsonschema.validate(ext_run["report"], report_schema())
    assert ext_run["report"]["summary"]["checks_crashed"] == 0
    assert set(records(ext_run)) == {
        "flash-attn", "deepspeed", "triton", "torchvision", "torchaudio", "torch-geometric",
    }  # fmt: skip
    assert ext_run["report"]["facts"]["runtime"]["frameworks"]["torch"]["status"] == "pass"


def test_an_undefined_torch_symbol_is_one_finding_with_the_import_as_evidence(ext_run):
    flash = records(ext_run)["flash-attn"]
    assert flash["companions"]["torch"]["ok"] is True  # imported after torch
    message = flash["import"]["error"]["message"]
    assert message.endswith(f"flash_attn_2_cuda{_suffix()}: undefined symbol: {MISSING_SYMBOL}")
    (finding,) = about(ext_run, "flash-attn")
    assert finding["code"] == "DD520"  # the static finding names the root cause, once
    assert MISSING_SYMBOL in finding["title"]
    (probe,) = [e for e in finding["explains"] if e["code"] == "DD526"]
    assert probe["title"] == (
        f"`import flash_attn` (flash-attn 2.7.4) fails: flash_attn_2_cuda{_suffix()} was built "
        f"against another torch than the installed one (undefined symbol {MISSING_SYMBOL})"
    )
    assert finding["fixes"] and "--no-build-isolation" in finding["fixes"][0]["commands"][-1]


def _suffix() -> str:
    import sysconfig

    return str(sysconfig.get_config_var("EXT_SUFFIX"))


def test_an_import_that_hangs_is_killed_at_the_timeout(ext_run):
    hung = records(ext_run)["torch-geometric"]
    assert hung["status"] == "timeout" and hung["during"] == "import torch_geometric"
    assert hung["process"]["timed_out"] and hung["process"]["signal"] == "SIGKILL"
    (finding,) = about(ext_run, "torch-geometric")
    assert finding["code"] == "DD526"
    assert finding["title"] == (
        f"`import torch_geometric` (torch-geometric 2.7.0) did not finish within "
        f"{float(TIMEOUT_S)} s and was killed"
    )


def test_an_import_that_segfaults_is_a_crash_with_its_python_stack(ext_run):
    crashed = records(ext_run)["triton"]
    assert crashed["status"] == "crash" and crashed["process"]["signal"] == "SIGSEGV"
    assert crashed["output"][0] == "Fatal Python error: Segmentation fault"
    assert any("triton/__init__.py" in line for line in crashed["output"])
    (finding,) = about(ext_run, "triton")
    assert (
        finding["title"]
        == "`import triton` (triton 3.7.0) crashed with SIGSEGV during import triton"
    )
    assert finding["fixes"][0]["commands"][-1][-2:] == ["--force-reinstall", "triton==3.7.0"]


def test_an_import_killing_its_process_group_takes_only_its_child(ext_run):
    killed = records(ext_run)["deepspeed"]
    assert killed["status"] == "crash" and killed["process"]["signal"] == "SIGKILL"
    (finding,) = about(ext_run, "deepspeed")
    assert finding["title"] == (
        "`import deepspeed` (deepspeed 0.18.0) crashed with SIGKILL during import deepspeed"
    )


def test_megabytes_of_escape_sequences_are_bounded_and_cleaned(ext_run):
    flooded = records(ext_run)["torchaudio"]
    assert flooded["status"] == "fail"
    assert flooded["process"]["protocol_errors"] == 0  # its fake "end" on stdout is not a message
    output = flooded["import"]["output"]
    assert 0 < len(output) <= 40 and all(len(line) <= 400 for line in output)
    assert len(json.dumps(flooded)) < 64 << 10
    text = json.dumps(ext_run["report"]) + ext_run["stdout"] + ext_run["stderr"]
    assert "\x1b" not in text and "\\u001b" not in text and "\x07" not in text
    (finding,) = about(ext_run, "torchaudio")
    assert finding["code"] == "DD526"
    assert finding["title"].startswith(
        "`import torchaudio` (torchaudio 2.13.0) fails: RuntimeError:"
    )
    assert finding["title"].endswith("torchaudio: libsox setup failed")


def test_a_wrong_torchvision_nms_is_reported_with_the_numbers(ext_run):
    vision = records(ext_run)["torchvision"]
    (nms,) = vision["smoke"]
    assert nms["status"] == "fail" and nms["device"] == "cpu"
    assert nms["expected"] == {"0.5": [0, 2], "0.75": [0, 1, 2]}
    assert nms["got"] == {"0.5": [0], "0.75": [0]}
    (finding,) = about(ext_run, "torchvision")
    assert finding["code"] == "DD527"
    assert finding["title"].startswith("torchvision 0.28.0: nms on cpu gave a wrong result")


def test_a_right_torchvision_nms_passes_and_triton_s_kernel_waits_for_a_gpu(tmp_path):
    site = extension_site(
        tmp_path / "site", tmp_path / "scratch", TORCH_LIB, nms=NMS_OK, triton=TRITON_OK
    )
    facts = Facts(
        system={"cpu": {"usable_cores": 2}, "memory": {"total_bytes": 8 << 30}},
        packages={
            "frameworks": {"torch": {"distributions": [{"name": "torch"}]}},
            "distributions": [{"name": "torch"}, {"name": "torchvision"}, {"name": "triton"}],
        },
    )
    from dldoctor.matrix import load

    env = {**os.environ, "PYTHONPATH": str(site)}
    options = ProbeOptions(python=sys.executable, frameworks=("torch",), timeout_s=60.0, env=env)
    events: list[Any] = []
    section = run_probes(facts, load(), dataclasses.replace(options), on_event=events.append)
    ended = {e.framework: e.record["status"] for e in events if e.kind == "end"}
    assert ended == {"torch": "pass", "torchvision": "pass", "triton": "pass"}  # live display
    (nms,) = section["extensions"]["torchvision"]["smoke"]
    assert nms["status"] == "pass" and nms["got"] == {"0.5": [0, 2], "0.75": [0, 1, 2]}
    (kernel,) = section["extensions"]["triton"]["smoke"]  # the real code path, up to the GPU
    assert (kernel["test"], kernel["device"], kernel["status"]) == (
        "kernel-compile",
        "cuda",
        "skip",
    )
    assert kernel["detail"] == "no CUDA GPU visible to torch: a triton kernel compiles only for one"
    assert section["extensions"]["triton"]["status"] == "pass"


def test_quick_probes_no_extension_but_judges_their_files(tmp_path):
    site = extension_site(tmp_path / "site", tmp_path / "scratch", TORCH_LIB)
    run = _check(site, tmp_path / "report.json", "--quick")
    runtime = run["report"]["facts"]["runtime"]
    assert runtime["ran"] is False and "extensions" not in runtime
    (finding,) = about(run, "flash-attn")
    assert finding["code"] == "DD520" and not finding["explains"]


def test_an_extension_in_a_real_venv_is_probed_with_that_interpreter(tmp_path):
    """--python: the venv's own interpreter imports torch (this venv's, by a .pth) and the
    gcc-built extension installed in the venv's site-packages."""
    import sysconfig

    root = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120
    )
    site = next(root.glob("lib/python*/site-packages"))
    (site / "dldoctor_test_torch.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    scratch = tmp_path / "scratch"
    from tests.probes.ext_fakes import compiled_module, dist_info, package

    so = compiled_module(site, scratch, "flash_attn_2_cuda", TORCH_LIB)
    files = package(site, "flash_attn", {"__init__.py": "import flash_attn_2_cuda\n"})
    dist_info(site, "flash-attn", "2.7.4", [so, *files])
    done = subprocess.run(
        [sys.executable, "-m", "dldoctor", "check", "--python", str(root / "bin" / "python"),
         "--framework", "torch", "--timeout", str(TIMEOUT_S), "--format", "json"],
        capture_output=True, text=True, timeout=600, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    report = json.loads(done.stdout)
    runtime = report["facts"]["runtime"]
    assert runtime["python"] == str(root / "bin" / "python")
    flash = runtime["extensions"]["flash-attn"]
    assert flash["import"]["file"] is None and MISSING_SYMBOL in flash["import"]["error"]["message"]
    assert str(site) in flash["import"]["error"]["message"]  # the venv's copy was imported
    (finding,) = about({"report": report}, "flash-attn")
    assert finding["code"] == "DD520" and [e["code"] for e in finding["explains"]] == ["DD526"]
    assert finding["fixes"][0]["commands"][-1][0] == str(root / "bin" / "python")
