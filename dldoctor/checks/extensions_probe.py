"""DD526-DD527: what each extension did when imported in its own child (facts.runtime.extensions)."""

from __future__ import annotations

from typing import Any

from dldoctor.checks import runtime_common as rt
from dldoctor.checks.registry import NotApplicable, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import Unknown
from dldoctor.facts.model import Facts
from dldoctor.fixes import extensions as fx
from dldoctor.fixes import runtime as fixes
from dldoctor.fixes.intents import fix as intent_fix
from dldoctor.matrix import Matrix
from dldoctor.matrix.signatures import Match
from dldoctor.model import Area, Fix, Intent, Severity

JSON = dict[str, Any]
# Causes whose fix is the extension's build for the installed torch (or the paired companion).
_FOR_TORCH = ("extension-build-mismatch", "companion-operator")


def probed(facts: Facts) -> dict[str, JSON]:
    """Each probed extension's record; NotApplicable when no probe ran (or none existed then)."""
    runtime = facts.runtime or {}
    if not runtime.get("ran"):
        raise NotApplicable(str(runtime.get("reason") or "runtime probes did not run"))
    if "extensions" not in runtime:
        raise NotApplicable("no extension probes (a report written before they existed)")
    records = runtime.get("extensions") or {}
    return {
        k: v for k, v in records.items() if isinstance(v, dict) and v.get("status") != "interrupted"
    }


def _static(facts: Facts, name: str) -> JSON:
    """The extension's static build facts (packages.extensions), or what the probe knows."""
    for ext in (facts.packages.get("extensions") or {}).get("installed") or []:
        if q.canonical(str(ext.get("key") or "")) == name:
            return dict(ext)
    try:
        dist = q.installed(facts, name) or {}
    except Unknown:  # no distribution list (a partial report): the probe's own words only
        dist = {}
    return {"key": name, "version": dist.get("version"), "framework": None}


def _label(ext: JSON) -> str:
    return f"{ext.get('key')} {ext.get('version')}" if ext.get("version") else str(ext.get("key"))


def _match(record: JSON, matrix: Matrix) -> Match | None:
    """The signature the import's error shows, else what the import or the child printed."""
    found = rt.said(record, matrix)
    return found[0].match if found else None


def _fixes(facts: Facts, matrix: Matrix, ext: JSON, match: Match | None) -> tuple[Fix, ...]:
    key = str(ext.get("key"))
    if match is not None and match.cause in _FOR_TORCH:
        if key in fx.COMPANIONS:
            found = fixes.paired_companion(facts, matrix, key)
        else:
            found = fx.for_torch(facts, matrix, ext)
        if found is not None:
            return (found,)
    if match is not None and match.signature.advice:
        signature = match.signature
        notes = f"Source: {signature.source}"
        return (intent_fix(signature.advice, *signature.intents, facts=facts, notes=notes),)
    version = ext.get("version")
    if not version:
        return ()
    return (fixes.reinstall(facts, matrix, key, str(version), "its files may be broken"),)


def _evidence(name: str, ext: JSON, record: JSON, match: Match | None) -> JSON:
    imported = record.get("import") or {}
    # How its child ended is this extension's only when it ended the child: one probed in
    # torch's child after torch shares that child's end with what ran after it.
    ended = record.get("status") in ("crash", "timeout")
    process = (record.get("process") or {}) if ended else {}
    return {
        "framework": ext.get("framework") or "torch",
        "extension": name,
        "version": ext.get("version"),
        "module": imported.get("module"),
        "status": record.get("status"),
        "during": record.get("during"),
        "cause": match.cause if match else None,
        "said": match.to_dict() if match else None,
        "error": rt.error_text(imported.get("error")),
        "signal": process.get("signal"),
        "last_output": (record.get("output") or [])[-12:]
        or (process.get("output_tail") or [])[-12:],
    }


@check(
    "DD526",
    "extension-import-fails",
    "An installed extension library fails to import (raises, crashes or hangs) after its framework",
    Area.PACKAGES,
)
def extension_import_fails(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: importing an extension (flash_attn, xformers, torchvision...) after torch's probe,
    in torch's probe child, raised, crashed the child (SIGSEGV) or did not finish within the
    probe timeout. Its words are read by the failure signatures ("undefined symbol:
    _ZN3c10..." is a build for another torch); where its static build facts already say why
    (DD520-DD523), this finding is their evidence.

    Why: every script using it fails the same way, often long after start-up.

    Fix: depends on the cause: its build for the installed torch (the paired torchvision, the
    wheel from its index, a rebuild), the signature's advice, or a clean reinstall.
    """
    verdicts = []
    timeout = (facts.runtime or {}).get("timeout_s")
    for name, record in probed(facts).items():
        status = record.get("status")
        imported = record.get("import") or {}
        failed_import = imported.get("ok") is False
        died = status in ("crash", "timeout") and str(record.get("during") or "").startswith(
            ("import", "start-up")
        )
        if not failed_import and not died:
            continue
        ext = _static(facts, name)
        match = _match(record, matrix)
        during = str(record.get("during") or "")
        # "import xformers" names the module; a child stuck at "start-up" names none.
        module = imported.get("module") or (during[7:] if during.startswith("import ") else "")
        what = f"`import {module or name}` ({_label(ext)})"
        if status == "timeout":
            title = f"{what} did not finish within {timeout} s and was killed"
        elif status == "crash":
            title = f"{what} {record.get('reason') or 'crashed'}"
        elif match is not None:
            title = f"{what} fails: {match.title(str(ext.get('framework') or 'torch'))}"
        else:
            title = f"{what} fails: {rt.first_line(rt.error_text(imported.get('error')))}"
        remedies = _fixes(facts, matrix, ext, match)
        if status == "timeout":
            remedies = (
                intent_fix(
                    "Rerun with a longer timeout to tell slow from stuck.",
                    Intent(action="diagnose", value="dldoctor", names=("--timeout", "600")),
                    facts=facts,
                ),
            )
        verdicts.append(
            Verdict(
                Severity.ERROR,
                title,
                evidence=_evidence(name, ext, record, match),
                fixes=remedies,
                detail="\n".join((record.get("output") or imported.get("output") or [])[-12:]),
            )
        )
    return verdicts


@check(
    "DD527",
    "extension-call-failed",
    "An extension library imports but its small real call fails or computes a wrong result",
    Area.PACKAGES,
)
def extension_call_failed(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: after its import, an extension's probe child made one cheap real call (torchvision's
    NMS of three CPU boxes at two IoU thresholds; a triton vector add compiled and run on a
    GPU) and it raised, crashed or gave other numbers than expected.

    Why: an import that works says little about compiled ops: torchvision built for another
    torch imports, then fails with "operator torchvision::nms does not exist" at the first call.

    Fix: depends on the error: its build for the installed torch (the paired companion), the
    signature's advice, or a clean reinstall.
    """
    verdicts = []
    for name, record in probed(facts).items():
        during = str(record.get("during") or "")
        for smoke in record.get("smoke") or []:
            if smoke.get("status") not in ("fail", "crash", "timeout"):
                continue
            ext = _static(facts, name)
            text = rt.error_text(smoke.get("error"))
            found = matrix.signatures.scan(text) if text else []
            match = found[0] if found else _match(record, matrix)
            call = f"{smoke.get('test')} on {smoke.get('device')}"
            if smoke.get("status") in ("crash", "timeout"):
                said = record.get("reason") or f"ended during {during}"
            elif text:
                said = f"failed: {rt.first_line(text)}"
            else:
                said = (
                    f"gave a wrong result: expected {smoke.get('expected')}, got {smoke.get('got')}"
                )
            verdicts.append(
                Verdict(
                    Severity.ERROR,
                    f"{_label(ext)}: {call} {said}",
                    evidence={
                        **_evidence(name, ext, record, match),
                        "test": smoke.get("test"),
                        "device": smoke.get("device"),
                        "expected": smoke.get("expected"),
                        "got": smoke.get("got"),
                        "error": text,
                    },
                    fixes=_fixes(facts, matrix, ext, match),
                    detail="\n".join(smoke.get("output") or []),
                )
            )
    return verdicts
