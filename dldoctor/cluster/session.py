"""Run this rank's torch.distributed child (the judged interpreter) and read what it wrote back."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dldoctor.cluster.launch import Launch
from dldoctor.probes.runner import ChildOutcome, run_child

JSON = dict[str, Any]
CHILD = Path(__file__).resolve().parent / "child" / "rendezvous.py"
DEFAULT_TIMEOUT_S = 300.0
START_GRACE_S = 60.0  # for the child to import torch before its first phase message
MAX_RESULT_BYTES = 64 << 20  # rank 0's file: every rank's result and node report
BANDWIDTH_BYTES = {"gpu": 256 << 20, "cpu": 4 << 20}  # all-reduced per iteration
FAULT_VAR = "DLDOCTOR_CLUSTER_FAULT"  # tests only: "die@<stage>:<rank>" or "sleep@<stage>:<rank>"


@dataclass
class RankRun:
    """What this rank's child did: its own result, and on rank 0 everyone's (``cluster``)."""

    result: JSON = field(default_factory=dict)
    outcome: ChildOutcome | None = None
    error: str = ""  # the child could not run or wrote nothing readable

    @property
    def cluster(self) -> JSON:
        value = self.result.get("cluster")
        return value if isinstance(value, dict) else {}


def run_rank(
    launch: Launch,
    python: str,
    host: str,
    gather: Callable[[], bytes | None] | None,
    timeout_s: float,
    env: Mapping[str, str],
    bandwidth_bytes: Mapping[str, int] | None = None,
) -> RankRun:
    """Start the child for this rank, gather meanwhile (``gather``: this node's report, on a
    gatherer), hand the report over, wait for the child (bounded) and read its result file.

    The child imports torch and joins the store while the node is probed: that time overlaps.
    """
    with tempfile.TemporaryDirectory(prefix="dldoctor-cluster-") as workdir:
        payload_path = os.path.join(workdir, "node.json") if gather is not None else None
        out_path = os.path.join(workdir, "result.json")
        args: JSON = {
            "rank": launch.rank,
            "world_size": launch.world_size,
            "local_rank": launch.local_rank,
            "node": launch.node_rank,
            "host": host,
            "master_addr": launch.master_addr,
            "master_port": launch.master_port,
            "agent_store": launch.agent_store,
            "run_id": launch.run_id,
            "timeout_s": timeout_s,
            "payload_path": payload_path,
            "out_path": out_path,
            "bandwidth_bytes": dict(bandwidth_bytes or BANDWIDTH_BYTES),
            "nccl_log": os.path.join(workdir, "nccl.%h.%p.log"),
            "fault": fault(env.get(FAULT_VAR, ""), launch.rank),
        }
        done: list[ChildOutcome] = []
        cancel = threading.Event()
        # Waited on, not joined: a Thread.join cut short by Ctrl-C leaves CPython 3.11/3.12
        # believing the thread stopped, and the second join would return while run_child
        # still holds the child and its arguments file (see facts._Job).
        ended = threading.Event()

        def child() -> None:
            # Each phase message extends the deadline: "gathering" ones while the node is probed.
            command = [python, "-c", CHILD.read_text(encoding="utf-8")]
            try:
                done.append(
                    run_child(
                        command,
                        args,
                        timeout_s + START_GRACE_S,
                        child_env(env, workdir),
                        workdir,
                        cancel=cancel,
                    )
                )
            finally:
                ended.set()

        threading.Thread(target=child, name="cluster-child", daemon=True).start()
        try:
            if gather is not None and payload_path is not None:
                _deliver(payload_path, gather())
            ended.wait()
        except BaseException:  # Ctrl-C: the child is killed, its files removed, before we leave
            cancel.set()
            ended.wait()
            raise
        outcome = done[0]
        run = RankRun(outcome=outcome)
        run.result, run.error = _read(out_path, outcome)
    return run


def _deliver(path: str, payload: bytes | None) -> None:
    """The node's report for the child, whole or not at all (empty: gathering failed)."""
    partial = path + ".part"
    Path(partial).write_bytes(payload or b"")
    os.replace(partial, path)


def child_env(env: Mapping[str, str], workdir: str) -> dict[str, str]:
    """NCCL's own diagnosis (INFO, unless the user chose a level) into a file this rank reads
    back: what the child prints is never shown, so the file loses nothing the user would see."""
    child = dict(env)
    child.setdefault("NCCL_DEBUG", "INFO")
    child.setdefault("NCCL_DEBUG_FILE", os.path.join(workdir, "nccl.%h.%p.log"))
    return child


def fault(spec: str, rank: int) -> JSON | None:
    """The tests' seam: this rank dies or sleeps at a stage ("die@bandwidth:1")."""
    action, _, rest = spec.partition("@")
    stage, _, who = rest.partition(":")
    if action not in ("die", "sleep") or not stage or who != str(rank):
        return None
    return {"do": action, "at": stage}


def _read(path: str, outcome: ChildOutcome) -> tuple[JSON, str]:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_RESULT_BYTES + 1)
    except OSError:
        return {}, _why(outcome)
    if len(raw) > MAX_RESULT_BYTES:
        return {}, f"the cluster child's result is larger than {MAX_RESULT_BYTES >> 20} MiB"
    try:
        data = json.loads(raw.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return {}, "the cluster child's result is not JSON"
    if not isinstance(data, dict):
        return {}, "the cluster child's result is not a JSON object"
    if isinstance(data.get("fatal"), str):
        return data, str(data["fatal"])[:2000]
    return data, ""


def _why(outcome: ChildOutcome) -> str:
    """Why the child left no result: it could not start, was killed, timed out, or said so."""
    if outcome.error:
        return f"the cluster child could not start: {outcome.error}"
    last = outcome.output_tail[-1] if outcome.output_tail else ""
    if outcome.timed_out:
        return "the cluster child did not finish in time and was killed" + (
            f": {last}" if last else ""
        )
    if outcome.signal:
        return f"the cluster child died of {outcome.signal}" + (f": {last}" if last else "")
    return f"the cluster child exited with code {outcome.returncode}" + (
        f": {last}" if last else ""
    )
