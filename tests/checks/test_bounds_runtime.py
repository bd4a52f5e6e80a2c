"""DD601 and DD606-DD609 (checks/runtime) from the rule: what a crash, a hang, a failed smoke
test and an illegal instruction say, the process evidence a user reads, and each one's fix."""

from __future__ import annotations

from typing import Any

from dldoctor.checks import runtime
from dldoctor.checks.registry import run_checks
from dldoctor.matrix import load
from tests.checks.bounds import windows
from tests.checks.scenarios import make_facts, shown_all
from tests.checks.test_runtime import TORCH_CU121, error, record
from tests.checks.test_runtime import runtime as runtime_facts

MATRIX = load()
OOM = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB"


def _findings(code: str, *overrides: dict[str, Any]):
    (found,) = [o for o in run_checks(make_facts(*overrides), MATRIX) if o.code == code]
    return found.findings


def _crash(**process: Any) -> dict[str, Any]:
    base = {"exit_code": -11, "signal": "SIGSEGV", "timed_out": False, "output_tail": ["tail"]}
    return record(status="crash", reason="crashed with SIGSEGV during import torch",
                  during="import torch", process={**base, **process})  # fmt: skip


def test_a_crash_gets_a_clean_reinstall_of_its_build_and_the_process_evidence():
    torch = _crash(exception=None, memory_limit_bytes=1 << 30)
    torch["output"] = [f"line {i}" for i in range(14)]
    (finding,) = _findings("DD607", TORCH_CU121, runtime_facts(torch=torch))
    assert finding.title == "PyTorch 2.5.1+cu121 crashed with SIGSEGV during import torch"
    assert finding.evidence == {
        "framework": "torch",
        "during": "import torch",
        "signal": "SIGSEGV",
        "exit_code": -11,
        "exception": None,
        "last_output": [f"line {i}" for i in range(2, 14)],  # the last twelve
        "memory_limit_bytes": 1 << 30,
        "cause": None,
    }
    assert finding.detail == "\n".join(f"line {i}" for i in range(2, 14))
    (remedy,) = finding.fixes
    assert (
        "--force-reinstall" in shown_all(remedy)[0] and "torch==2.5.1+cu121" in shown_all(remedy)[0]
    )


def test_a_crash_without_output_keeps_the_process_tail_and_a_plain_reason():
    torch = _crash()
    torch["reason"] = ""
    (finding,) = _findings("DD607", TORCH_CU121, runtime_facts(torch=torch))
    assert finding.title == "PyTorch 2.5.1+cu121 crashed"
    assert finding.evidence["last_output"] == ["tail"]


def test_sigkill_and_windows_no_memory_are_out_of_memory_not_a_reinstall():
    for process in (
        {"signal": "SIGKILL"},
        {"signal": None, "exception": "STATUS_NO_MEMORY (0xC0000017)"},
    ):
        torch = _crash(**process)
        (finding,) = _findings("DD607", TORCH_CU121, runtime_facts(torch=torch))
        (remedy,) = finding.fixes
        assert remedy.summary.startswith("It ran out of memory (each probe was capped at 1.0 GiB")
        assert "Reinstall" not in remedy.summary


def test_out_of_memory_on_windows_points_at_the_commit_charge():
    torch = _crash(signal=None, exception="STATUS_NO_MEMORY")
    (finding,) = _findings("DD607", windows(), TORCH_CU121, runtime_facts(torch=torch))
    (remedy,) = finding.fixes
    assert remedy.summary == (
        "It ran out of memory (each probe was capped at 1.0 GiB: --memory-limit): check free "
        "memory and the commit charge (Task Manager, Performance, Memory: 'Committed'), or "
        "enlarge the page file."
    )


def test_out_of_memory_on_linux_points_at_the_oom_killer_without_a_cap_when_none_was_set():
    torch = _crash(signal="SIGKILL")
    facts = runtime_facts(torch=torch)
    facts["runtime"]["memory_limit_bytes"] = None
    (finding,) = _findings("DD607", TORCH_CU121, facts)
    assert finding.fixes[0].summary == (
        "It ran out of memory: check free memory (`free -h`) and the kernel log for the OOM "
        "killer's lines (Out of memory: Killed process …)."
    )


def test_an_import_that_ran_out_of_memory_gets_the_memory_fix():
    torch = record(status="fail")
    torch["import"] = {"module": "torch", "ok": False, "error": error("RuntimeError", OOM)}
    (finding,) = _findings("DD601", TORCH_CU121, runtime_facts(torch=torch))
    assert finding.fixes[0].summary.startswith("It ran out of memory")
    assert finding.evidence["traceback"] == []


def test_an_import_error_keeps_its_traceback_as_evidence():
    torch = record(status="fail")
    failed = error("ImportError", "something")
    failed["traceback"] = ["File x, line 1"]
    torch["import"] = {"module": "torch", "ok": False, "error": failed}
    (finding,) = _findings("DD601", TORCH_CU121, runtime_facts(torch=torch))
    assert finding.evidence["traceback"] == ["File x, line 1"]


def _failed(test: str, device: str, message: str | None = None, **extra: Any) -> dict[str, Any]:
    smoke = {"test": test, "device": device, "status": "fail", **extra}
    if message:
        smoke["error"] = error("RuntimeError", message)
    return smoke


def test_each_failed_smoke_test_gets_the_fix_its_test_and_words_call_for():
    torch = record(
        smoke=[
            _failed("memory", "cuda:0", OOM),
            _failed("all-reduce", "cuda:0", "NCCL error: unhandled system error"),
            _failed("matmul", "cuda:0", expected={"float32": 0}, got={"float32": 1}),
            _failed("matmul", "cpu", expected={"float32": 0}, got={"float32": 1}),
        ]
    )
    found = _findings("DD606", TORCH_CU121, runtime_facts(torch=torch))
    fixes = [[f.summary for f in finding.fixes] for finding in found]
    assert fixes == [
        [
            "Other processes hold the accelerator's memory: see `nvidia-smi` (the Processes "
            "table) and stop what should not be running."
        ],
        [
            "Rerun with NCCL_DEBUG=INFO to see which transport fails; in containers and VMs "
            "NCCL_P2P_DISABLE=1 or NCCL_SHM_DISABLE=1 often gets past broken peer-to-peer."
        ],
        [
            "Wrong numbers from a GPU point at the hardware or driver: check ECC errors "
            "(`nvidia-smi -q -d ECC`) and run NVIDIA's diagnostics (`dcgmi diag -r 2`)."
        ],
        [],  # wrong numbers on the CPU: no hardware diagnostics to name
    ]
    assert found[0].title == f"PyTorch 2.5.1+cu121: memory on cuda:0 failed: RuntimeError: {OOM}"
    assert found[0].evidence["cause"] == "out-of-memory"


def _sigill(key: str = "torch", **extra: Any) -> dict[str, Any]:
    process = {"exit_code": -4, "signal": "SIGILL", "timed_out": False, "output_tail": []}
    return record(status="crash", reason="crashed with SIGILL", process=process, **extra)


def test_an_illegal_instruction_names_the_cpus_flags_and_what_the_framework_said():
    cpu = {"system": {"cpu": {"model": "Old Xeon", "flags": ["sse4_2", "avx", "fma"]}}}
    said = [f"Illegal instruction (core dumped) {i}" for i in range(5)]
    torch = _sigill(output=said)
    (finding,) = _findings("DD609", cpu, TORCH_CU121, runtime_facts(torch=torch))
    assert finding.evidence["cpu_flags_present"] == ["avx", "fma"]
    assert finding.evidence["cause"] == "cpu-instructions"
    assert finding.evidence["framework_said"] == said[:3]
    assert finding.fixes[0].summary == (
        "Run on a CPU with AVX/AVX2 (in a VM, enable CPU passthrough: hypervisors may hide AVX), "
        "or use a build compiled without them."
    )


def test_a_windows_illegal_instruction_is_judged_for_every_framework():
    """STATUS_ILLEGAL_INSTRUCTION is Windows' SIGILL; a framework that did not crash before it
    leaves the next one judged."""
    crashed = _sigill()
    crashed["process"] = {"exit_code": 3221225501, "signal": None,
                          "exception": "STATUS_ILLEGAL_INSTRUCTION (0xC000001D)"}  # fmt: skip
    fine = record()
    fine["import"] = {"module": "jax", "ok": True, "version": "0.7.2", "error": None}
    (finding,) = _findings("DD609", TORCH_CU121, runtime_facts(jax=fine, torch=crashed))
    assert finding.evidence["framework"] == "torch"
    assert finding.title.endswith(": illegal instruction (STATUS_ILLEGAL_INSTRUCTION)")
    assert finding.evidence["exception"] == "STATUS_ILLEGAL_INSTRUCTION (0xC000001D)"


def test_the_ntstatus_name_is_the_first_word_of_the_exception():
    assert runtime._exception({"process": {"exception": "STATUS_NO_MEMORY (0xC0000017)"}}) == (
        "STATUS_NO_MEMORY"
    )
    assert runtime._exception({"process": {}}) == "" and runtime._exception({}) == ""


def test_out_of_memory_words_get_the_memory_fix_with_the_probes_cap_and_the_kernel_log():
    for limit, capped in (
        (1 << 30, " Each probe was capped at 1.0 GiB (--memory-limit)."),
        (None, ""),
    ):
        facts = runtime_facts(torch=record(output=[OOM]))
        facts["runtime"]["memory_limit_bytes"] = limit
        (finding,) = _findings("DD618", TORCH_CU121, facts)
        remedy = finding.fixes[0]
        assert remedy.summary == (
            "Free the memory: on a GPU, stop the processes `nvidia-smi` lists that should not run; "
            "on the host, check `free -h` and the kernel log for the OOM killer's lines (Out of "
            f"memory: Killed process …).{capped}"
        )
        assert remedy.commands == (("sudo", "dmesg", "--level=err,warn"),)


def test_a_crash_of_a_framework_without_a_known_distribution_has_no_reinstall():
    (finding,) = _findings("DD607", runtime_facts(mylib=_crash()))
    assert finding.title == "mylib 2.5.1+cu121 crashed with SIGSEGV during import torch"
    assert finding.fixes == ()
