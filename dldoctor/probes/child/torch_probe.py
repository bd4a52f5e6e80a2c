"""PyTorch probe (child side): what torch sees at run time, and smoke tests on every device."""

# Runs inside the probe child (see harness.py): standard library + torch only, Python 3.6 syntax.
import json
import os
import socket
import subprocess
import sys
import time
import warnings
from typing import Any, Dict, List

JSON = Dict[str, Any]

# One rank of the all-reduce test, run as `python -c` in its own process (torch.distributed needs
# a process per rank). It writes its reduced tensor to the pipe fd it is given.
ALLREDUCE_RANK = r"""
import json, os, sys
args = json.loads(sys.argv[1])
import torch
import torch.distributed as dist
rank, world, backend = args["rank"], args["world"], args["backend"]
device = "cuda:%d" % rank if backend == "nccl" else "cpu"
if backend == "nccl":
    torch.cuda.set_device(rank)
dist.init_process_group(
    backend, init_method="tcp://127.0.0.1:%d" % args["port"], rank=rank, world_size=world
)
t = torch.full((4,), float(rank + 1), device=device)
dist.all_reduce(t)
os.write(args["fd"], (json.dumps({"rank": rank, "got": t.cpu().tolist()}) + "\n").encode())
dist.destroy_process_group()
os._exit(0)
"""


def _poly(x: Any) -> Any:
    return x * x + 3 * x


def _api(obj: Any, dotted: str) -> Any:
    """``obj.a.b`` for ``dotted`` "a.b", or None on a release that lacks it (detected before any
    call: a missing API is not tested on this release, never a failed computation)."""
    for name in dotted.split("."):
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


def _needs(ctx: Any, torch: Any, dotted: str) -> Any:
    """``torch.<dotted>``, or the test is skipped as not tested on this release."""
    found = _api(torch, dotted)
    if found is None:
        version = getattr(torch, "__version__", "?")
        raise ctx.Skip("torch %s has no torch.%s: not tested on this release" % (version, dotted))
    return found


def probe(ctx: Any) -> None:
    torch = ctx.import_module("torch")
    if torch is None:
        return
    for name in ctx.options.get("companions") or []:
        ctx.import_module(name, companion=True)
    accelerators = []  # type: List[str]
    ctx.facts_phase(lambda: accelerators.extend(_gather(ctx, torch)))
    full = bool(ctx.options.get("full"))
    for device in ["cpu", *accelerators]:
        tests = [("autograd", _autograd), ("graph", _graph), ("train", _train)]
        # Where the classic failures live: cuDNN's start-up and sub-libraries (a convolution,
        # both ways), cuBLASLt (a matmul with a bias epilogue), NVRTC (a kernel compiled now).
        tests += [("conv", _one_thread(_conv)), ("matmul-bias", _one_thread(_matmul_bias))]
        if device.startswith("cuda"):
            tests += [("jit-kernel", _jit_kernel)]
        if device != "cpu" or full:  # under --full the CPU's numerics are checked too
            tests += [("matmul", _matmul), ("mixed-precision", _mixed)]
        if device != "cpu":
            tests += [("memory", _memory)]
        if full:
            tests += [("train-optim", _train_optim), ("export", _export)]
        for name, test in tests:
            ctx.smoke(name, device, lambda t=test, d=device: t(ctx, torch, d))
        if full:  # needs a C++ compiler and minutes on a small machine: its own time budget
            timeout = ctx.options.get("compile_timeout_s")
            ctx.smoke("compile", device, lambda d=device: _compile(ctx, torch, d), timeout)
    if full:
        ctx.smoke("all-reduce", "cpu", lambda: _allreduce(ctx, "gloo", 2), timeout_s=120)
        # Deployment: the export to ONNX, run by ONNX Runtime (CPU, CUDA, TensorRT providers)
        # and built into a TensorRT engine, outputs compared with torch's (child/deploy.py).
        ctx.helper("deploy").torch_chains(ctx, torch, accelerators)
    cuda = [d for d in accelerators if d.startswith("cuda:")]
    if len(cuda) >= 2:
        ctx.smoke(
            "all-reduce", "cuda:0-%d" % (len(cuda) - 1), lambda: _allreduce(ctx, "nccl", len(cuda))
        )


def _gather(ctx: Any, torch: Any) -> List[str]:
    """Runtime facts; returns the accelerator devices to smoke-test."""
    version = torch.version
    ctx.fact("version", lambda: str(torch.__version__))
    ctx.fact("cuda_version", lambda: version.cuda)
    hip = ctx.fact("hip_version", lambda: getattr(version, "hip", None))
    built = ctx.fact("cuda_built", lambda: bool(torch.backends.cuda.is_built()))
    if _api(torch, "cuda.get_arch_list"):  # torch 1.7+
        ctx.fact("arch_list", torch.cuda.get_arch_list)
    available = ctx.fact("cuda_available", torch.cuda.is_available)
    if built or hip:
        ctx.fact("cuda_init_error", lambda: _init_error(torch))
    count = ctx.fact("cuda_device_count", torch.cuda.device_count) if available else 0
    ctx.device(id="cpu", kind="cpu")
    devices = []
    for i in range(count or 0):
        info = ctx.attempt("cuda_device_%d" % i, lambda i=i: _cuda_device(torch, i))
        if info:
            ctx.device(**info)
            devices.append(info["id"])
    ctx.fact("cudnn_available", torch.backends.cudnn.is_available)
    ctx.fact("cudnn_version", torch.backends.cudnn.version)
    if built or hip:
        _versions(ctx, torch, bool(available))
        if not available:  # the build has CUDA but torch lists no GPU: ask it why
            ctx.unavailable("cuda", lambda: torch.zeros(1, device="cuda"))
    if available:
        ctx.fact("nccl_version", lambda: _dotted(torch.cuda.nccl.version()))
        if _api(torch, "cuda.is_bf16_supported"):  # torch 1.10+
            ctx.fact("bf16_supported", torch.cuda.is_bf16_supported)
    mps_built = ctx.fact("mps_built", lambda: bool(torch.backends.mps.is_built()))
    if ctx.fact("mps_available", lambda: bool(torch.backends.mps.is_available())):
        ctx.device(id="mps", kind="mps")
        devices.append("mps")
    elif mps_built:  # "The MPS backend is supported on MacOS 12.3+" is only said here
        ctx.unavailable("mps", lambda: torch.zeros(1, device="mps"))
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and ctx.fact("xpu_available", lambda: bool(xpu.is_available())):
        for i in range(ctx.fact("xpu_device_count", xpu.device_count) or 0):
            name = ctx.attempt("xpu_device_%d" % i, lambda i=i: xpu.get_device_name(i))
            ctx.device(id="xpu:%d" % i, kind="xpu", name=name)
            devices.append("xpu:%d" % i)
    ctx.fact("num_threads", torch.get_num_threads)
    return devices


def _versions(ctx: Any, torch: Any, available: bool) -> None:
    """cuDNN and NCCL as torch reports them: built against, and loaded (APIs detected first)."""
    cudnn = getattr(torch._C, "_cudnn", None)
    if cudnn is not None:
        compiled = getattr(cudnn, "getCompileVersion", None)
        loaded = getattr(cudnn, "getRuntimeVersion", None)
        ctx.version(
            "cudnn",
            built=_call(compiled),
            runtime=_call(loaded),
            how="torch._C._cudnn.getCompileVersion / getRuntimeVersion",
        )
    ctx.version("cudart", built=torch.version.cuda, how="torch.version.cuda")
    nccl = getattr(torch.cuda, "nccl", None)
    if available and nccl is not None and hasattr(nccl, "version"):
        ctx.version("nccl", runtime=_call(nccl.version), how="torch.cuda.nccl.version")


def _call(read: Any) -> Any:
    """``read()`` as a dotted version, None when it is missing; its error as the text."""
    if read is None:
        return None
    try:
        return _dotted(read())
    except Exception as exc:
        return {"error": "%s: %s" % (type(exc).__name__, exc)}


def _init_error(torch: Any) -> Any:
    """The text torch gives when CUDA cannot initialise (None when it can)."""
    try:
        torch.cuda.init()
    except Exception as exc:
        return "%s: %s" % (type(exc).__name__, exc)
    return None


def _cuda_device(torch: Any, index: int) -> JSON:
    props = torch.cuda.get_device_properties(index)
    info = {
        "id": "cuda:%d" % index,
        "kind": "cuda",
        "name": props.name,
        "compute_capability": "%d.%d" % (props.major, props.minor),
        "memory_total_bytes": int(props.total_memory),
        "multiprocessors": getattr(props, "multi_processor_count", None),
    }  # type: JSON
    if getattr(props, "gcnArchName", None):
        info["gcn_arch"] = props.gcnArchName
    mem_get_info = _api(torch, "cuda.mem_get_info")  # torch 1.10+: unknown before
    try:
        if mem_get_info is not None:
            info["memory_free_bytes"] = int(mem_get_info(index)[0])
    except Exception as exc:
        info["memory_error"] = "%s: %s" % (type(exc).__name__, exc)
    return info


def _dotted(version: Any) -> str:
    if isinstance(version, (tuple, list)):
        return ".".join(str(v) for v in version)
    return str(version)


def _autograd(ctx: Any, torch: Any, device: str) -> JSON:
    x = torch.tensor(ctx.AUTOGRAD_X, device=device, requires_grad=True)
    _poly(x).sum().backward()
    return ctx.autograd_result(x.grad.cpu().tolist())


def _graph(ctx: Any, torch: Any, device: str) -> JSON:
    x = torch.tensor(ctx.AUTOGRAD_X, device=device)
    trace = getattr(getattr(torch, "jit", None), "trace", None)
    if trace is None:
        return _export(ctx, torch, device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated in favour of torch.export, far cheaper here
        # check_trace re-runs and diffs the trace (0.7 s here); the result is checked below.
        traced = trace(_poly, x, check_trace=False)
    return ctx.graph_result(traced(x).cpu().tolist(), "torch.jit.trace")


def _export(ctx: Any, torch: Any, device: str) -> JSON:
    class Poly(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return _poly(x)

    export = _needs(ctx, torch, "export.export")  # torch 2.1+
    x = torch.tensor(ctx.AUTOGRAD_X, device=device)
    program = export(Poly(), (x,))
    return ctx.graph_result(program.module()(x).cpu().tolist(), "torch.export")


def _compile(ctx: Any, torch: Any, device: str) -> JSON:
    compile_ = _needs(ctx, torch, "compile")  # torch 2.0+
    x = torch.tensor(ctx.AUTOGRAD_X, device=device)
    compiled = compile_(_poly)
    return ctx.graph_result(compiled(x).cpu().tolist(), "torch.compile")


def _data(ctx: Any, torch: Any, device: str) -> Any:
    xs, ys = ctx.train_data()
    return torch.tensor(xs, device=device), torch.tensor(ys, device=device)


def _train(ctx: Any, torch: Any, device: str) -> JSON:
    xs, ys = _data(ctx, torch, device)
    w = torch.zeros((), device=device, requires_grad=True)
    b = torch.zeros((), device=device, requires_grad=True)
    for _ in range(ctx.TRAIN_STEPS):
        loss = ((w * xs + b - ys) ** 2).mean()
        gw, gb = torch.autograd.grad(loss, [w, b])
        with torch.no_grad():
            w -= ctx.TRAIN_LR * gw
            b -= ctx.TRAIN_LR * gb
    return ctx.train_result(w.item(), b.item(), "autograd + SGD update")


def _train_optim(ctx: Any, torch: Any, device: str) -> JSON:
    xs, ys = _data(ctx, torch, device)
    model = torch.nn.Linear(1, 1).to(device)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    optimizer = torch.optim.SGD(model.parameters(), lr=ctx.TRAIN_LR)
    for _ in range(ctx.TRAIN_STEPS):
        optimizer.zero_grad()
        loss = ((model(xs[:, None])[:, 0] - ys) ** 2).mean()
        loss.backward()
        optimizer.step()
    return ctx.train_result(model.weight.item(), model.bias.item(), "nn.Linear + optim.SGD")


def _dtypes(torch: Any, device: str) -> List[str]:
    names = ["float32", "float16"]
    bf16 = _api(torch, "cuda.is_bf16_supported")  # torch 1.10+: bfloat16 not tested before
    if device.startswith("cuda") and bf16 is not None and bf16():
        names.append("bfloat16")
    return names


def _matmul(ctx: Any, torch: Any, device: str) -> JSON:
    n = ctx.MATMUL_SIZE
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=generator, dtype=torch.float64)
    b = torch.randn(n, n, generator=generator, dtype=torch.float64)
    reference = a @ b
    errors = {}
    for name in _dtypes(torch, device):
        dtype = getattr(torch, name)
        got = (a.to(dtype).to(device) @ b.to(dtype).to(device)).to("cpu").to(torch.float64)
        # Tensor.norm (every release) where torch.linalg (1.7+) may be missing
        errors[name] = float((got - reference).norm() / reference.norm())
    return ctx.matmul_result(errors)


def _one_thread(test: Any) -> Any:
    """``test`` on one CPU thread when on the CPU: a tiny op on a busy machine otherwise waits
    for the second thread of the pool to be scheduled (50 ms instead of 0.3 ms, measured)."""

    def run(ctx: Any, torch: Any, device: str) -> JSON:
        if device != "cpu":
            return test(ctx, torch, device)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return test(ctx, torch, device)
        finally:
            torch.set_num_threads(threads)

    return run


def _conv(ctx: Any, torch: Any, device: str) -> JSON:
    x = torch.tensor(ctx.CONV_X, device=device, requires_grad=True)
    w = torch.tensor(ctx.CONV_W, device=device, requires_grad=True)
    cudnn = torch.backends.cudnn
    flags = getattr(cudnn, "flags", None)
    if flags is not None:
        with flags(enabled=True):  # cuDNN on, whatever the user's defaults
            out = torch.nn.functional.conv2d(x, w)
            (out * out).sum().div(2).backward()
    else:
        out = torch.nn.functional.conv2d(x, w)
        (out * out).sum().div(2).backward()
    how = "conv2d forward + backward"
    if device.startswith("cuda"):
        how += " (cuDNN %s)" % ("enabled" if cudnn.is_available() else "not in this build")
    grads = x.grad.cpu().tolist(), w.grad.cpu().tolist()
    return ctx.conv_result(out.detach().cpu().tolist(), grads[0], grads[1], how)


def _matmul_bias(ctx: Any, torch: Any, device: str) -> JSON:
    n = ctx.GEMM_SIZE
    generator = torch.Generator().manual_seed(1)
    a = torch.randn(n, n, generator=generator, dtype=torch.float64)
    b = torch.randn(n, n, generator=generator, dtype=torch.float64)
    bias = torch.randn(n, generator=generator, dtype=torch.float64)
    reference = torch.addmm(bias, a, b)
    # float16 is cuBLASLt's path on CUDA (addmm's bias epilogue); the CPU checks float32.
    name = "float32" if device == "cpu" else "float16"
    dtype = getattr(torch, name)
    got = torch.addmm(*(t.to(dtype).to(device) for t in (bias, a, b)))
    got = got.to("cpu").to(torch.float64)
    error = float((got - reference).norm() / reference.norm())
    return ctx.gemm_result(error, name, "addmm with bias, %d×%d %s" % (n, n, name))


def _jit_kernel(ctx: Any, torch: Any, device: str) -> JSON:
    """A kernel compiled now by NVRTC (torch.cuda.jiterator), where libnvrtc is first loaded."""
    jiterator = getattr(getattr(torch.cuda, "jiterator", None), "_create_jit_fn", None)
    if jiterator is None:
        raise ctx.Skip("no torch.cuda.jiterator in this release: no NVRTC kernel to compile")
    kernel = jiterator("template <typename T> T dldoctor_axpy(T x, T y) { return x * T(2) + y; }")
    x = torch.tensor(ctx.AUTOGRAD_X, device=device)
    got = [3.0 * v for v in ctx.AUTOGRAD_X]
    result = ctx.close([float(v) for v in kernel(x, x).cpu().tolist()], got, 1e-6)
    result["detail"] = "torch.cuda.jiterator (NVRTC)"
    return result


def _memory(ctx: Any, torch: Any, device: str) -> JSON:
    if not device.startswith("cuda"):
        raise ctx.Skip("no free-memory query for %s" % device)
    mem_get_info = _needs(ctx, torch, "cuda.mem_get_info")  # torch 1.10+
    with ctx.accelerator_lock():
        free, total = mem_get_info(device)
        size = int(free * ctx.MEMORY_SHARE)
        block = torch.empty(size, dtype=torch.uint8, device=device)
        block.fill_(7)
        probes = [0, size // 2, size - 1]
        seen = [int(block[i].item()) for i in probes]
        del block
        torch.cuda.empty_cache()
    return {
        "ok": seen == [7, 7, 7],
        "expected": "%d bytes allocated and written" % size,
        "got": {"free_bytes": int(free), "total_bytes": int(total), "values": seen},
    }


def _mixed(ctx: Any, torch: Any, device: str) -> JSON:
    kind = device.split(":")[0]
    autocast = _needs(ctx, torch, "autocast")  # torch 1.10+ (device_type, dtype)
    supported = _api(torch, "cuda.is_bf16_supported")
    bf16 = kind == "cuda" and supported is not None and supported()
    dtype = torch.bfloat16 if bf16 else torch.float16
    xs, ys = _data(ctx, torch, device)
    xs = xs[:, None]
    w = torch.zeros((1, 1), device=device, requires_grad=True)
    b = torch.zeros((), device=device, requires_grad=True)
    for _ in range(ctx.TRAIN_STEPS):
        with autocast(device_type=kind, dtype=dtype):
            pred = (xs @ w)[:, 0] + b
        loss = ((pred.float() - ys) ** 2).mean()
        gw, gb = torch.autograd.grad(loss, [w, b])
        with torch.no_grad():
            w -= ctx.TRAIN_LR * gw
            b -= ctx.TRAIN_LR * gb
    return ctx.train_result(w.item(), b.item(), "autocast %s" % str(dtype), tolerance=5e-2)


def _allreduce(ctx: Any, backend: str, world: int) -> JSON:
    """All-reduce across ``world`` ranks: each contributes rank+1, each must see the sum."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    read_fd, write_fd = os.pipe()
    ranks = []
    try:
        for rank in range(world):
            args = {"rank": rank, "world": world, "backend": backend, "port": port}
            args["fd"] = write_fd
            command = [sys.executable, "-c", ALLREDUCE_RANK, json.dumps(args)]
            ranks.append(subprocess.Popen(command, pass_fds=(write_fd,)))
        os.close(write_fd)
        write_fd = -1
        deadline = time.monotonic() + 90
        codes = [r.wait(timeout=max(0.1, deadline - time.monotonic())) for r in ranks]
        chunks = []
        while True:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        for r in ranks:
            if r.poll() is None:
                r.kill()
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    results = [json.loads(line) for line in b"".join(chunks).decode().splitlines() if line]
    expected = [float(world * (world + 1) // 2)] * 4
    got = [r["got"] for r in sorted(results, key=lambda r: r["rank"])]
    return {
        "ok": len(got) == world and all(g == expected for g in got) and codes == [0] * world,
        "expected": {"per_rank": expected, "ranks": world},
        "got": {"per_rank": got, "exit_codes": codes},
        "detail": "torch.distributed %s" % backend,
    }
