"""Turn one child's messages and ending into a runtime record per framework (plain JSON).

The messages come from another interpreter running framework code: untrusted. Every field is
checked and coerced to the shape the report schema gives it; anything else is dropped.
"""

from __future__ import annotations

import os
import time
from typing import Any

from dldoctor.probes.runner import ChildOutcome
from dldoctor.report.clean import clean

JSON = dict[str, Any]
# "interrupted": the user stopped the run (Ctrl-C) before this probe finished; it judges nothing.
STATUSES = ("pass", "fail", "skip", "crash", "timeout", "interrupted")
TEXT_LIMIT = 4000
LIST_LIMIT = 60


def printable(value: str) -> str:
    """A framework's ANSI codes, CRs and NULs never reach a report: ``report.clean``, lines kept."""
    return clean(value, newlines=True)


def text(value: Any, limit: int = TEXT_LIMIT) -> str | None:
    return None if value is None else printable(str(value)[:limit])


def lines(value: Any, limit: int = LIST_LIMIT) -> list[str]:
    if not isinstance(value, list):
        return []
    return [printable(str(v)[:400]) for v in value[-limit:]]


def plain(value: Any, depth: int = 0) -> Any:
    """A bounded copy of a JSON value from the child: short strings, short lists, shallow."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return printable(value[:TEXT_LIMIT])
    if depth >= 6:
        return printable(repr(value)[:200])
    if isinstance(value, list):
        return [plain(v, depth + 1) for v in value[:LIST_LIMIT]]
    if isinstance(value, dict):
        items = list(value.items())[:LIST_LIMIT]
        return {printable(str(k)[:200]): plain(v, depth + 1) for k, v in items}
    return printable(repr(value)[:200])


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _error(value: Any) -> JSON | None:
    if not isinstance(value, dict):
        return None
    return {
        "type": text(value.get("type"), 200) or "Exception",
        "message": text(value.get("message")) or "",
        "traceback": lines(value.get("traceback"), 20),
    }


def _import(message: JSON) -> JSON:
    return {
        "module": text(message.get("module"), 200) or "?",
        "ok": message.get("ok") is True,
        "version": text(message.get("version"), 200),
        "file": text(message.get("file"), 1000),
        "duration_s": number(message.get("duration_s")),
        "error": _error(message.get("error")),
        "warnings": lines(message.get("warnings"), 20),
        "output": lines(message.get("output"), 40),
    }


def _smoke(message: JSON) -> JSON:
    status = message.get("status")
    result = {
        "test": text(message.get("test"), 100) or "?",
        "device": text(message.get("device"), 100) or "?",
        "status": status if status in STATUSES else "fail",
        "duration_s": number(message.get("duration_s")),
    }
    for key in ("expected", "got", "tolerance", "detail"):
        if key in message:
            result[key] = plain(message[key]) if key != "detail" else text(message[key], 400)
    for key in ("stage", "chain"):  # a deployment chain: where it broke, which chain it is
        if isinstance(message.get(key), str):
            result[key] = text(message[key], 100)
    if message.get("error") is not None:
        result["error"] = _error(message.get("error"))
    if message.get("output"):
        result["output"] = lines(message.get("output"), 12)
    return result


# When a library was first seen mapped: after the framework's import, after its runtime facts
# (device listing loads most CUDA libraries), or by the end (the smoke tests: cuDNN's
# sub-libraries, cuBLASLt, NVRTC load on first use).
STAGES = ("import", "facts", "end")
VERSION_LIBRARIES = 40
MAX_LIBRARIES = 200  # per framework, over all stages


def _library(value: Any, stage: str) -> JSON | None:
    if not isinstance(value, dict) or not isinstance(value.get("path"), str):
        return None
    return {
        "name": text(value.get("name"), 200) or os.path.basename(value["path"]),
        "path": printable(value["path"][:1000]),
        "version": text(value.get("version"), 50),
        "source": text(value.get("source"), 300),
        "loaded_by": stage,
    }


def _said_version(value: Any) -> tuple[str | None, str | None]:
    """(version, error): a framework's answer is a version, nothing, or the error it raised."""
    if isinstance(value, dict):
        return None, text(value.get("error"), 1000) or "error"
    if value is None or isinstance(value, bool):
        return None, None
    return text(value, 100), None


def _version(message: JSON) -> JSON:
    entry: JSON = {"built": None, "runtime": None, "how": text(message.get("how"), 300)}
    for key in ("built", "runtime"):
        entry[key], error = _said_version(message.get(key))
        if error:
            entry.setdefault("errors", {})[key] = error
    return entry


def new_record() -> JSON:
    return {
        "status": "skip",
        "reason": "",
        "duration_s": None,
        "import": None,
        "companions": {},
        "info": {},
        "info_errors": {},
        "devices": [],
        "smoke": [],
        "libraries": [],
        "versions": {},
        "device_errors": {},
        "failed_loads": [],
        "warnings": [],
        "output": [],
        "during": None,
        "probe_error": None,
        "process": {},
    }


class ChildRecords:
    """The records of the frameworks one child probes, built message by message."""

    def __init__(self, frameworks: list[str], workdir: str) -> None:
        self.frameworks = frameworks
        self.workdir = os.path.realpath(workdir)
        self.records = {name: new_record() for name in frameworks}
        self.started: dict[str, float] = {}
        self.ended: set[str] = set()
        self.phase: dict[str, tuple[str, str]] = {}  # framework → (phase, its output file)
        self.current: str | None = None
        self.hello: JSON = {}

    def feed(self, message: JSON) -> str | None:
        """Take one message; returns the framework whose record just became final, if any."""
        kind = message.get("type")
        name = message.get("framework")
        if kind == "hello":
            self.hello = message
            return None
        if name not in self.records:
            return None
        record = self.records[name]
        if kind == "begin":
            self.current = name
            self.started[name] = time.monotonic()
        elif kind == "phase":
            self.phase[name] = (
                text(message.get("phase"), 200) or "?",
                str(message.get("output_file") or ""),
            )
        elif kind == "import":
            entry = _import(message)
            if message.get("companion"):
                record["companions"][entry["module"]] = entry
            else:
                record["import"] = entry
        elif kind == "info" and isinstance(message.get("key"), str):
            key = printable(message["key"][:100])
            if "error" in message:
                record["info_errors"][key] = text(message.get("error"))
            else:
                record["info"][key] = plain(message.get("value"))
        elif kind == "facts_output":
            record["warnings"] = lines(message.get("warnings"), 20)
            record["output"] = lines(message.get("output"), 40)
        elif kind == "device" and isinstance(message.get("device"), dict):
            device = plain(message["device"])
            if isinstance(device.get("id"), str) and isinstance(device.get("kind"), str):
                record["devices"].append(device)
        elif kind == "smoke":
            record["smoke"].append(_smoke(message))
        elif kind == "libraries":
            stage = str(message.get("stage")) if message.get("stage") in STAGES else "end"
            known = {lib["path"] for lib in record["libraries"]}
            for value in (message.get("libraries") or [])[: LIST_LIMIT * 2]:
                lib = _library(value, stage)
                if lib is not None and lib["path"] not in known and len(known) < MAX_LIBRARIES:
                    record["libraries"].append(lib)
                    known.add(lib["path"])
        elif kind == "version" and isinstance(message.get("library"), str):
            if len(record["versions"]) < VERSION_LIBRARIES:
                record["versions"][printable(message["library"][:50])] = _version(message)
        elif kind == "device_error" and isinstance(message.get("device"), str):
            record["device_errors"][printable(message["device"][:50])] = {
                "error": text(message.get("error")),
                "output": lines(message.get("output"), 12),
            }
        elif kind == "probe_error":
            record["probe_error"] = _error(message.get("error"))
        elif kind == "end":
            self._end(name)
            return name
        return None

    def _end(self, name: str) -> None:
        record = self.records[name]
        self.ended.add(name)
        record["duration_s"] = round(time.monotonic() - self.started.get(name, time.monotonic()), 3)
        imported = record["import"]
        # A deployment chain that breaks (an exporter's package missing) leaves the framework
        # itself working: its own finding (DD620) says so, not the framework's status.
        failed = [s for s in record["smoke"] if s["status"] == "fail" and "chain" not in s]
        if not imported or not imported["ok"]:
            error = (imported or {}).get("error") or {}
            first = (error.get("message") or "").strip().splitlines()
            said = f"{error.get('type', 'error')}: {first[0] if first else ''}".rstrip(": ")
            record["status"], record["reason"] = "fail", f"import failed: {said}"
        elif failed:
            names = ", ".join(f"{s['test']} on {s['device']}" for s in failed)
            record["status"] = "fail"
            record["reason"] = f"{len(failed)} smoke test(s) failed: {names}"
        else:
            record["status"], record["reason"] = "pass", ""

    def finish(self, outcome: ChildOutcome, memory_limit_bytes: int | None) -> list[str]:
        """Close every record once the child is gone; returns the frameworks finished here."""
        process = {
            "exit_code": outcome.returncode,
            "signal": outcome.signal,
            "timed_out": outcome.timed_out,
            "duration_s": round(outcome.duration_s, 3),
            "output_tail": outcome.output_tail[-20:],
            "memory_limit_bytes": memory_limit_bytes,
            "shared_with": self.frameworks if len(self.frameworks) > 1 else [],
            "protocol_errors": outcome.bad_lines,
        }
        if outcome.error:
            process["start_error"] = outcome.error
        if outcome.exception:  # Windows: the exception its exit code names
            process["exception"] = outcome.exception
        if outcome.peak_memory_bytes is not None:
            process["peak_memory_bytes"] = outcome.peak_memory_bytes
        if outcome.isolation_error:
            process["isolation_error"] = outcome.isolation_error
        closed = []
        culprit = next(
            (n for n in self.frameworks if n in self.started and n not in self.ended), None
        )
        for name in self.frameworks:
            record = self.records[name]
            record["process"] = dict(process)
            if name in self.ended:
                continue
            closed.append(name)
            if outcome.error:
                record["status"] = "crash"
                record["reason"] = f"the probe could not start: {outcome.error}"
            elif outcome.cancelled:
                phase = self.phase.get(name, ("start-up", ""))[0] if name == culprit else ""
                record["status"] = "interrupted"
                record["reason"] = f"interrupted during {phase}" if phase else "interrupted"
                record["during"] = phase or None
            elif name == culprit:
                self._died(name, outcome)
            elif culprit is not None:
                record["reason"] = f"not run: the child it shared with {culprit} died first"
            else:
                record["status"] = "crash"
                record["reason"] = _ending(outcome) or "the probe child ended without a result"
        return closed

    def _died(self, name: str, outcome: ChildOutcome) -> None:
        record = self.records[name]
        phase, path = self.phase.get(name, ("start-up", ""))
        record["during"] = phase
        record["duration_s"] = round(time.monotonic() - self.started[name], 3)
        record["output"] = self._phase_output(path) or record["output"]
        if outcome.timed_out:
            record["status"] = "timeout"
            record["reason"] = f"no answer within its timeout during {phase}: killed"
        else:
            record["status"] = "crash"
            record["reason"] = f"{_ending(outcome)} during {phase}"
        if phase.startswith("smoke "):
            test, _, device = phase[len("smoke ") :].partition(" on ")
            record["smoke"].append(
                {"test": test, "device": device, "status": record["status"], "duration_s": None}
            )

    def _phase_output(self, path: str) -> list[str]:
        """The last lines the child wrote in the phase it died in (only files in our workdir)."""
        if not path or os.path.dirname(os.path.realpath(path)) != self.workdir:
            return []
        try:
            with open(path, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - 16384))
                said = f.read().decode("utf-8", errors="replace")
        except OSError:
            return []
        return [printable(ln.rstrip()[:400]) for ln in said.splitlines() if ln.strip()][-40:]


def _ending(outcome: ChildOutcome) -> str:
    if outcome.signal:
        return f"crashed with {outcome.signal}"
    if outcome.exception:
        return f"crashed with {outcome.exception}"
    if outcome.returncode not in (None, 0):
        return f"exited with code {outcome.returncode}"
    return "exited early" if not outcome.done else ""
