"""Compare nodes: the facts they must share against the majority's, and their own findings grouped.

Pure functions of the nodes' digests. A node unlike the majority is named with the fix as an
intent; with no majority the split is shown and no side taken; an unknown fact compares nothing.
A difference another one brings along (the NCCL of a different torch build) is its evidence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from dldoctor.cluster.digest import ABSENT
from dldoctor.cluster.nodelist import compress
from dldoctor.cluster.state import NodeState
from dldoctor.model import Area, Finding, Fix, Intent, Severity

JSON = dict[str, Any]
# A field's section decides how bad a difference is, and whether it can follow from another one.
SEVERITY = {
    "framework": Severity.ERROR,  # ranks computing with different code
    "nccl": Severity.ERROR,  # NCCL of different versions on the ranks of one communicator
    "driver": Severity.WARNING,
    "env": Severity.WARNING,
    "gpus": Severity.WARNING,
    "python": Severity.WARNING,
    "cudnn": Severity.WARNING,
    "library": Severity.WARNING,
    "cuda-driver": Severity.WARNING,
}
ORDER = ("framework", "driver", "env", "python", "gpus", "nccl", "cudnn", "library", "cuda-driver")
# Sections that a difference elsewhere brings along (a torch build ships its NCCL and cuDNN, a
# driver its CUDA version, LD_LIBRARY_PATH the libraries loaded): folded into that finding.
DERIVED = ("nccl", "cudnn", "library", "cuda-driver")
WHAT = {
    "driver": "the NVIDIA driver",
    "cuda-driver": "the driver's CUDA version",
    "gpus": "the GPUs",
    "python": "Python",
    "cudnn": "cuDNN",
    "nccl": "NCCL",
}


@dataclass(frozen=True)
class NodeGroup:
    """One finding seen on several nodes ("gpu[03,07]: torch is a CPU-only build")."""

    finding: Finding
    nodes: tuple[str, ...]

    def to_dict(self) -> JSON:
        return {
            **self.finding.to_dict(),
            "nodes": list(self.nodes),
            "node_list": compress(list(self.nodes)),
        }


def group_node_findings(nodes: list[NodeState]) -> list[NodeGroup]:
    """Every node's own findings, one entry per (code, title), worst first, with its nodes."""
    groups: dict[tuple[str, str], list[str]] = {}
    first: dict[tuple[str, str], Finding] = {}
    for node in nodes:
        for finding in node.findings:
            key = (finding.code, finding.title)
            first.setdefault(key, finding)
            if node.label not in groups.setdefault(key, []):
                groups[key].append(node.label)
    ordered = sorted(groups, key=lambda k: (-first[k].severity.rank, k[0]))
    return [NodeGroup(first[k], tuple(groups[k])) for k in ordered]


def differences(nodes: list[NodeState]) -> list[Finding]:
    """Nodes whose shared facts differ from the majority's, one finding per difference."""
    reported = [n for n in nodes if n.reported]
    if len(reported) < 2:
        return []
    names = sorted({k for n in reported for k in n.fields}, key=_order)
    found: list[tuple[frozenset[str], str, Finding]] = []
    for name in names:
        values = {n.label: _value(n, name) for n in reported}
        known = {label: v for label, v in values.items() if v is not None}
        counts = Counter(known.values())
        if len(counts) < 2:
            continue
        section = name.split(":", 1)[0]
        top, top_count = counts.most_common(1)[0]
        if top_count * 2 > len(known):
            outliers = frozenset(label for label, v in known.items() if v != top)
            finding = _differs(name, section, top, known, outliers, len(known) - len(outliers))
        else:
            outliers = frozenset(known)
            finding = _split(name, section, known)
        host = next((f for s, sec, f in found if s == outliers and sec not in DERIVED), None)
        if section in DERIVED and host is not None:
            index = next(i for i, (s, _, f) in enumerate(found) if f is host)
            brought = [*host.evidence.get("brings", []), finding.title]
            found[index] = (outliers, found[index][1], _with(host, brings=brought))
            continue
        found.append((outliers, section, finding))
    return [f for _, _, f in found]


def _order(name: str) -> tuple[int, str]:
    section = name.split(":", 1)[0]
    return (ORDER.index(section) if section in ORDER else len(ORDER), name)


def _value(node: NodeState, name: str) -> str | None:
    if name in node.fields:
        return node.fields[name]
    section = name.split(":", 1)[0]
    return ABSENT.get(section) if section in node.sections else None


def _what(name: str) -> str:
    section, _, rest = name.partition(":")
    if section == "framework":
        return rest
    if section == "env":
        return rest
    if section == "library":
        return f"the loaded {rest}"
    return WHAT.get(section, name)


def _differs(
    name: str, section: str, top: str, known: dict[str, str], outliers: frozenset[str], agree: int
) -> Finding:
    labels = sorted(outliers)
    theirs, majority = sorted({known[label] for label in labels}), top
    # A framework's value names it ("torch 2.13.0+cpu (CPU build)"), a variable is NAME=value.
    subject = f"{_what(name)} "
    if section == "framework" and ABSENT["framework"] not in theirs:
        subject = ""
    elif section == "env":
        variable, subject = name.partition(":")[2], ""
        theirs = [v if v == ABSENT["env"] else f"{variable}={v}" for v in theirs]
        majority = top if top == ABSENT["env"] else f"{variable}={top}"
    if len(theirs) > 3:
        theirs = [*theirs[:3], f"… ({len(theirs)} values)"]
    others = f"the other {agree} node{'s' if agree != 1 else ''}"
    return Finding(
        code="DD806",
        severity=SEVERITY.get(section, Severity.WARNING),
        title=f"{compress(labels)}: {subject}{' / '.join(theirs)}, {others} {majority}",
        area=Area.CLUSTER,
        evidence={
            "field": name,
            "majority": top,
            "nodes": {label: known[label] for label in labels},
        },
        fixes=(_fix(name, section, top, labels),),
    )


def _split(name: str, section: str, known: dict[str, str]) -> Finding:
    by_value: dict[str, list[str]] = {}
    for label, value in known.items():
        by_value.setdefault(value, []).append(label)
    parts = [f"{value} on {compress(sorted(labels))}" for value, labels in sorted(by_value.items())]
    return Finding(
        code="DD807",
        severity=SEVERITY.get(section, Severity.WARNING),
        title=f"No majority for {_what(name)}: {'; '.join(parts)}",
        area=Area.CLUSTER,
        evidence={"field": name, "nodes": dict(known)},
        fixes=(
            Fix(
                summary=f"Make {_what(name)} the same on every node (no value is held by most of them)"
            ),
        ),
    )


def _fix(name: str, section: str, top: str, labels: list[str]) -> Fix:
    where = compress(labels)
    variable = name.partition(":")[2]
    if section == "env":
        if top == ABSENT["env"]:
            return Fix(
                f"On {where}: unset {variable}, as on the other nodes",
                intents=(Intent(action="unset", variable=variable),),
            )
        return Fix(
            f"On {where}: set {variable}={top}, as on the other nodes",
            intents=(Intent(action="set", variable=variable, value=top),),
        )
    if section == "driver":
        return Fix(
            f"On {where}: install NVIDIA driver {top}, as on the other nodes",
            intents=(Intent(action="driver", driver=top),),
        )
    if section in ("framework", "nccl", "cudnn"):
        wanted = _requirements(top)
        if section == "framework" and top == ABSENT["framework"]:
            return Fix(
                f"On {where}: remove {variable}, which the other nodes do not have",
                intents=(Intent(action="remove", framework=variable),),
            )
        if wanted:
            framework = variable if section == "framework" else None
            return Fix(
                f"On {where}: install {' '.join(wanted)}, as on the other nodes",
                intents=(Intent(requirements=tuple(wanted), framework=framework),),
            )
    if section == "gpus":
        return Fix(
            f"Run on nodes of one GPU model: a collective goes at the pace of {where}, or the others"
        )
    if section == "library":
        return Fix(
            f"On {where}: load {top} as the other nodes do (LD_LIBRARY_PATH, the environment's wheels)"
        )
    return Fix(f"On {where}: make {_what(name)} {top}, as on the other nodes")


def _requirements(text: str) -> list[str]:
    """ "torch 2.13.0+cu128, torchvision 0.28.0 (CUDA 12.8)" → ["torch==2.13.0+cu128", ...]."""
    body = text.split(" (", 1)[0]
    wanted = []
    for part in body.split(", "):
        name, _, version = part.partition(" ")
        if name and version and " " not in version:
            wanted.append(f"{name}=={version}")
    return wanted


def _with(finding: Finding, **evidence: Any) -> Finding:
    return replace(finding, evidence={**finding.evidence, **evidence})
