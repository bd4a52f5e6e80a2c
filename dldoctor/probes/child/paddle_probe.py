"""PaddlePaddle probe (child side): CUDA build and devices as Paddle sees them, smoke tests."""

# Runs inside the probe child (see harness.py): standard library + paddle (and its numpy) only,
# Python 3.6 syntax.
import importlib
import inspect
from typing import Any, Dict, List

JSON = Dict[str, Any]


def _poly(x: Any) -> Any:
    return x * x + 3 * x


def _takes(function: Any, keyword: str) -> bool:
    """Whether this release's ``function`` accepts ``keyword`` (detected, never tried)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == keyword or p.kind is p.VAR_KEYWORD for p in parameters)


def probe(ctx: Any) -> None:
    paddle = ctx.import_module("paddle")
    if paddle is None:
        return
    gpus = []  # type: List[str]
    ctx.facts_phase(lambda: gpus.extend(_gather(ctx, paddle)))
    for device in ["cpu", *gpus]:
        tests = [("autograd", _autograd), ("graph", _graph), ("train", _train)]
        tests += [("conv", _conv), ("matmul-bias", _matmul_bias)]  # cuDNN, cuBLASLt on a GPU
        if device != "cpu" or ctx.options.get("full"):  # --full: the CPU's numerics too
            tests += [("matmul", _matmul), ("mixed-precision", _mixed)]
        for test, run in tests:
            ctx.smoke(test, device, lambda r=run, d=device: _on(paddle, d, lambda: r(ctx, paddle)))


def _on(paddle: Any, device: str, run: Any) -> JSON:
    paddle.device.set_device(device)
    return dict(run())


def _gather(ctx: Any, paddle: Any) -> List[str]:
    """Runtime facts; returns the GPUs to smoke-test ("gpu:0", …)."""
    ctx.fact("version", lambda: str(paddle.__version__))
    ctx.fact("cuda_version", lambda: str(paddle.version.cuda()))
    ctx.fact("cudnn_build_version", lambda: str(paddle.version.cudnn()))
    cuda = ctx.fact("compiled_with_cuda", lambda: bool(paddle.is_compiled_with_cuda()))
    ctx.fact("compiled_with_rocm", lambda: bool(paddle.is_compiled_with_rocm()))
    ctx.fact("compiled_with_xpu", lambda: bool(paddle.is_compiled_with_xpu()))
    ctx.fact("custom_devices", lambda: list(paddle.device.get_all_custom_device_type()))
    count = ctx.fact("cuda_device_count", paddle.device.cuda.device_count) if cuda else 0
    if cuda:
        runtime = ctx.fact("cudnn_version", paddle.get_cudnn_version)  # loads the runtime one
        ctx.version(
            "cudnn",
            built=_said(paddle.version.cudnn),
            runtime=None if runtime is None else str(runtime),
            how="paddle.version.cudnn / paddle.get_cudnn_version",
        )
        ctx.version("cudart", built=_said(paddle.version.cuda), how="paddle.version.cuda")
        if not count:  # built for CUDA, no GPU listed: ask Paddle why
            ctx.unavailable("gpu", lambda: paddle.to_tensor([1.0], place=paddle.CUDAPlace(0)))
    ctx.fact("default_device", paddle.device.get_device)
    ctx.device(id="cpu", kind="cpu")
    gpus = []
    for i in range(count or 0):
        props = ctx.attempt("gpu_%d" % i, lambda i=i: paddle.device.cuda.get_device_properties(i))
        if props is None:
            continue
        ctx.device(
            id="gpu:%d" % i,
            kind="gpu",
            name=getattr(props, "name", None),
            compute_capability="%s.%s" % (props.major, props.minor),
            memory_total_bytes=int(getattr(props, "total_memory", 0)) or None,
        )
        gpus.append("gpu:%d" % i)
    return gpus


def _said(read: Any) -> Any:
    try:
        value = read()
    except Exception as exc:
        return {"error": "%s: %s" % (type(exc).__name__, exc)}
    return None if value in (None, "False", False) else str(value)


def _autograd(ctx: Any, paddle: Any) -> JSON:
    x = paddle.to_tensor(ctx.AUTOGRAD_X, stop_gradient=False)
    _poly(x).sum().backward()
    return ctx.autograd_result(x.grad.numpy().tolist())


def _graph(ctx: Any, paddle: Any) -> JSON:
    to_static = paddle.jit.to_static
    # full_graph (2.6+) keeps the whole-graph translation the older releases always did
    static = (
        to_static(_poly, full_graph=True) if _takes(to_static, "full_graph") else to_static(_poly)
    )
    got = static(paddle.to_tensor(ctx.AUTOGRAD_X))
    return ctx.graph_result(got.numpy().tolist(), "paddle.jit.to_static")


def _train(ctx: Any, paddle: Any) -> JSON:
    xs, ys = ctx.train_data()
    xs, ys = paddle.to_tensor(xs), paddle.to_tensor(ys)
    w = paddle.zeros([1])
    b = paddle.zeros([1])
    w.stop_gradient = False
    b.stop_gradient = False
    for _ in range(ctx.TRAIN_STEPS):
        loss = ((w * xs + b - ys) ** 2).mean()
        gw, gb = paddle.grad(loss, [w, b])
        with paddle.no_grad():
            w.set_value(w - ctx.TRAIN_LR * gw)
            b.set_value(b - ctx.TRAIN_LR * gb)
    return ctx.train_result(float(w.item()), float(b.item()), "paddle.grad + SGD update")


def _matmul(ctx: Any, paddle: Any) -> JSON:
    np = importlib.import_module("numpy")
    rng = np.random.default_rng(0)
    n = ctx.MATMUL_SIZE
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    reference = a @ b
    errors = {}
    on_cpu = paddle.device.get_device() == "cpu"  # Paddle's CPU matmul is float32/64 only
    for dtype in ("float32",) if on_cpu else ("float32", "float16", "bfloat16"):
        x = paddle.to_tensor(a.astype("float32")).astype(dtype)
        y = paddle.to_tensor(b.astype("float32")).astype(dtype)
        got = paddle.matmul(x, y).astype("float32").numpy().astype("float64")
        errors[dtype] = float(np.linalg.norm(got - reference) / np.linalg.norm(reference))
    return ctx.matmul_result(errors)


def _mixed(ctx: Any, paddle: Any) -> JSON:
    if not _takes(paddle.amp.auto_cast, "dtype"):
        raise ctx.Skip(
            "paddle %s has no auto_cast(dtype=...): not tested on this release" % paddle.__version__
        )
    xs, ys = ctx.train_data()
    xs = paddle.to_tensor([[x] for x in xs])
    ys = paddle.to_tensor(ys)
    w = paddle.zeros([1, 1])
    b = paddle.zeros([1])
    w.stop_gradient = False
    b.stop_gradient = False
    for _ in range(ctx.TRAIN_STEPS):
        with paddle.amp.auto_cast(dtype="bfloat16"):
            pred = paddle.matmul(xs, w)[:, 0]
        loss = ((pred.astype("float32") + b - ys) ** 2).mean()
        gw, gb = paddle.grad(loss, [w, b])
        with paddle.no_grad():
            w.set_value(w - ctx.TRAIN_LR * gw)
            b.set_value(b - ctx.TRAIN_LR * gb)
    return ctx.train_result(float(w.item()), float(b.item()), "auto_cast bfloat16", 5e-2)


def _conv(ctx: Any, paddle: Any) -> JSON:
    x = paddle.to_tensor(ctx.CONV_X, stop_gradient=False)
    w = paddle.to_tensor(ctx.CONV_W, stop_gradient=False)
    out = paddle.nn.functional.conv2d(x, w)
    ((out * out).sum() / 2).backward()
    return ctx.conv_result(
        out.numpy().tolist(),
        x.grad.numpy().tolist(),
        w.grad.numpy().tolist(),
        "paddle.nn.functional.conv2d forward + backward",
    )


def _matmul_bias(ctx: Any, paddle: Any) -> JSON:
    np = importlib.import_module("numpy")
    rng = np.random.default_rng(1)
    n = ctx.GEMM_SIZE
    a, b, bias = rng.standard_normal((n, n)), rng.standard_normal((n, n)), rng.standard_normal(n)
    reference = a @ b + bias
    dtype = "float32" if paddle.device.get_device() == "cpu" else "float16"
    x, y, z = (paddle.to_tensor(v.astype("float32")).astype(dtype) for v in (a, b, bias))
    got = paddle.nn.functional.linear(x, y, z).astype("float32").numpy().astype("float64")
    error = float(np.linalg.norm(got - reference) / np.linalg.norm(reference))
    return ctx.gemm_result(error, dtype, "paddle.nn.functional.linear (matmul + bias), " + dtype)
