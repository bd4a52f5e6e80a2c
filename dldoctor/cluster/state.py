"""Rank 0's view of the run, read from what every rank put in the store (untrusted JSON, bounded)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from dldoctor.cluster.digest import MAX_FIELDS, MAX_FINDINGS, MAX_TEXT, PAYLOAD_VERSION
from dldoctor.model import Area, Finding, Severity

JSON = dict[str, Any]
MAX_RANKS = 65536
MAX_TESTS = 16
MAX_LINES = 200
_CODE = re.compile(r"^DD\d{3}$")
_KEY = re.compile(r"^[A-Za-z0-9_.:+/-]{1,200}$")


@dataclass
class RankState:
    rank: int
    node: int | None = None
    host: str | None = None
    local_rank: int | None = None
    joined: bool = False
    finished: bool = False
    stage: str | None = None  # the last stage it said it reached
    backend: str | None = None
    tests: list[JSON] = field(default_factory=list)
    error: str | None = None
    nccl: list[str] = field(default_factory=list)

    def to_dict(self) -> JSON:
        return dict(self.__dict__)


@dataclass
class NodeState:
    label: str  # the host name, or "host#N" where simulated nodes share one host
    index: int | None
    host: str | None
    ranks: list[int] = field(default_factory=list)
    fields: dict[str, str | None] = field(default_factory=dict)
    sections: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    reported: bool = False  # its gatherer's report arrived
    report: str | None = None  # where the gatherer wrote the node's own JSON report
    links: JSON = field(default_factory=dict)  # its network links (cluster/links.py)

    def to_dict(self) -> JSON:
        return {
            "label": self.label,
            "index": self.index,
            "host": self.host,
            "ranks": self.ranks,
            "reported": self.reported,
            "report": self.report,
            "digest": {"fields": self.fields, "sections": self.sections},
            "findings": [f.to_dict() for f in self.findings],
            "links": self.links,
        }


@dataclass
class ClusterState:
    world_size: int
    ranks: list[RankState]
    nodes: list[NodeState]
    never_joined: list[int]
    lost: list[int]


def assemble(world_size: int, cluster: JSON) -> ClusterState:
    """Every rank's and node's state from rank 0's child result; what does not parse is dropped."""
    world = max(1, min(int(world_size), MAX_RANKS))
    raw = cluster.get("ranks") if isinstance(cluster.get("ranks"), dict) else {}
    assert isinstance(raw, dict)
    join = cluster.get("join") if isinstance(cluster.get("join"), dict) else {}
    assert isinstance(join, dict)
    never = _ints(join.get("missing"), world)
    lost = [r for r in _ints(cluster.get("lost"), world) if r not in never]
    ranks: list[RankState] = []
    payloads: dict[int, JSON] = {}
    for rank in range(world):
        entry = raw.get(str(rank)) if isinstance(raw.get(str(rank)), dict) else {}
        assert isinstance(entry, dict)
        state = RankState(rank=rank, joined=rank not in never and "who" in entry)
        who = _object(entry.get("who"))
        state.node = _int(who.get("node"))
        state.host = _short(who.get("host"))
        state.local_rank = _int(who.get("local_rank"))
        state.stage = _short(entry.get("stage"))
        result = _object(entry.get("result"))
        state.finished = bool(result)
        state.backend = _short(result.get("backend"))
        state.tests = [t for t in (result.get("tests") or [])[:MAX_TESTS] if isinstance(t, dict)]
        error = result.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            state.error = error["message"][:MAX_TEXT]
        state.nccl = [str(x)[:400] for x in (result.get("nccl") or [])[:MAX_LINES]]
        ranks.append(state)
        payload = _object(entry.get("node"))
        if payload.get("version") == PAYLOAD_VERSION:
            payloads[rank] = payload
    return ClusterState(world, ranks, _nodes(ranks, payloads), never, lost)


def _nodes(ranks: list[RankState], payloads: dict[int, JSON]) -> list[NodeState]:
    groups: dict[tuple[Any, ...], list[RankState]] = {}
    for state in ranks:
        if not state.joined:
            continue
        key = ("node", state.node) if state.node is not None else ("host", state.host)
        groups.setdefault(key, []).append(state)
    hosts = [members[0].host for members in groups.values()]
    nodes = []
    for members in groups.values():
        first = members[0]
        shared = hosts.count(first.host) > 1 and first.node is not None
        label = (
            f"{first.host or '?'}#{first.node}" if shared else (first.host or f"node{first.node}")
        )
        node = NodeState(label, first.node, first.host, [m.rank for m in members])
        for member in members:
            if member.rank in payloads:
                _fill(node, payloads[member.rank])
                break
        nodes.append(node)
    nodes.sort(key=lambda n: (n.index if n.index is not None else 1 << 30, n.label))
    return nodes


def _fill(node: NodeState, payload: JSON) -> None:
    digest = payload.get("digest") if isinstance(payload.get("digest"), dict) else {}
    assert isinstance(digest, dict)
    fields = digest.get("fields") if isinstance(digest.get("fields"), dict) else {}
    assert isinstance(fields, dict)
    for key, value in list(fields.items())[:MAX_FIELDS]:
        if isinstance(key, str) and _KEY.match(key) and (value is None or isinstance(value, str)):
            node.fields[key] = value[:MAX_TEXT] if value else value
    node.sections = [s for s in digest.get("sections") or [] if isinstance(s, str)][:16]
    for item in (payload.get("findings") or [])[:MAX_FINDINGS]:
        finding = _finding(item)
        if finding is not None:
            node.findings.append(finding)
    node.report = _short(payload.get("report"))
    links = payload.get("links") if isinstance(payload.get("links"), dict) else {}
    assert isinstance(links, dict)
    for kind in ("infiniband", "ethernet"):
        entries = links.get(kind)
        if isinstance(entries, list):
            node.links[kind] = [e for e in entries[:64] if isinstance(e, dict) and len(e) <= 8]
    node.reported = True


def _finding(item: Any) -> Finding | None:
    """A node's finding, kept only when it is shaped like one of ours."""
    if not isinstance(item, dict) or not _CODE.match(str(item.get("code", ""))):
        return None
    try:
        finding = Finding.from_dict(item)
    except (KeyError, ValueError, TypeError, AttributeError):
        return None
    if not isinstance(finding.title, str) or not isinstance(finding.area, Area):
        return None
    if not isinstance(finding.severity, Severity):
        return None
    return finding


def _object(text: Any) -> JSON:
    if not isinstance(text, str):
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _ints(value: Any, world: int) -> list[int]:
    if not isinstance(value, list):
        return []
    return sorted({v for v in value if _int(v) is not None and v < world})


def _short(value: Any) -> str | None:
    return value[:255] if isinstance(value, str) else None


def anonymise(state: ClusterState) -> None:
    """--redact: nodes are named by their index ("node3"), before anything is judged or shown."""
    label_of_rank = {}
    for position, node in enumerate(state.nodes):
        node.label = f"node{node.index if node.index is not None else position}"
        node.host = None
        label_of_rank.update(dict.fromkeys(node.ranks, node.label))
    for rank in state.ranks:
        rank.host = label_of_rank.get(rank.rank)
