"""One rank of `dldoctor check --cluster` (child side): c10d rendezvous, node reports, collectives."""

# Runs in the JUDGED interpreter as `PYTHON -c <this file> <json-args>`: standard library and
# torch only, Python 3.6 syntax, nothing from dldoctor. Everything between ranks goes through
# c10d: a TCPStore (torchrun's agent store when torchrun says so) for arrival, the node reports
# (JSON text, never pickles) and the results, and a process group (NCCL on GPUs, gloo otherwise)
# for the collective smoke tests. Rank 0 waits for the others by polling the store against a
# deadline, so a rank that never comes is named instead of hanging everyone in a collective.
# Progress goes to the parent's channel (one JSON object per line); the bulky result to a file.
import contextlib
import json
import os
import signal
import sys
import time
import traceback
from datetime import timedelta
from typing import Any, Dict, List

JSON = Dict[str, Any]
POLL_S = 0.1
MAX_VALUE_BYTES = 1 << 20  # one rank's value read from the store: a node report is ~20 KiB
NCCL_LINES = 200  # NCCL WARN/INFO lines each rank keeps from its NCCL_DEBUG_FILE
LINE_CHARS = 400
FAILED_GRACE_S = 10.0  # after a collective failed on rank 0: how long the others may take to say so

ARGUMENTS_BYTES = 16 << 20


def _arguments(given: str) -> str:
    """The parent's arguments: the path of the file it wrote them to, or the JSON itself (as
    the probe harness reads them: this child runs alone, from its source)."""
    if given.startswith("{"):
        return given
    with open(given, "rb") as f:
        return f.read(ARGUMENTS_BYTES).decode("utf-8")


ARGS = json.loads(_arguments(sys.argv[1])) if __name__ == "__main__" else {}
CHANNEL = ARGS.get("channel_fd")
STORE = []  # type: List[Any]  # the store, once connected
TIMEOUT_S = float(ARGS.get("timeout_s") or 300.0)


def say(message: JSON) -> None:
    if CHANNEL is not None:
        os.write(CHANNEL, (json.dumps(message) + "\n").encode("utf-8"))


def phase(name: str, waits: float = 1.0) -> None:
    """Tell the parent what this rank is doing, and that it may take ``waits`` cluster timeouts."""
    say({"type": "phase", "phase": name, "timeout_s": waits * TIMEOUT_S + 60.0})
    if STORE and name not in ("import", "join", "leave"):
        # The store's host may be gone (rank 0 done): the next store call says so, not this one.
        with contextlib.suppress(Exception):
            STORE[0].set("stage/%d" % int(ARGS["rank"]), name)  # where a rank lost later was
    fault = ARGS.get("fault") or {}
    if fault.get("at") == name:  # the tests' seam: a rank that dies or hangs right here
        if fault.get("do") == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(float(fault.get("sleep_s") or 3600.0))


def reason(exc: BaseException) -> str:
    return ("%s: %s" % (type(exc).__name__, exc))[:2000]


def connect(torch_dist: Any, rank: int, world: int) -> Any:
    """The store every rank shares: torchrun's agent store, else one rank 0 hosts (as env:// does)."""
    timeout = timedelta(seconds=TIMEOUT_S)
    host, port = ARGS["master_addr"], int(ARGS["master_port"])
    try:
        if ARGS.get("agent_store"):
            base = torch_dist.TCPStore(host, port, None, False, timeout)
        else:
            base = torch_dist.TCPStore(host, port, None, rank == 0, timeout, wait_for_workers=False)
    except Exception as exc:
        what = "host the rendezvous on" if rank == 0 and not ARGS.get("agent_store") else "reach"
        raise RuntimeError(
            "could not %s %s:%d: %s" % (what, host, port, reason(exc)[:300])
        ) from None
    return torch_dist.PrefixStore("dldoctor/%s/" % ARGS.get("run_id", "0"), base)


def text(store: Any, key: str) -> str:
    return bytes(store.get(key))[:MAX_VALUE_BYTES].decode("utf-8", "replace")


def wait_count(store: Any, key: str, world: int, deadline: float) -> int:
    """Poll the counter ``key`` until it reaches ``world`` or the deadline passes."""
    count = int(store.add(key, 0))
    while count < world and time.monotonic() < deadline:
        time.sleep(POLL_S)
        count = int(store.add(key, 0))
    return count


def arrive(store: Any, stage: str, rank: int) -> None:
    store.set("at/%s/%d" % (stage, rank), "1")
    store.add("count/%s" % stage, 1)


def missing(store: Any, stage: str, world: int) -> List[int]:
    return [r for r in range(world) if not store.check(["at/%s/%d" % (stage, r)])]


def rendezvous(store: Any, rank: int, world: int, me: JSON) -> JSON:
    """Every rank posts who it is (and a gatherer its node report); rank 0 waits for them all."""
    # Rank 0 may start a whole gathering later than we do (it probes its node first), then gives
    # everyone the timeout: a rank that came early waits for both.
    payload = ARGS.get("payload_path")
    if payload:
        report = wait_for_report(payload)
        if report:
            store.set("node/%d" % rank, report)
    phase("join", waits=2.0)
    started = time.monotonic()  # rank 0 gives the others the timeout from here
    store.set("who/%d" % rank, json.dumps(me))
    arrive(store, "join", rank)
    if rank != 0:
        waited = 2.0 * TIMEOUT_S + 30.0
        try:
            store.wait(["go/join"], timedelta(seconds=waited))
        except Exception as exc:
            raise RuntimeError(
                "rank 0 did not answer within %g s: it never started, or it failed (read its "
                "output): %s" % (waited, reason(exc)[:200])
            ) from None
        return json.loads(text(store, "go/join"))
    count = wait_count(store, "count/join", world, started + TIMEOUT_S)
    verdict = {
        "ok": count >= world,
        "missing": [] if count >= world else missing(store, "join", world),
    }
    store.set("go/join", json.dumps(verdict))
    return verdict


def wait_for_report(path: str) -> bytes:
    """This node's report, once the parent has gathered it; it bounds the gathering itself."""
    parent = os.getppid()
    beat = 0.0
    while not os.path.exists(path):
        if os.getppid() != parent:  # the parent died: nobody will hand it over
            raise RuntimeError("the dldoctor process of this rank is gone")
        if time.monotonic() - beat > 10.0:
            say({"type": "phase", "phase": "gathering", "timeout_s": 60.0})  # still alive
            beat = time.monotonic()
        time.sleep(POLL_S)
    with open(path, "rb") as f:
        return f.read(MAX_VALUE_BYTES)


def known_tensor(torch: Any, rank: int, device: str) -> Any:
    # Each rank contributes rank+1 in every element: the sum is world*(world+1)/2 everywhere.
    return torch.full(
        (1024,),
        float(rank + 1),
        dtype=torch.float64 if device == "cpu" else torch.float32,
        device=device,
    )


def smoke(
    torch: Any, dist: Any, rank: int, world: int, device: str, backend: str, results: List[JSON]
) -> None:
    """Barrier, all-reduce of a known tensor (checked here, on this rank), bus bandwidth."""
    phase("barrier")
    started = time.monotonic()
    dist.barrier()
    results.append({"test": "barrier", "status": "pass", "seconds": time.monotonic() - started})
    phase("all-reduce")
    t = known_tensor(torch, rank, device)
    dist.all_reduce(t)
    expected = float(world * (world + 1) // 2)
    got = sorted(set(float(v) for v in t.cpu().tolist()))
    ok = got == [expected]
    results.append(
        {
            "test": "all-reduce",
            "status": "pass" if ok else "fail",
            "expected": expected,
            "got": got[:8],
        }
    )
    if world < 2:
        return
    phase("bandwidth")
    size = int(ARGS.get("bandwidth_bytes", {}).get("gpu" if device != "cpu" else "cpu") or 1 << 22)
    iterations = int(ARGS.get("bandwidth_iterations") or 5)
    buf = torch.ones(size // 4, dtype=torch.float32, device=device)
    dist.all_reduce(buf)  # warm-up: connections and algorithm selection are not bandwidth
    sync(torch, device)
    dist.barrier()
    started = time.monotonic()
    for _ in range(iterations):
        dist.all_reduce(buf)
    sync(torch, device)
    seconds = (time.monotonic() - started) / iterations
    # The slowest rank's time is the collective's: all-reduce it (MAX) before computing.
    slowest = torch.tensor([seconds], dtype=torch.float64, device=device)
    dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
    seconds = float(slowest.item())
    algbw = (buf.numel() * 4) / seconds  # bytes/s, as nccl-tests defines algbw
    results.append(
        {
            "test": "bandwidth",
            "status": "pass",
            "bytes": buf.numel() * 4,
            "iterations": iterations,
            "seconds": seconds,
            "algbw_bytes_per_s": algbw,
            # nccl-tests' bus bandwidth for all-reduce: algbw * 2(n-1)/n, comparable to link speed.
            "busbw_bytes_per_s": algbw * 2.0 * (world - 1) / world,
            "backend": backend,
        }
    )


def sync(torch: Any, device: str) -> None:
    if device != "cpu":
        torch.cuda.synchronize()


def nccl_lines() -> List[str]:
    """NCCL's own diagnosis (NCCL_DEBUG=INFO) from the file this rank's NCCL wrote."""
    path = ARGS.get("nccl_log")
    lines = []  # type: List[str]
    if not path:
        return lines
    folder, stem = os.path.dirname(path), os.path.basename(path).split("%")[0]
    try:
        names = [n for n in os.listdir(folder) if n.startswith(stem)]
    except OSError:
        return lines
    for name in sorted(names):
        try:
            with open(os.path.join(folder, name), "rb") as f:
                data = f.read(1 << 20).decode("utf-8", "replace")
        except OSError:
            continue
        kept = [ln[:LINE_CHARS] for ln in data.splitlines() if " NCCL " in ln]
        warn = [ln for ln in kept if "WARN" in ln]
        lines += warn + [ln for ln in kept if ln not in warn][: max(0, NCCL_LINES - len(warn))]
    return lines[:NCCL_LINES]


def collect(store: Any, world: int, joined: JSON, failed: bool) -> JSON:
    """Rank 0: everyone's identity, node report and result, and who never finished.

    Only the ranks that joined are waited for; after a collective failed here, the others'
    failed too (or they are gone), so they get a shorter grace than the whole timeout.
    """
    phase("collect")
    expected = world - len(joined.get("missing") or [])
    deadline = time.monotonic() + (min(TIMEOUT_S, FAILED_GRACE_S) if failed else TIMEOUT_S)
    count = wait_count(store, "count/result", expected, deadline)
    absent = set(joined.get("missing") or [])
    lost = (
        [] if count >= expected else [r for r in missing(store, "result", world) if r not in absent]
    )
    ranks = {}  # type: Dict[str, JSON]
    for r in range(world):
        entry = {}  # type: JSON
        for key in ("who", "node", "result", "stage"):
            name = "%s/%d" % (key, r)
            if store.check([name]):
                entry[key] = text(store, name)
        ranks[str(r)] = entry
    return {"join": joined, "lost": lost, "ranks": ranks}


def main() -> None:
    rank, world = int(ARGS["rank"]), int(ARGS["world_size"])
    me = {
        "rank": rank,
        "node": ARGS.get("node"),
        "host": ARGS.get("host"),
        "local_rank": ARGS.get("local_rank"),
        "pid": os.getpid(),
    }
    out = {"rank": rank, "tests": [], "error": None}  # type: JSON
    phase("import")
    import torch
    import torch.distributed as dist

    me["torch"] = getattr(torch, "__version__", None)
    store = connect(dist, rank, world)
    STORE.append(store)
    joined = rendezvous(store, rank, world, me)
    out["join"] = joined
    if joined.get("ok"):
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        backend = ARGS.get("backend") or ("nccl" if gpus and dist.is_nccl_available() else "gloo")
        device = "cpu"
        if backend == "nccl":
            device = "cuda:%d" % (int(ARGS.get("local_rank") or 0) % gpus)
            torch.cuda.set_device(device)
        out["backend"], out["device"] = backend, device
        try:
            phase("init")
            dist.init_process_group(
                backend,
                store=dist.PrefixStore("pg/", store),
                rank=rank,
                world_size=world,
                timeout=timedelta(seconds=TIMEOUT_S),
            )
            smoke(torch, dist, rank, world, device, backend, out["tests"])
        except Exception as exc:  # a peer died or timed out: reported, the others still collected
            out["error"] = {
                "message": reason(exc),
                "traceback": traceback.format_exc().splitlines()[-8:],
            }
    out["nccl"] = nccl_lines()
    store.set("result/%d" % rank, json.dumps(out))
    arrive(store, "result", rank)
    if rank == 0:
        out["cluster"] = collect(store, world, joined, bool(out["error"]))
        store.set("go/exit", "1")
    else:
        # Rank 0 hosts the store: leaving before it has read us would lose our result.
        phase("leave")
        try:
            store.wait(["go/exit"], timedelta(seconds=TIMEOUT_S + 30.0))
        except Exception as exc:
            out["exit_wait"] = reason(exc)
    with open(ARGS["out_path"], "w") as f:
        json.dump(out, f)
    say({"type": "done"})
    try:
        if dist.is_initialized():
            dist.destroy_process_group()
    except Exception:
        pass


if __name__ == "__main__":
    try:
        main()
    except BaseException as exc:  # the parent reads this file: a failure is a result
        record = {
            "rank": ARGS.get("rank"),
            "fatal": reason(exc),
            "traceback": traceback.format_exc().splitlines()[-12:],
        }
        try:
            with open(ARGS["out_path"], "w") as f:
                json.dump(record, f)
        except OSError:
            pass
        say({"type": "done"})
    sys.stdout.flush()
    os._exit(0)
