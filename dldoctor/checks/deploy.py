"""Verdict on the deployment chains (`check --full`): an export or runtime that fails where the
frameworks themselves work (torch → ONNX → ONNX Runtime / TensorRT, TensorFlow → TFLite)."""

from __future__ import annotations

from typing import Any

from dldoctor.checks import runtime_common as rt
from dldoctor.checks.registry import Unjudged, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.model import Facts
from dldoctor.fixes.intents import fix as intent_fix
from dldoctor.matrix import Matrix
from dldoctor.matrix.signatures import Match
from dldoctor.model import Area, Fix, Severity

JSON = dict[str, Any]
# The stages at which a chain's second framework (the runtime) is at work: before them only the
# exporting framework is.
RUNTIME_STAGES = ("load", "provider", "run", "compare")
# The probed framework that runs a chain's exported model: its own probe says whether it works.
RUNTIMES = {"onnx-export": "onnxruntime"}
# The tool at work past the export: the words are its own, and so is the finding (a library ONNX
# Runtime's provider misses says nothing of torch's GPU).
TOOLS = {"onnx-export": "onnxruntime", "tensorrt-engine": "tensorrt"}
PAST_EXPORT = ("load", "provider", "parse", "build", "run", "compare")


def _own_tests_pass(record: JSON) -> bool:
    """The framework imports and none of its own smoke tests failed (its chains aside)."""
    if not (record.get("import") or {}).get("ok"):
        return False
    own = [s for s in record.get("smoke") or [] if not rt.deployment(s)]
    return not any(s.get("status") in ("fail", "crash", "timeout") for s in own)


def _runtime_works(records: dict[str, JSON], name: str, device: str) -> bool | None:
    """Whether the runtime's own probe passed on ``device`` (its provider loaded); None: it was
    not probed (unknown)."""
    record = records.get(name)
    if record is None:
        return None
    if not _own_tests_pass(record):
        return False
    if device != "cpu":
        loaded = ((record.get("info") or {}).get("providers_loaded") or {}).get(device)
        if not isinstance(loaded, dict) or not loaded.get("loaded"):
            return False  # its own checks report the provider that does not load
    return True


def _match(smoke: JSON, matrix: Matrix) -> Match | None:
    """The first signature in the chain's error, then in what its tools printed."""
    for text in (rt.error_text(smoke.get("error")), "\n".join(map(str, smoke.get("output") or []))):
        found = matrix.signatures.scan(text) if text else []
        if found:
            return found[0]
    return None


def _fixes(facts: Facts, match: Match | None, smoke: JSON) -> tuple[Fix, ...]:
    if match is not None and match.signature.advice:
        signature = match.signature
        notes = f"Source: {signature.source}"
        if signature.intents:
            return (intent_fix(signature.advice, *signature.intents, facts=facts, notes=notes),)
        return (Fix(signature.advice, notes=notes),)
    if smoke.get("stage") == "provider":
        return (
            Fix(
                f"ONNX Runtime dropped {smoke.get('device')} for the CPU: its GPU providers need the "
                "CUDA and cuDNN (TensorRT: libnvinfer) of the CUDA major the onnxruntime-gpu build "
                "was made for, on the library path; the lines it logged name the one it missed.",
                notes="Source: https://onnxruntime.ai/docs/execution-providers/"
                "CUDA-ExecutionProvider.html#requirements",
            ),
        )
    if smoke.get("stage") == "compare":
        return (
            Fix(
                "The exported model computes other numbers than the framework: try the other "
                "exporter (torch.onnx.export's dynamo=True/False) and the newest runtime, and "
                "report the model to the exporter's issue tracker with both outputs.",
            ),
        )
    return ()


def _about(key: str, smoke: JSON) -> str:
    """Whom the failure is about: the exporting framework, or the tool past the export."""
    tool = TOOLS.get(str(smoke.get("test")))
    return tool if tool and smoke.get("stage") in PAST_EXPORT else key


def _title(facts: Facts, key: str, record: JSON, smoke: JSON, match: Match | None) -> str:
    chain = smoke.get("chain") or smoke.get("test")
    where = f"{rt.version_label(facts, key, record)}: {chain} on {smoke.get('device')}"
    stage = smoke.get("stage") or "?"
    if match is not None:  # past the export, the words are the runtime's
        return f"{where} fails at {stage}: {match.title(rt.label(_about(key, smoke)))}"
    if stage == "compare":
        return (
            f"{where}: the runtime and the framework disagree: max |Δ| {smoke.get('got')}, "
            f"expected {smoke.get('expected')}"
        )
    return f"{where} fails at {stage}: {rt.first_line(rt.error_text(smoke.get('error')))}"


@check(
    "DD620",
    "deployment-path-fails",
    "A deployment chain (torch → ONNX → ONNX Runtime/TensorRT, TensorFlow → TFLite) fails "
    "although the frameworks work",
    Area.FRAMEWORKS,
)
def deployment_path_fails(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: under --full, a deployment chain broke while both its ends work: a Linear+ReLU and
    a convolution exported with torch.onnx.export and run by ONNX Runtime (CPU, then its CUDA and
    TensorRT providers, checked used with session.get_providers()) or built into a TensorRT
    engine, a dense layer through TensorFlow's TFLiteConverter and interpreter, outputs compared
    with the framework's own. The causes: the exporter's packages missing (onnx and onnxscript
    for torch 2.9+'s default dynamo exporter), a model newer than the runtime reads, a provider
    the session silently dropped for the CPU, numbers that disagree.

    Why: training works, so nothing else in the report is wrong, yet the model cannot ship, or
    ships computing other numbers.

    Fix: the signature's remedy for the words the tool printed (install onnx and onnxscript; a
    newer onnxruntime for a newer model IR), or, for numbers that disagree, the other exporter.
    """
    records = rt.probed(facts)
    verdicts: list[Verdict | Unjudged] = []
    for key, record in records.items():
        failed = [s for s in record.get("smoke") or [] if rt.deployment(s)]
        failed = [s for s in failed if s.get("status") == "fail"]
        if not failed or not _own_tests_pass(record):
            continue  # a framework that fails its own tests: DD606 has the cause
        for smoke in failed:
            device, stage = str(smoke.get("device")), smoke.get("stage")
            if device != "cpu" and not q.gpus(facts):
                continue  # a GPU provider on a machine NVML lists no GPU on judges nothing
            runtime = RUNTIMES.get(str(smoke.get("test")))
            if runtime and stage in RUNTIME_STAGES:
                works = _runtime_works(records, runtime, device)
                if works is None:
                    verdicts.append(Unjudged(f"{rt.label(key)} → {runtime}", "runtime.frameworks."
                                             f"{runtime}"))  # fmt: skip
                    continue
                if not works:
                    continue  # the runtime's own finding names the cause
            match = _match(smoke, matrix)
            numbers = stage == "compare" and match is None
            severity = Severity.ERROR if numbers else Severity.WARNING
            if match is not None and match.signature.severity == "error":
                severity = Severity.ERROR
            verdicts.append(
                Verdict(
                    severity,
                    _title(facts, key, record, smoke, match),
                    evidence={
                        "framework": _about(key, smoke),
                        "exported_by": key,
                        "cause": match.cause if match else ("deploy-numerics" if numbers else None),
                        "signature": match.to_dict() if match else None,
                        **{k: v for k, v in smoke.items() if k != "output"},
                    },
                    fixes=_fixes(facts, match, smoke),
                    detail="\n".join(smoke.get("output") or []),
                )
            )
    return verdicts
