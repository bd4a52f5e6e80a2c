"""JAX probe (child side): backend, devices, plugins and their errors, smoke tests per device."""

# Runs inside the probe child (see harness.py): standard library + jax (and its numpy) only,
# Python 3.6 syntax.
import importlib
from typing import Any, Dict, List

JSON = Dict[str, Any]


def _poly(x: Any) -> Any:
    return x * x + 3 * x


def probe(ctx: Any) -> None:
    jax = ctx.import_module("jax")
    if jax is None:
        return
    devices = []  # type: List[Any]
    ctx.facts_phase(lambda: devices.extend(_gather(ctx, jax)))
    for device in devices:
        label = _label(device)
        tests = [("autograd", _autograd), ("graph", _graph), ("train", _train)]
        if device.platform != "cpu" or ctx.options.get("full"):  # --full: the CPU's too
            # cuDNN's convolutions both ways. On the CPU XLA takes ~0.5 s to compile a
            # convolution's gradient: too slow for the quick check, run under --full.
            # XLA's cuBLASLt path on a GPU: a half-precision dot with a bias.
            tests += [("conv", _conv), ("matmul-bias", _matmul_bias)]
            tests += [("matmul", _matmul), ("mixed-precision", _mixed)]
        if device.platform != "cpu":
            tests += [("memory", _memory)]
        for test, run in tests:
            ctx.smoke(test, label, lambda r=run, d=device: r(ctx, jax, d))


def _label(device: Any) -> str:
    return "%s:%d" % (device.platform, device.id) if device.platform != "cpu" else "cpu"


def _gather(ctx: Any, jax: Any) -> List[Any]:
    """Runtime facts; returns the devices to smoke-test (one CPU, every accelerator)."""
    ctx.fact("version", lambda: str(jax.__version__))
    ctx.fact("jaxlib_version", lambda: str(importlib.import_module("jaxlib").__version__))
    ctx.fact("plugins", _plugins)
    if hasattr(jax, "default_backend"):  # not in the oldest releases: unknown there
        ctx.fact("default_backend", jax.default_backend)
    ctx.fact(
        "devices",
        lambda: [
            {"id": d.id, "platform": d.platform, "kind": getattr(d, "device_kind", None)}
            for d in jax.devices()
        ],
    )
    # Why a GPU backend is missing: the plugin's own initialisation error, kept by xla_bridge.
    ctx.fact("backend_errors", lambda: _backend_errors(jax))
    _versions(ctx)
    ctx.fact("gpu_error", lambda: _gpu_error(jax))
    devices = []
    cpu = ctx.attempt("cpu_device", lambda: jax.devices("cpu")[0])
    if cpu is not None:
        ctx.device(id="cpu", kind="cpu")
        devices.append(cpu)
    for device in ctx.attempt("accelerators", jax.devices) or []:
        if device.platform == "cpu":
            continue
        ctx.device(id=_label(device), kind=device.platform, name=device.device_kind)
        devices.append(device)
    return devices


def _plugins() -> List[str]:
    from importlib import metadata

    points = metadata.entry_points()
    if hasattr(points, "select"):
        return sorted(p.name for p in points.select(group="jax_plugins"))
    return sorted(p.name for p in points.get("jax_plugins", []))  # Python 3.8, 3.9


def _backend_errors(jax: Any) -> Any:
    bridge = importlib.import_module("jax._src.xla_bridge")
    errors = getattr(bridge, "_backend_errors", None)
    return {str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else None


# jax's own version checks (jax._src.lib.cuda_versions): library → function name stem.
_CUDA_VERSIONS = (
    ("cudart", "cuda_runtime"),
    ("cudnn", "cudnn"),
    ("cublas", "cublas"),
    ("cufft", "cufft"),
    ("cusolver", "cusolver"),
    ("cusparse", "cusparse"),
    ("cupti", "cupti"),
)


def _versions(ctx: Any) -> None:
    """The CUDA libraries' versions the CUDA plugin was built with and finds loaded."""
    try:
        lib = importlib.import_module("jax._src.lib")
    except ImportError:
        return
    versions = getattr(lib, "cuda_versions", None)
    if versions is None:  # no CUDA plugin (or a jaxlib older than the module)
        return
    for library, stem in _CUDA_VERSIONS:
        built = getattr(versions, stem + "_build_version", None)
        loaded = getattr(versions, stem + "_get_version", None)
        if built is None and loaded is None:
            continue
        ctx.version(
            library,
            built=_call(built),
            runtime=_call(loaded),
            how="jax._src.lib.cuda_versions.%s_build_version / _get_version" % stem,
        )


def _call(read: Any) -> Any:
    if read is None:
        return None
    try:
        value = read()
    except Exception as exc:
        return {"error": "%s: %s" % (type(exc).__name__, exc)}
    return None if value is None else str(value)


def _gpu_error(jax: Any) -> Any:
    try:
        jax.devices("gpu")
    except Exception as exc:
        return "%s: %s" % (type(exc).__name__, exc)
    return None


def _autograd(ctx: Any, jax: Any, device: Any) -> JSON:
    x = jax.device_put(jax.numpy.array(ctx.AUTOGRAD_X), device)
    # Under jit, as JAX code runs: eager jax.grad compiles each primitive apart (7× slower here).
    grad = jax.jit(jax.grad(lambda v: jax.numpy.sum(_poly(v))))(x)
    return ctx.autograd_result([float(g) for g in grad])


def _graph(ctx: Any, jax: Any, device: Any) -> JSON:
    x = jax.device_put(jax.numpy.array(ctx.AUTOGRAD_X), device)
    return ctx.graph_result([float(g) for g in jax.jit(_poly)(x)], "jax.jit")


def _train(ctx: Any, jax: Any, device: Any) -> JSON:
    jnp = jax.numpy
    xs, ys = ctx.train_data()
    xs, ys = jax.device_put(jnp.array(xs), device), jax.device_put(jnp.array(ys), device)

    def loss(p: Any) -> Any:
        return jnp.mean((p[0] * xs + p[1] - ys) ** 2)

    def step(_: Any, p: Any) -> Any:
        return p - ctx.TRAIN_LR * jax.grad(loss)(p)

    # The whole loop in one compiled program, as JAX training loops are written.
    fit = jax.jit(lambda p: jax.lax.fori_loop(0, ctx.TRAIN_STEPS, step, p))
    params = fit(jax.device_put(jnp.zeros(2), device))
    return ctx.train_result(float(params[0]), float(params[1]), "jax.grad SGD in lax.fori_loop")


def _matmul(ctx: Any, jax: Any, device: Any) -> JSON:
    np = importlib.import_module("numpy")
    rng = np.random.default_rng(0)
    n = ctx.MATMUL_SIZE
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    reference = a @ b
    errors = {}
    for dtype in ("float32", "float16", "bfloat16"):
        jdtype = getattr(jax.numpy, dtype)
        x = jax.device_put(jax.numpy.asarray(a, dtype=jdtype), device)
        y = jax.device_put(jax.numpy.asarray(b, dtype=jdtype), device)
        got = np.asarray(jax.numpy.matmul(x, y).astype(jax.numpy.float32), dtype=np.float64)
        errors[dtype] = float(np.linalg.norm(got - reference) / np.linalg.norm(reference))
    return ctx.matmul_result(errors)


def _memory(ctx: Any, jax: Any, device: Any) -> JSON:
    if not all(hasattr(o, n) for o, n in ((device, "memory_stats"), (jax, "default_device"))):
        raise ctx.Skip(
            "jax %s has no memory_stats/default_device: not tested on this release"
            % jax.__version__
        )
    stats = device.memory_stats() or {}
    if "bytes_limit" not in stats:
        raise ctx.Skip("this device reports no memory limit")
    with ctx.accelerator_lock():
        free = int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
        size = int(free * ctx.MEMORY_SHARE)
        with jax.default_device(device):
            block = jax.numpy.full((size,), 7, dtype=jax.numpy.uint8)
        seen = [int(block[i]) for i in (0, size // 2, size - 1)]
        if hasattr(block, "delete"):
            block.delete()
    return {
        "ok": seen == [7, 7, 7],
        "expected": "%d bytes allocated and written" % size,
        "got": {"free_bytes": free, "values": seen},
    }


def _mixed(ctx: Any, jax: Any, device: Any) -> JSON:
    jnp = jax.numpy
    xs, ys = ctx.train_data()
    xs = jax.device_put(jnp.array(xs, dtype=jnp.bfloat16)[:, None], device)
    ys = jax.device_put(jnp.array(ys), device)

    def loss(p: Any) -> Any:
        pred = (xs @ p[:1].astype(jnp.bfloat16)[None, :])[:, 0].astype(jnp.float32) + p[1]
        return jnp.mean((pred - ys) ** 2)

    step = jax.jit(lambda p: p - ctx.TRAIN_LR * jax.grad(loss)(p))
    params = jax.device_put(jnp.zeros(2), device)
    for _ in range(ctx.TRAIN_STEPS):
        params = step(params)
    return ctx.train_result(float(params[0]), float(params[1]), "bfloat16 matmul", tolerance=5e-2)


def _conv(ctx: Any, jax: Any, device: Any) -> JSON:
    jnp = jax.numpy
    x = jax.device_put(jnp.array(ctx.CONV_X), device)
    w = jax.device_put(jnp.array(ctx.CONV_W), device)

    def forward(x: Any, w: Any) -> Any:
        return jax.lax.conv_general_dilated(
            x, w, (1, 1), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW")
        )

    def loss(x: Any, w: Any) -> Any:
        out = forward(x, w)
        return jnp.sum(out * out) / 2, out

    # One compiled program for the output and both gradients, as a training step is.
    (_, out), (gx, gw) = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(x, w)
    return ctx.conv_result(
        out.tolist(), gx.tolist(), gw.tolist(), "lax.conv_general_dilated forward + backward"
    )


def _matmul_bias(ctx: Any, jax: Any, device: Any) -> JSON:
    np = importlib.import_module("numpy")
    rng = np.random.default_rng(1)
    n = ctx.GEMM_SIZE
    a, b, bias = rng.standard_normal((n, n)), rng.standard_normal((n, n)), rng.standard_normal(n)
    reference = a @ b + bias
    jnp = jax.numpy
    args = [jax.device_put(jnp.asarray(v, dtype=jnp.float16), device) for v in (a, b, bias)]
    got = jax.jit(lambda a, b, bias: a @ b + bias)(*args)
    got = np.asarray(got.astype(jnp.float32), dtype=np.float64)
    error = float(np.linalg.norm(got - reference) / np.linalg.norm(reference))
    return ctx.gemm_result(error, "float16", "jit(a @ b + bias), float16")
