"""Verdicts from the runtime probes: imports that fail, children that crash or hang, wrong numbers."""

from __future__ import annotations

from typing import Any

from dldoctor.checks import runtime_common as rt
from dldoctor.checks.registry import Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.fixes import runtime as fixes
from dldoctor.fixes.intents import fix as intent_fix
from dldoctor.matrix import Matrix
from dldoctor.matrix.signatures import Match
from dldoctor.model import Area, Fix, Intent, Severity

# --full only tests that a working installation may well fail (no C++ compiler for Inductor).
_OPTIONAL = ("compile",)


def _import_match(text: str, imported: dict[str, Any], matrix: Matrix) -> Match | None:
    """The signature that explains a failed import: the error's own words first, then what the
    import printed before failing (torch on Windows names the missing runtime there)."""
    for line in [text, *(imported.get("warnings") or []), *(imported.get("output") or [])]:
        found = matrix.signatures.scan(str(line))
        if found:
            return found[0]
    return None


def _import_fixes(
    facts: Facts, matrix: Matrix, key: str, module: str, companion: bool, match: Match | None
) -> tuple[Fix, ...]:
    kind = match.cause if match else None
    if kind in ("companion-operator", "extension-build-mismatch") and module in (
        "torchvision",
        "torchaudio",
    ):
        fix = fixes.paired_companion(facts, matrix, module)
        return (fix,) if fix else ()
    if match and match.code == "DD601" and match.signature.advice:
        # A cause no reinstall fixes (a runtime missing, an extension built for another torch).
        signature = match.signature
        notes = f"Source: {signature.source}"
        return (intent_fix(signature.advice, *signature.intents, facts=facts, notes=notes),)
    if kind == "numpy-abi":
        return (fixes.numpy_below_2(facts),)
    if kind == "numpy-aliases":
        return (fixes.numpy_below_1_24(facts),)
    if kind == "out-of-memory":
        return (_out_of_memory(facts),)
    dist = q.installed(facts, module) if companion else rt.distribution(facts, key)
    if not dist or not dist.get("version"):
        return ()
    name = q.canonical(str(dist["name"]))
    return (fixes.reinstall(facts, matrix, name, str(dist["version"]), "its files may be broken"),)


def _out_of_memory(facts: Facts) -> Fix:
    limit = (facts.runtime or {}).get("memory_limit_bytes")
    capped = f" (each probe was capped at {limit / 2**30:.1f} GiB: --memory-limit)" if limit else ""
    if (facts.system.get("os") or {}).get("name") == "Windows":  # no free(1), no OOM killer log
        return Fix(
            f"It ran out of memory{capped}: check free memory and the commit charge "
            "(Task Manager, Performance, Memory: 'Committed'), or enlarge the page file."
        )
    return intent_fix(
        f"It ran out of memory{capped}: check free memory (`free -h`) and the kernel log for the "
        "OOM killer's lines (Out of memory: Killed process …).",
        Intent(action="diagnose", value="kernel-errors"),
        facts=facts,
    )


@check(
    "DD601",
    "framework-import-fails",
    "An installed framework (or its companion) fails to import",
    Area.FRAMEWORKS,
)
def framework_import_fails(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: the distribution metadata says a framework (or torchvision, torchaudio, tf-keras) is
    installed, but importing it in a fresh interpreter raises.

    Why: nothing that uses it can run; metadata-only tools report this environment as healthy.

    Fix: depends on the error, quoted verbatim: the companion release paired with torch
    ("operator torchvision::nms does not exist"), NumPy 1.x for binaries built against it, an
    extension built for the installed torch (an undefined c10 symbol), the runtime the framework
    says is missing (the Visual C++ Redistributable), or a clean reinstall.
    """
    verdicts = []
    for key, record in rt.probed(facts).items():
        attempts = [("", record.get("import") or {})]
        attempts += list((record.get("companions") or {}).items())
        for companion, imported in attempts:
            if not isinstance(imported, dict) or imported.get("ok") is not False:
                continue
            text = rt.error_text(imported.get("error"))
            module = imported.get("module") or key
            what = f"`import {module}`" + (f" ({rt.label(key)}'s companion)" if companion else "")
            match = _import_match(text, imported, matrix)
            # The error quoted, unless only what was printed before it names the cause.
            said_before = match is not None and match.code == "DD601" and match.line not in text
            verdicts.append(
                Verdict(
                    Severity.ERROR,
                    f"{what} fails although it is installed: "
                    + (
                        match.title(rt.version_label(facts, key, record))
                        if match is not None and said_before
                        else rt.first_line(text)
                    ),
                    evidence={
                        "framework": key,
                        "cause": match.cause if match else None,
                        "module": module,
                        "error": text,
                        "traceback": (imported.get("error") or {}).get("traceback") or [],
                    },
                    fixes=_import_fixes(facts, matrix, key, module, bool(companion), match),
                )
            )
    return verdicts


def _compiler(facts: Facts) -> tuple[str, ...]:
    """A compiler; the distribution's Python headers too when this Python is the system's own
    (a venv of /usr/bin/python3): pyenv, conda and python.org builds ship their Python.h."""
    base = facts.python.get("base_prefix")
    return ("c-compiler", "python-headers") if base in ("/usr", None) else ("c-compiler",)


def _smoke_fix(facts: Facts, matrix: Matrix, smoke: dict[str, Any], text: str) -> tuple[Fix, ...]:
    test, device = smoke.get("test"), str(smoke.get("device"))
    if test == "compile":
        return (
            intent_fix(
                "torch.compile needs a working C/C++ compiler (and Python headers) for its CPU "
                "backend; install one, or leave torch.compile unused.",
                Intent(action="system-package", names=_compiler(facts)),
                facts=facts,
            ),
        )
    if rt.cause(text, matrix) == "out-of-memory":
        return (
            Fix(
                "Other processes hold the accelerator's memory: see `nvidia-smi` "
                "(the Processes table) and stop what should not be running."
            ),
        )
    if test == "all-reduce":
        return (
            Fix(
                "Rerun with NCCL_DEBUG=INFO to see which transport fails; in containers and VMs "
                "NCCL_P2P_DISABLE=1 or NCCL_SHM_DISABLE=1 often gets past broken peer-to-peer.",
            ),
        )
    if device != "cpu" and not smoke.get("error"):
        return (
            Fix(
                "Wrong numbers from a GPU point at the hardware or driver: check ECC errors "
                "(`nvidia-smi -q -d ECC`) and run NVIDIA's diagnostics (`dcgmi diag -r 2`).",
            ),
        )
    return ()


@check(
    "DD606",
    "smoke-test-failed",
    "A framework computed a wrong result, or failed to compute, on a device",
    Area.FRAMEWORKS,
)
def smoke_test_failed(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: a smoke test (gradient of x²+3x, a compiled graph, fitting y=3x+1, a convolution
    forward and backward, a matmul with bias or against a float64 reference, a kernel compiled at
    run time, a large allocation, a mixed-precision step, an all-reduce) gave a wrong number or
    raised, on the CPU or an accelerator.

    Why: the framework imports and lists the device, yet training on it would fail or, worse,
    silently compute garbage.

    Fix: depends on the test and the error (quoted verbatim): a compiler for torch.compile, free
    GPU memory, NCCL transport settings, or hardware diagnostics for wrong numbers.
    """
    verdicts = []
    for key, record in rt.probed(facts).items():
        for smoke in record.get("smoke") or []:
            if smoke.get("status") != "fail" or rt.deployment(smoke):  # DD620 judges chains
                continue
            text = rt.error_text(smoke.get("error"))
            where = f"{rt.version_label(facts, key, record)}: {smoke.get('test')} on {smoke.get('device')}"
            if text:
                title = f"{where} failed: {rt.first_line(text)}"
            else:
                title = f"{where} gave a wrong result: expected {smoke.get('expected')}, got {smoke.get('got')}"
            optional = smoke.get("test") in _OPTIONAL
            verdicts.append(
                Verdict(
                    Severity.WARNING if optional else Severity.ERROR,
                    title,
                    evidence={
                        "framework": key,
                        # The error's own words first; else what the test printed while
                        # it failed (NumPy's ABI warning precedes MindSpore's SystemError).
                        "cause": rt.cause(text, matrix)
                        or rt.cause("\n".join(map(str, smoke.get("output") or [])), matrix),
                        **{k: v for k, v in smoke.items() if k != "output"},
                    },
                    fixes=_smoke_fix(facts, matrix, smoke, text),
                    detail="\n".join(smoke.get("output") or []),
                )
            )
    return verdicts


def _process_evidence(key: str, record: dict[str, Any]) -> dict[str, Any]:
    process = record.get("process") or {}
    return {
        "framework": key,
        "during": record.get("during"),
        "signal": process.get("signal"),
        "exit_code": process.get("exit_code"),
        "exception": process.get("exception"),  # native Windows: the NTSTATUS of the crash
        "last_output": (record.get("output") or [])[-12:] or process.get("output_tail") or [],
        "memory_limit_bytes": process.get("memory_limit_bytes"),
    }


def _exception(record: dict[str, Any]) -> str:
    """The NTSTATUS name a Windows child died of ("STATUS_ACCESS_VIOLATION"), else ""."""
    return str((record.get("process") or {}).get("exception") or "").split(" ")[0]


def _sigill(record: dict[str, Any], matrix: Matrix) -> bool:
    signal = (record.get("process") or {}).get("signal")
    illegal = signal == "SIGILL" or _exception(record) == "STATUS_ILLEGAL_INSTRUCTION"
    return illegal or bool(rt.with_cause(record, "cpu-instructions", matrix))


@check(
    "DD607",
    "probe-crashed",
    "A framework crashed its process (segmentation fault, abort)",
    Area.FRAMEWORKS,
)
def probe_crashed(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: the child process probing a framework died: killed by a signal (SIGSEGV, SIGABRT,
    SIGBUS, SIGKILL; on Windows an exception such as STATUS_ACCESS_VIOLATION) or exited without
    finishing, during its import, its CUDA initialisation or a smoke test.

    Why: a script using the framework dies the same way, usually without a Python traceback:
    mismatched native libraries, a broken install, or the kernel's out-of-memory killer.

    Fix: reinstall the framework cleanly; the evidence holds its last output (with the Python
    stack at the crash) and the phase it died in.
    """
    verdicts = []
    for key, record in rt.probed(facts).items():
        if record.get("status") != "crash" or _sigill(record, matrix):
            continue
        process = record.get("process") or {}
        signal = process.get("signal")
        how = record.get("reason") or "crashed"
        dist = rt.distribution(facts, key)
        remedies: list[Fix] = []
        out_of_memory = signal == "SIGKILL" or _exception(record) == "STATUS_NO_MEMORY"
        if out_of_memory or rt.with_cause(record, "out-of-memory", matrix):
            remedies.append(_out_of_memory(facts))
        elif dist and dist.get("version"):
            name = q.canonical(str(dist["name"]))
            remedies.append(
                fixes.reinstall(facts, matrix, name, str(dist["version"]), "a clean copy")
            )
        said = rt.said(record, matrix)
        verdicts.append(
            Verdict(
                Severity.ERROR,
                f"{rt.version_label(facts, key, record)} {how}",
                evidence={
                    **_process_evidence(key, record),
                    "cause": said[0].cause if said else None,
                },
                fixes=tuple(remedies),
                detail="\n".join((record.get("output") or [])[-12:]),
            )
        )
    return verdicts


_SLOW_PHASES = {
    "import": "An import that never returns is usually waiting on the kernel: a wedged driver "
    "(does `nvidia-smi` answer?), a process in D state (`ps -eo pid,stat,cmd | grep ' D'`), "
    "or a hung network file system holding site-packages.",
    "smoke": "A first GPU computation can take minutes when the build lacks code for the GPU and "
    "the driver JIT-compiles PTX; otherwise the GPU or driver is hung (check `nvidia-smi`).",
}


@check(
    "DD608",
    "probe-timed-out",
    "A framework did not answer within the probe timeout and was killed",
    Area.FRAMEWORKS,
)
def probe_timed_out(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: a framework's probe child did not finish within --timeout seconds (import, runtime
    facts or a smoke test) and was killed with its whole process group.

    Why: a script using the framework hangs the same way; nothing else in the report explains it.

    Fix: rerun with a longer --timeout to tell slow from stuck; if stuck, the phase says where to
    look (a wedged driver, a hung file system, PTX JIT compilation).
    """
    runtime = facts.runtime or {}
    verdicts = []
    for key, record in rt.probed(facts).items():
        if record.get("status") != "timeout":
            continue
        during = str(record.get("during") or "start-up")
        timeout = runtime.get("timeout_s")
        hint = _SLOW_PHASES.get(during.split(" ")[0], "")
        verdicts.append(
            Verdict(
                Severity.ERROR,
                f"{rt.version_label(facts, key, record)} did not finish {during} within {timeout} s "
                "and was killed",
                evidence=_process_evidence(key, record),
                fixes=(
                    intent_fix(
                        "Rerun with a longer timeout to tell slow from stuck.",
                        Intent(
                            action="diagnose",
                            value="dldoctor",
                            names=("--framework", key, "--timeout", "600"),
                        ),
                        facts=facts,
                        notes=hint,
                    ),
                ),
            )
        )
    return verdicts


@check(
    "DD609",
    "illegal-instruction",
    "A framework died with SIGILL or refused to load: the CPU lacks an instruction it uses",
    Area.FRAMEWORKS,
)
def illegal_instruction(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: a framework's child died with SIGILL ("Illegal instruction"), or the framework said
    it was compiled for instructions (AVX, AVX2, AVX-512) this CPU lacks.

    Why: official binaries assume AVX on x86-64; an old CPU, or a VM hiding AVX from a CPU that has
    it, cannot run them at all.

    Fix: run on a CPU (or VM configuration) exposing the instructions, or use a build made
    without them.
    """
    cpu = facts.system.get("cpu") or {}
    flags = [f for f in ("avx", "avx2", "avx512f", "fma") if f in (cpu.get("flags") or [])]
    verdicts = []
    for key, record in rt.probed(facts).items():
        if not _sigill(record, matrix):
            continue
        said = rt.with_cause(record, "cpu-instructions", matrix)
        dist = rt.distribution(facts, key) or {}
        rule = next(
            (
                r
                for r in matrix.cpu_rules
                if q.canonical(str(dist.get("name", ""))) in r.distributions
            ),
            None,
        )
        evidence = _process_evidence(key, record)
        evidence.update(
            cause="cpu-instructions",
            cpu_model=cpu.get("model"),
            cpu_flags_present=flags,
            framework_said=[text for _, text in said][:3],
            rule=rule.message if rule else None,
        )
        verdicts.append(
            Verdict(
                Severity.ERROR,
                f"{rt.version_label(facts, key, record)} cannot run on this CPU "
                f"({cpu.get('model') or 'unknown model'}): "
                + (
                    rt.first_line(said[0][1])
                    if said
                    else f"illegal instruction ({_exception(record) or 'SIGILL'})"
                ),
                evidence=evidence,
                fixes=(_rosetta_fix(facts) if _under_rosetta(facts) else _cpu_fix(rule),),
            )
        )
    return verdicts


def _under_rosetta(facts: Facts) -> bool:
    """An x86_64 Python on Apple silicon: Rosetta 2 translates it, without AVX."""
    apple = (facts.accelerators or {}).get("apple") or {}
    return facts.python.get("machine") == "x86_64" and apple.get("hardware_arm64") is True


def _rosetta_fix(facts: Facts) -> Fix:
    return Fix(
        "This Python is an x86_64 build running under Rosetta 2 on Apple silicon, and Rosetta "
        "does not translate AVX: use a native arm64 Python (an arm64 conda/Homebrew/python.org "
        "build) with the framework's arm64 build.",
        notes="https://developer.apple.com/documentation/apple-silicon/about-the-rosetta-translation-environment",
    )


def _cpu_fix(rule: Any) -> Fix:
    return Fix(
        "Run on a CPU with AVX/AVX2 (in a VM, enable CPU passthrough: hypervisors "
        "may hide AVX), or use a build compiled without them.",
        notes=rule.source if rule else "",
    )
