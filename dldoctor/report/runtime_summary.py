"""One plain phrase per probed framework ("imports · smoke 3/3 on cpu"), shared by the views."""

from __future__ import annotations

from typing import Any

from dldoctor.facts.model import Facts

JSON = dict[str, Any]


def _short(text: str, limit: int = 110) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def smoke_counts(record: JSON, chains: bool = False) -> str:
    """'smoke 3/3 on cpu, 5/6 on cuda:0' (skipped tests are not counted); with ``chains``, the
    deployment chains' instead: 'deploy 1/1 on cpu'."""
    per_device: dict[str, list[int]] = {}
    for smoke in record.get("smoke") or []:
        if not isinstance(smoke, dict) or smoke.get("status") == "skip":
            continue
        if isinstance(smoke.get("chain"), str) != chains:
            continue
        counts = per_device.setdefault(str(smoke.get("device")), [0, 0])
        counts[0] += smoke.get("status") == "pass"
        counts[1] += 1
    if not per_device:
        return ""
    word = "deploy " if chains else "smoke "
    return word + ", ".join(f"{p}/{t} on {d}" for d, (p, t) in per_device.items())


def note(key: str, record: JSON) -> str:
    """What the probe of one framework found, in a few words."""
    status = record.get("status")
    if status in ("crash", "timeout", "skip", "interrupted"):
        return _short(str(record.get("reason") or status))
    imported = record.get("import") or {}
    if not imported.get("ok"):
        error = imported.get("error") or {}
        said = f"{error.get('type', 'error')}: {error.get('message') or ''}".rstrip(": ")
        return _short(f"import fails: {said}")
    info = record.get("info") or {}
    parts = ["imports" + (f" (backend {info['backend']})" if info.get("backend") else "")]
    broken = [n for n, c in (record.get("companions") or {}).items() if not c.get("ok")]
    if broken:
        parts.append(f"{', '.join(broken)} fails to import")
    devices = [
        d
        for d in record.get("devices") or []
        if isinstance(d, dict) and d.get("kind") not in ("cpu", "backend default")
    ]
    if devices:
        parts.append(f"sees {len(devices)} accelerator{'s' if len(devices) > 1 else ''}")
    for chains in (False, True):
        counts = smoke_counts(record, chains)
        if counts:
            parts.append(counts)
    return " · ".join(parts)


def runtime_note(facts: Facts, key: str) -> str:
    """The note for a framework of these facts, or '' when its probe did not run."""
    record = ((facts.runtime or {}).get("frameworks") or {}).get(key)
    return note(key, record) if isinstance(record, dict) else ""


def header(facts: Facts) -> str:
    """How the run went about the frameworks, for the report's first line."""
    runtime = facts.runtime or {}
    if str(runtime.get("reason") or "").startswith("pasted"):
        return "from a paste"
    if not runtime.get("ran"):
        return "interrupted" if runtime.get("interrupted") else "no framework imported"
    count = len(runtime.get("frameworks") or {})
    if not count:
        return "no framework to probe"
    return f"{count} framework{'s' if count > 1 else ''} probed in child processes"


# When a library was first seen mapped (schema 1.3's loaded_by).
_STAGES = {"import": ", at import", "facts": ", at start-up", "end": ", by the smoke tests"}


def details(facts: Facts) -> list[str]:
    """What -v adds under Frameworks: devices, each smoke test, the libraries really loaded."""
    lines = []
    for key, record in ((facts.runtime or {}).get("frameworks") or {}).items():
        if not isinstance(record, dict):
            continue
        devices = [str(d.get("id")) for d in record.get("devices") or [] if isinstance(d, dict)]
        took = record.get("duration_s")
        elsewhere = (record.get("info") or {}).get("imported_elsewhere")
        elsewhere = [str(m) for m in elsewhere[:5]] if isinstance(elsewhere, list) else []
        lines.append(
            f"{key}: {record.get('status')}"
            + (f" in {took:.1f} s" if isinstance(took, (int, float)) else "")
            + (f", devices {', '.join(devices)}" if devices else "")
            + (f" ({', '.join(elsewhere)}: left to its own probe)" if elsewhere else "")
        )
        for smoke in record.get("smoke") or []:
            said = f"expected {smoke.get('expected')}, got {smoke.get('got')}"
            if smoke.get("error"):
                error = smoke["error"]
                said = _short(f"{error.get('type')}: {error.get('message')}")
            elif smoke.get("status") == "skip":
                said = str(smoke.get("detail") or "")
            lines.append(
                f"{key} {smoke.get('test')} on {smoke.get('device')}: {smoke.get('status')} ({said})"
            )
        for lib in record.get("libraries") or []:
            when = _STAGES.get(str(lib.get("loaded_by")), "")
            lines.append(f"{key} loaded {lib.get('path')} ({lib.get('source')}{when})")
        for library, said in (record.get("versions") or {}).items():
            if isinstance(said, dict):
                loaded = said.get("loaded")
                loaded = loaded if isinstance(loaded, dict) else {}
                lines.append(
                    f"{key} {library}: built with {said.get('built') or '?'}, "
                    f"at run time {said.get('runtime') or '?'}"
                    + (f", loaded {loaded.get('path')}" if loaded.get("path") else "")
                )
        for failed in record.get("failed_loads") or []:
            if isinstance(failed, dict):
                lines.append(
                    f"{key} could not load {failed.get('library')}: {_short(str(failed.get('error')))}"
                )
        for kind, said in (record.get("device_errors") or {}).items():
            if isinstance(said, dict) and said.get("error"):
                lines.append(f"{key} {kind} unavailable: {_short(str(said['error']))}")
        for warning in record.get("warnings") or []:
            lines.append(f"{key} warned: {_short(str(warning))}")
    return lines
