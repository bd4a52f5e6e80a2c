"""ONNX Runtime probe (child side): execution providers, whether each really loads, smoke tests."""

# Runs inside the probe child (see harness.py): standard library + onnxruntime (and its numpy)
# only, Python 3.6 syntax. The test models are encoded here by hand (ONNX is protobuf), so the
# `onnx` package is not needed.
import importlib
from typing import Any, Dict, List, Sequence

JSON = Dict[str, Any]
FLOAT = 1  # onnx.TensorProto.FLOAT
# Providers that need their own native libraries (CUDA, TensorRT, ROCm…): worth loading for real.
ACCELERATED = (
    "CUDAExecutionProvider",
    "TensorrtExecutionProvider",
    "ROCMExecutionProvider",
    "MIGraphXExecutionProvider",
    "OpenVINOExecutionProvider",
    "DmlExecutionProvider",
    "CoreMLExecutionProvider",
)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, data: bytes) -> bytes:
    return _varint((field << 3) | 2) + _varint(len(data)) + data


def _str(field: int, text: str) -> bytes:
    return _bytes(field, text.encode("utf-8"))


def _value(name: str, dims: Sequence[int]) -> bytes:
    shape = b"".join(_bytes(1, _int(1, d)) for d in dims)  # TensorShapeProto.dim.dim_value
    tensor = _int(1, FLOAT) + _bytes(2, shape)  # TypeProto.Tensor: elem_type, shape
    return _str(1, name) + _bytes(2, _bytes(1, tensor))  # ValueInfoProto: name, type


def _node(op: str, inputs: Sequence[str], output: str) -> bytes:
    return b"".join(_str(1, i) for i in inputs) + _str(2, output) + _str(4, op)


def model(nodes: List[bytes], inputs: List[bytes], output: bytes) -> bytes:
    """A ModelProto (IR 8, opset 13) of one graph."""
    graph = b"".join(_bytes(1, n) for n in nodes) + _str(2, "dldoctor")
    graph += b"".join(_bytes(11, i) for i in inputs) + _bytes(12, output)
    opset = _str(1, "") + _int(2, 13)
    return _int(1, 8) + _bytes(8, opset) + _bytes(7, graph)


def poly_model() -> bytes:
    """y = x² + 3x for x of shape [2], as Mul and Adds."""
    nodes = [
        _node("Mul", ["x", "x"], "square"),
        _node("Add", ["x", "x"], "twice"),
        _node("Add", ["twice", "x"], "thrice"),
        _node("Add", ["square", "thrice"], "y"),
    ]
    return model(nodes, [_value("x", [2])], _value("y", [2]))


def matmul_model(n: int) -> bytes:
    return model(
        [_node("MatMul", ["a", "b"], "c")],
        [_value("a", [n, n]), _value("b", [n, n])],
        _value("c", [n, n]),
    )


def conv_model() -> bytes:
    """Y = Conv(X, W): X [1, 2, 4, 4], W [3, 2, 3, 3], stride 1, no padding (cuDNN on CUDA)."""
    return model(
        [_node("Conv", ["x", "w"], "y")],
        [_value("x", [1, 2, 4, 4]), _value("w", [3, 2, 3, 3])],
        _value("y", [1, 3, 2, 2]),
    )


def probe(ctx: Any) -> None:
    ort = ctx.import_module("onnxruntime")
    if ort is None:
        return
    loaded = []  # type: List[str]
    ctx.facts_phase(lambda: loaded.extend(_gather(ctx, ort)))
    for provider in ["CPUExecutionProvider", *loaded]:
        device = "cpu" if provider == "CPUExecutionProvider" else provider
        ctx.smoke("graph", device, lambda p=provider: _graph(ctx, ort, p))
        ctx.smoke("conv", device, lambda p=provider: _conv(ctx, ort, p))
        if provider != "CPUExecutionProvider":
            ctx.smoke("matmul", device, lambda p=provider: _matmul(ctx, ort, p))


def _gather(ctx: Any, ort: Any) -> List[str]:
    """Runtime facts; returns the accelerated providers that really loaded."""
    ctx.fact("version", lambda: str(ort.__version__))
    ctx.fact("device", ort.get_device)
    info = ctx.attempt(
        "build_and_package_info",
        lambda: importlib.import_module("onnxruntime.capi.build_and_package_info"),
    )
    for library in ("cuda", "cudnn"):
        built = getattr(info, library + "_version", None)
        if built:  # onnxruntime-gpu only; ORT reports no runtime version
            ctx.version(
                "cudart" if library == "cuda" else library,
                built=str(built),
                how="onnxruntime.capi.build_and_package_info",
            )
    available = ctx.fact("available_providers", lambda: list(ort.get_available_providers()))
    ctx.device(id="cpu", kind="cpu")
    loaded = []
    results = {}
    for provider in [p for p in available or [] if p in ACCELERATED]:
        # ORT falls back to the CPU silently when a provider's libraries fail to load; it only
        # logs why. So: open a session asking for it, and see what the session really got.
        with ctx.phase("load " + provider) as phase:
            outcome = ctx.attempt("load_" + provider, lambda p=provider: _session(ort, p))
        got = list(outcome.get_providers()) if outcome is not None else []
        results[provider] = {"loaded": provider in got, "log": phase.lines[-8:]}
        if provider in got:
            loaded.append(provider)
            ctx.device(id=provider, kind="provider")
    ctx.fact("providers_loaded", lambda: results)
    return loaded


def _session(ort: Any, provider: str) -> Any:
    return ort.InferenceSession(poly_model(), providers=[provider, "CPUExecutionProvider"])


def _graph(ctx: Any, ort: Any, provider: str) -> JSON:
    np = importlib.import_module("numpy")
    session = ort.InferenceSession(poly_model(), providers=[provider])
    (got,) = session.run(None, {"x": np.array(ctx.AUTOGRAD_X, dtype="float32")})
    return ctx.graph_result([float(v) for v in got], "InferenceSession on " + provider)


def _matmul(ctx: Any, ort: Any, provider: str) -> JSON:
    np = importlib.import_module("numpy")
    n = ctx.MATMUL_SIZE
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    session = ort.InferenceSession(matmul_model(n), providers=[provider])
    (got,) = session.run(None, {"a": a.astype("float32"), "b": b.astype("float32")})
    reference = a @ b
    error = np.linalg.norm(got.astype("float64") - reference) / np.linalg.norm(reference)
    return ctx.matmul_result({"float32": float(error)})


def _conv(ctx: Any, ort: Any, provider: str) -> JSON:
    """Forward only: ONNX Runtime runs inference."""
    np = importlib.import_module("numpy")
    session = ort.InferenceSession(conv_model(), providers=[provider])
    x, w = np.array(ctx.CONV_X, dtype="float32"), np.array(ctx.CONV_W, dtype="float32")
    (got,) = session.run(None, {"x": x, "w": w})
    return ctx.conv_result(got.tolist(), None, None, "Conv on %s (forward only)" % provider)
