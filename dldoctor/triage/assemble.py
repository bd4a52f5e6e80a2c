"""The facts of a whole paste: what each format showed, merged; everything else unknown (null)."""

from __future__ import annotations

import copy
import re
from typing import Any

from dldoctor.facts import interpreter, interpreter_arguments
from dldoctor.matrix import Matrix
from dldoctor.triage.logs import UNATTRIBUTED
from dldoctor.triage.partial import JSON, Partial

PASTED = "pasted text: only what it shows is known"


def merge_all(partials: list[Partial], matrix: Matrix) -> tuple[JSON, JSON]:
    """(facts as a report holds them, what triage itself learnt), from every format found."""
    facts: JSON = {}
    meta: JSON = {}
    for partial in partials:
        shown = copy.deepcopy(partial.facts)
        _merge(meta, shown.pop("triage", {}))
        _merge(facts, shown)
    listed = any(p.complete_listing for p in partials)
    _packages(facts, matrix, listed)
    _runtime(facts, meta)
    return facts, meta


def _merge(into: JSON, new: JSON) -> None:
    """Dicts key by key, the first format's value kept; distributions by name, GPUs by index."""
    for key, value in new.items():
        old = into.get(key)
        if old is None:
            into[key] = value
        elif isinstance(old, dict) and isinstance(value, dict):
            _merge(old, value)
        elif key == "distributions" and isinstance(old, list) and isinstance(value, list):
            _by(old, value, lambda d: interpreter.canonical(d.get("name")))
        elif key == "gpus" and isinstance(old, list) and isinstance(value, list):
            _by(old, value, lambda g: g.get("index"))
        elif key == "output" and isinstance(old, list) and isinstance(value, list):
            old.extend(v for v in value if v not in old)


def _by(old: list[JSON], new: list[JSON], key: Any) -> None:
    index = {key(item): item for item in old}
    for item in new:
        same = index.get(key(item))
        if same is None:
            old.append(item)
            index[key(item)] = item
        else:
            for field, value in item.items():
                if same.get(field) is None:
                    same[field] = value


def _packages(facts: JSON, matrix: Matrix, complete: bool) -> None:
    """What the gatherer derives from the distributions, from those the paste lists.

    A selection (collect_env's "relevant libraries") says nothing of what it left out: the NVIDIA
    wheels are then unknown. Requirements are never pasted: pins and `pip check` stay unknown.
    """
    packages = facts.get("packages")
    if not isinstance(packages, dict):
        return
    dists = packages.get("distributions")
    if not isinstance(dists, list):
        # A build without its distribution judges nothing (every check asks what is installed).
        packages.pop("frameworks", None)
        return
    once: list[JSON] = []
    _by(once, dists, lambda d: interpreter.canonical(d.get("name")))  # one format may say it twice
    dists[:] = once
    for dist in dists:
        dist.setdefault("requires", [])
        dist.setdefault("top_level", [])
    args = interpreter_arguments(matrix)
    given = packages.get("frameworks") or {}
    grouped = interpreter.grouped(dists, args["interesting"])
    for key, group in grouped.items():
        group.pop("providers")  # no build file is pasted: a build is what the paste says
        group["build"] = {}
        if key == "jax":
            group["build"] = interpreter.jax_build(
                [d for d in dists if d.get("version")], args["interesting"]
            )
            if not complete and not group["build"]["plugins"]:
                # jax.print_environment_info() lists no plugin: a selection cannot say "none"
                group["build"]["plugins"] = None
        pasted = (given.get(key) or {}).get("build") or {}
        group["build"].update(pasted)
        if key == "torch":
            _torch_from_version(group)
    packages["frameworks"] = grouped
    packages.setdefault("nvidia_pins", None)
    packages.setdefault("duplicates", None)
    packages.setdefault("module_conflicts", None)
    packages.setdefault("unsatisfied", None)
    if complete:
        is_nvidia = interpreter.nvidia_matcher(args["nvidia_prefixes"], args["nvidia_exclude"])
        wheels = interpreter.nvidia_wheels([d for d in dists if d.get("version")], is_nvidia)
        packages["nvidia_wheels"] = wheels
        facts.setdefault("cuda", {})["pip_libraries"] = wheels


_LOCAL = re.compile(r"\+(?:cu(?P<cuda>\d{2,3})|(?P<cpu>cpu)|rocm(?P<rocm>[\d.]+))$")


def _torch_from_version(group: JSON) -> None:
    """What PyTorch's wheel versions say of their build: 2.3.1+cpu, 2.3.1+cu121, 2.3.1+rocm6.0.

    A version without a local label is unknown (PyPI's wheel is a CUDA build on Linux only).
    """
    build = group["build"]
    torch = next((d for d in group["distributions"] if d["name"] == "torch"), None)
    found = _LOCAL.search(str((torch or {}).get("version") or ""))
    if found is None:
        return
    cuda: str | bool
    hip: str | bool
    if found.group("cuda"):
        digits = found.group("cuda")
        cuda, hip = f"{digits[:-1]}.{digits[-1]}", False
    elif found.group("cpu"):
        cuda, hip = False, False
    else:
        cuda, hip = False, found.group("rocm")
    # Only what the paste left unknown: a build file's own words come first.
    if build.get("cuda") is None:
        build["cuda"] = cuda
    if build.get("hip") is None:
        build["hip"] = hip
    build.setdefault("source", "the wheel's local version label (pasted)")


def _runtime(facts: JSON, meta: JSON) -> None:
    """Pasted words as the runtime records the checks read: each framework's ``output``, and
    whether it imported and saw a GPU where a tool printed that."""
    runtime = facts.get("runtime")
    records: JSON = dict((runtime or {}).get("frameworks") or {})
    frameworks = (facts.get("packages") or {}).get("frameworks") or {}
    for key, seen in (meta.get("imported") or {}).items():
        # A tool that printed the framework's version and its GPU answer had imported it.
        if key not in frameworks:
            continue
        record = records.setdefault(key, {})
        gpu = seen.get("gpu")
        record["import"] = {
            "module": key,
            "ok": True,
            "version": seen.get("version"),
            "error": None,
        }
        info = record.setdefault("info", {})
        if key == "torch":
            built = frameworks[key].get("build", {}).get("cuda")
            info.update(cuda_available=gpu, cuda_built=bool(built) if built is not None else None)
        if gpu is not None:
            kind = "cuda" if key == "torch" else "gpu"
            record["devices"] = [{"id": "cpu", "kind": "cpu"}] + (
                [{"id": f"{kind}:0", "kind": kind}] if gpu else []
            )
    if not records:
        facts["runtime"] = {"ran": False, "reason": PASTED}
        return
    for key, record in records.items():
        # Words alone do not say whether the import went through: unknown, unless they do.
        record.setdefault("import", {"module": key, "ok": None, "error": None})
        known_import = (record.get("import") or {}).get("ok") is not None
        record.setdefault("status", "pass" if known_import else "skip")
        record.setdefault("reason", PASTED)
        record.setdefault("info", {})
        record.setdefault("devices", None)
        record.setdefault("smoke", None)  # no smoke test ran: unknown, not "none passed"
        record.setdefault("libraries", None)
        record.setdefault("process", None)
        record.setdefault("output", [])
    facts["runtime"] = {"ran": True, "reason": PASTED, "frameworks": records}
    if UNATTRIBUTED in records:
        records[UNATTRIBUTED]["reason"] = "pasted words no framework can be told from"
