"""TensorFlow probe (child side): build info, devices, GPU warnings, smoke tests on every device."""

# Runs inside the probe child (see harness.py): standard library + tensorflow only, Python 3.6.
import importlib
from typing import Any, Dict, List, Tuple

JSON = Dict[str, Any]


def _poly(x: Any) -> Any:
    return x * x + 3 * x


def probe(ctx: Any) -> None:
    tf = ctx.import_module("tensorflow")
    if tf is None:
        return
    for name in ctx.options.get("companions") or []:
        ctx.import_module(name, companion=True)
    gpus = []  # type: List[Tuple[str, str]]
    ctx.facts_phase(lambda: gpus.extend(_gather(ctx, tf)))
    for device, name in [("cpu", "/CPU:0"), *gpus]:
        tests = [("autograd", _autograd), ("graph", _graph), ("train", _train)]
        tests += [("conv", _conv), ("matmul-bias", _matmul_bias)]  # cuDNN, cuBLASLt on a GPU
        if device != "cpu":  # XLA compiles for the GPU now: ptxas / nvJitLink, libdevice
            tests += [("jit-kernel", _jit_kernel)]
        if device != "cpu" or ctx.options.get("full"):  # --full: the CPU's numerics too
            tests += [("matmul", _matmul), ("mixed-precision", _mixed)]
        for test, run in tests:
            ctx.smoke(test, device, lambda r=run, n=name: r(ctx, tf, n))
    if ctx.options.get("full"):  # deployment: TFLite's converter and interpreter (child/deploy.py)
        ctx.helper("deploy").tflite_chain(ctx, tf)


def _gather(ctx: Any, tf: Any) -> List[Tuple[str, str]]:
    """Runtime facts; returns the GPUs to smoke-test as (id, TensorFlow device name)."""
    ctx.fact("version", lambda: str(tf.__version__))
    build = ctx.fact("build_info", lambda: dict(tf.sysconfig.get_build_info()))
    for library, key in (("cudart", "cuda_version"), ("cudnn", "cudnn_version")):
        if isinstance(build, dict) and build.get(key):
            # TensorFlow reports no runtime version: the copy it loads is in the library list.
            ctx.version(library, built=str(build[key]), how="tf.sysconfig.get_build_info")
    cuda = ctx.fact("built_with_cuda", tf.test.is_built_with_cuda)
    # Listing the devices is what loads the CUDA libraries, and where TensorFlow logs
    # "Cannot dlopen some GPU libraries" and "Skipping registering GPU devices".
    physical = ctx.fact(
        "physical_devices",
        lambda: [
            {"name": d.name, "type": d.device_type} for d in tf.config.list_physical_devices()
        ],
    )
    ctx.fact(
        "logical_devices",
        lambda: [{"name": d.name, "type": d.device_type} for d in tf.config.list_logical_devices()],
    )
    ctx.device(id="cpu", kind="cpu")
    gpus = []
    for i, entry in enumerate(d for d in physical or [] if d["type"] == "GPU"):
        details = ctx.attempt("gpu_%d_details" % i, lambda e=entry: _details(tf, e["name"])) or {}
        capability = details.get("compute_capability")
        ctx.device(
            id="gpu:%d" % i,
            kind="gpu",
            name=details.get("device_name"),
            compute_capability="%d.%d" % tuple(capability) if capability else None,
        )
        gpus.append(("gpu:%d" % i, "/GPU:%d" % i))
    if cuda and not gpus:  # a CUDA build that lists no GPU: ask it (its log says which library)
        ctx.unavailable("gpu", lambda: _on_gpu(tf))
    return gpus


def _on_gpu(tf: Any) -> None:
    """A tensor placed on the GPU with soft placement off (else TensorFlow silently uses the CPU)."""
    config = tf.config
    soft = config.get_soft_device_placement()
    config.set_soft_device_placement(False)
    try:
        with tf.device("/GPU:0"):
            tf.identity(tf.constant([1.0])).numpy()
    finally:
        config.set_soft_device_placement(soft)


def _details(tf: Any, name: str) -> JSON:
    device = next(d for d in tf.config.list_physical_devices("GPU") if d.name == name)
    return dict(tf.config.experimental.get_device_details(device))


def _autograd(ctx: Any, tf: Any, name: str) -> JSON:
    with tf.device(name):
        x = tf.Variable(ctx.AUTOGRAD_X)
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(_poly(x))
        grad = tape.gradient(y, x)
    return ctx.autograd_result(grad.numpy().tolist())


def _graph(ctx: Any, tf: Any, name: str) -> JSON:
    with tf.device(name):
        got = tf.function(_poly)(tf.constant(ctx.AUTOGRAD_X))
    return ctx.graph_result(got.numpy().tolist(), "tf.function")


def _train(ctx: Any, tf: Any, name: str) -> JSON:
    xs, ys = ctx.train_data()
    with tf.device(name):
        xs, ys = tf.constant(xs), tf.constant(ys)
        w, b = tf.Variable(0.0), tf.Variable(0.0)
        for _ in range(ctx.TRAIN_STEPS):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((w * xs + b - ys) ** 2)
            gw, gb = tape.gradient(loss, [w, b])
            w.assign_sub(ctx.TRAIN_LR * gw)
            b.assign_sub(ctx.TRAIN_LR * gb)
    return ctx.train_result(float(w.numpy()), float(b.numpy()), "GradientTape + SGD update")


def _matmul(ctx: Any, tf: Any, name: str) -> JSON:
    n = ctx.MATMUL_SIZE
    with tf.device("/CPU:0"):
        a = tf.random.stateless_normal([n, n], seed=[1, 2], dtype=tf.float64)
        b = tf.random.stateless_normal([n, n], seed=[3, 4], dtype=tf.float64)
        reference = tf.matmul(a, b)
    errors = {}
    for dtype in ("float32", "float16", "bfloat16"):
        with tf.device(name):
            got = tf.matmul(tf.cast(a, dtype), tf.cast(b, dtype))
        with tf.device("/CPU:0"):
            error = tf.norm(tf.cast(got, tf.float64) - reference) / tf.norm(reference)
        errors[dtype] = float(error.numpy())
    return ctx.matmul_result(errors)


def _mixed(ctx: Any, tf: Any, name: str) -> JSON:
    xs, ys = ctx.train_data()
    with tf.device(name):
        xs = tf.constant([[x] for x in xs], dtype=tf.bfloat16)
        ys = tf.constant(ys)
        w, b = tf.Variable([[0.0]]), tf.Variable(0.0)
        for _ in range(ctx.TRAIN_STEPS):
            with tf.GradientTape() as tape:
                pred = tf.cast(tf.matmul(xs, tf.cast(w, tf.bfloat16))[:, 0], tf.float32) + b
                loss = tf.reduce_mean((pred - ys) ** 2)
            gw, gb = tape.gradient(loss, [w, b])
            w.assign_sub(ctx.TRAIN_LR * gw)
            b.assign_sub(ctx.TRAIN_LR * gb)
    return ctx.train_result(
        float(w.numpy()[0][0]), float(b.numpy()), "bfloat16 matmul", tolerance=5e-2
    )


def _conv(ctx: Any, tf: Any, name: str) -> JSON:
    np = importlib.import_module("numpy")  # layouts and the reference off TensorFlow's op path
    # NHWC and HWIO: the layouts TensorFlow's CPU kernels take (cuDNN takes both).
    x_nhwc = np.array(ctx.CONV_X, dtype="float32").transpose(0, 2, 3, 1)
    w_hwio = np.array(ctx.CONV_W, dtype="float32").transpose(2, 3, 1, 0)
    with tf.device(name):
        x, w = tf.constant(x_nhwc), tf.constant(w_hwio)
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            out = tf.nn.conv2d(x, w, strides=1, padding="VALID")
            loss = tf.reduce_sum(out * out) / 2
        gx, gw = tape.gradient(loss, [x, w])
    return ctx.conv_result(
        out.numpy().transpose(0, 3, 1, 2).tolist(),
        gx.numpy().transpose(0, 3, 1, 2).tolist(),
        gw.numpy().transpose(3, 2, 0, 1).tolist(),
        "tf.nn.conv2d forward + backward",
    )


def _matmul_bias(ctx: Any, tf: Any, name: str) -> JSON:
    np = importlib.import_module("numpy")
    rng = np.random.default_rng(1)
    n = ctx.GEMM_SIZE
    a, b, bias = rng.standard_normal((n, n)), rng.standard_normal((n, n)), rng.standard_normal(n)
    reference = a @ b + bias
    dtype = "float32" if name == "/CPU:0" else "float16"
    with tf.device(name):
        x, y, z = (tf.constant(v.astype(dtype)) for v in (a, b, bias))
        got = tf.nn.bias_add(tf.matmul(x, y), z).numpy().astype("float64")
    error = float(np.linalg.norm(got - reference) / np.linalg.norm(reference))
    return ctx.gemm_result(error, dtype, "matmul + bias_add, %s" % dtype)


def _jit_kernel(ctx: Any, tf: Any, name: str) -> JSON:
    try:
        compiled = tf.function(_poly, jit_compile=True)
    except TypeError:  # before TensorFlow 2.5 it was experimental_compile
        raise ctx.Skip("no tf.function(jit_compile=...) in this release") from None
    with tf.device(name):
        got = compiled(tf.constant(ctx.AUTOGRAD_X))
    return ctx.graph_result(got.numpy().tolist(), "tf.function(jit_compile=True) (XLA)")
