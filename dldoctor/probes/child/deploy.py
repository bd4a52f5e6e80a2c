"""Deployment smoke tests (child side): torch → ONNX → ONNX Runtime / TensorRT, TensorFlow → TFLite."""

# Runs inside the torch or TensorFlow probe child under --full (sent as a helper with the job,
# see harness.Context.helper): standard library + the frameworks, Python 3.6 syntax. Each chain
# is one smoke test per device; a chain that breaks says at which stage (export, load, provider,
# build, run, compare) with the error its tool raised, and what the tool printed is the phase's
# output, which the failure signatures read.
import importlib
import io
import math
from typing import Any, Dict, List, Tuple

JSON = Dict[str, Any]
TOLERANCE = 1e-4  # max |Δ| between the runtime's float32 output and the framework's own
# Execution providers of ONNX Runtime that need a GPU: each is asked for, then checked used.
GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")
LINEAR_X = [[float((3 * i + j) % 5 - 2) / 2.0 for j in range(4)] for i in range(2)]  # [2][4]
LINEAR_W = [[float((i + 2 * j) % 7 - 3) / 4.0 for j in range(4)] for i in range(3)]  # [3][4]
LINEAR_B = [0.25, -0.5, 0.125]
ONNX_CHAIN = "torch → torch.onnx.export → ONNX Runtime"
TRT_CHAIN = "torch → torch.onnx.export → TensorRT engine"
TFLITE_CHAIN = "TensorFlow → TFLiteConverter → TFLite interpreter"


class Broken(Exception):
    """A chain stopped at ``stage``; ``cause`` is the tool's own exception."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        Exception.__init__(self, "%s: %s" % (type(cause).__name__, cause))
        self.stage, self.cause = stage, cause


def _stage(stage: str, step: Any, *args: Any) -> Any:
    try:
        return step(*args)
    except Exception as exc:
        raise Broken(stage, exc) from exc


def _chain(ctx: Any, chain: str, run: Any) -> JSON:
    """``run()`` as a smoke result: a Broken stage becomes a failure naming the stage."""
    try:
        result = run()
    except Broken as broken:
        error = ctx.error_record(broken.cause)
        return {"ok": False, "stage": broken.stage, "chain": chain, "error": error}
    result["chain"] = chain
    return result


def _compare(got: Dict[str, Any], expected: Dict[str, Any], how: str) -> JSON:
    """Outputs of the runtime against the framework's, max |Δ| per model."""
    errors = {}  # type: Dict[str, float]
    for name, want in expected.items():
        a, b = _flat(got.get(name)), _flat(want)
        if len(a) != len(b) or not a:
            errors[name] = math.inf
        else:
            errors[name] = max(abs(x - y) if math.isfinite(x) else math.inf for x, y in zip(a, b))
    ok = all(math.isfinite(e) and e <= TOLERANCE for e in errors.values())
    result = {
        "ok": ok,
        "expected": {name: "<= %g" % TOLERANCE for name in errors},
        "got": {k: float("%.3g" % v) if math.isfinite(v) else str(v) for k, v in errors.items()},
        "tolerance": TOLERANCE,
        "detail": how,
    }  # type: JSON
    if not ok:  # the runtime and the framework disagree on the same model
        result["stage"] = "compare"
    return result


def _flat(value: Any) -> List[float]:
    if value is None:
        return []
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _flat(item)]
    return [float(value)]


# -- torch → ONNX → ONNX Runtime / TensorRT ---------------------------------------------------


def torch_chains(ctx: Any, torch: Any, accelerators: List[str]) -> None:
    """The export once, then ONNX Runtime on the CPU and each GPU provider, then TensorRT."""
    exported = {}  # type: Dict[str, Any]
    timeout = ctx.options.get("deploy_timeout_s")
    ctx.smoke(
        "onnx-export", "cpu",
        lambda: _chain(ctx, ONNX_CHAIN, lambda: _onnx_cpu(ctx, torch, exported)), timeout,
    )  # fmt: skip
    gpu = [d for d in accelerators if d.startswith("cuda")]
    for provider in GPU_PROVIDERS:
        ctx.smoke(
            "onnx-export", provider,
            lambda p=provider: _chain(ctx, ONNX_CHAIN, lambda: _onnx_on(ctx, exported, p, gpu)),
        )  # fmt: skip
    ctx.smoke(
        "tensorrt-engine", gpu[0] if gpu else "cuda",
        lambda: _chain(ctx, TRT_CHAIN, lambda: _tensorrt(ctx, torch, exported, gpu)), timeout,
    )  # fmt: skip


def _models(ctx: Any, torch: Any) -> Dict[str, Tuple[Any, Any]]:
    """name → (module, input): a Linear+ReLU and a convolution, fixed weights."""
    linear = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    conv = torch.nn.Conv2d(2, 3, 3, bias=False)
    with torch.no_grad():
        linear[0].weight.copy_(torch.tensor(LINEAR_W))
        linear[0].bias.copy_(torch.tensor(LINEAR_B))
        conv.weight.copy_(torch.tensor(ctx.CONV_W))
    return {
        "linear-relu": (linear.eval(), torch.tensor(LINEAR_X)),
        "conv": (conv.eval(), torch.tensor(ctx.CONV_X)),
    }


def exporter(torch: Any) -> str:
    """Which exporter ``torch.onnx.export`` uses by default: "dynamo" (torch.export-based, the
    default from 2.9) or "torchscript" (the legacy one)."""
    inspect = importlib.import_module("inspect")
    try:
        parameter = inspect.signature(torch.onnx.export).parameters.get("dynamo")
    except (TypeError, ValueError):
        parameter = None
    return "dynamo" if parameter is not None and parameter.default is True else "torchscript"


def _export(torch: Any, model: Any, x: Any) -> bytes:
    buffer = io.BytesIO()
    torch.onnx.export(model, (x,), buffer)  # the default exporter, as a user calls it
    return buffer.getvalue()


def _installed(name: str) -> bool:
    """Whether ``name`` is importable at all (a broken one is: its import error is a finding)."""
    util = importlib.import_module("importlib.util")
    try:
        return util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _export_once(ctx: Any, torch: Any, exported: Dict[str, Any]) -> None:
    """The models exported once for every chain; an export that broke is raised again (one
    export, one failure: the chains after it skip rather than fail with it)."""
    if "broken" in exported:
        raise ctx.Skip("not run: the export to ONNX failed (onnx-export on cpu)")
    if "onnx" in exported:
        return
    models = _models(ctx, torch)
    with torch.no_grad():
        exported["expected"] = {n: m(x).numpy() for n, (m, x) in models.items()}
    exported["inputs"] = {n: x.numpy() for n, (_, x) in models.items()}
    try:
        onnx = {n: _stage("export", _export, torch, m, x) for n, (m, x) in models.items()}
    except Broken as broken:
        exported["broken"] = broken
        raise
    exported["onnx"] = onnx


def _onnx_cpu(ctx: Any, torch: Any, exported: Dict[str, Any]) -> JSON:
    # No runtime to deploy to, no deployment path: the export alone is not judged (a machine
    # that never exports needs neither onnx nor onnxscript).
    if not _installed("onnxruntime"):
        raise ctx.Skip("not run: onnxruntime is not installed")
    _export_once(ctx, torch, exported)
    ort = _stage("load", importlib.import_module, "onnxruntime")
    exported["ort"] = ort
    got = _run_ort(ort, exported, ["CPUExecutionProvider"])
    detail = "%s exporter (torch %s), onnxruntime %s on CPUExecutionProvider" % (
        exporter(torch), torch.__version__, getattr(ort, "__version__", "?"))  # fmt: skip
    return _compare(got, exported["expected"], detail)


def _run_ort(ort: Any, exported: Dict[str, Any], providers: List[str]) -> Dict[str, Any]:
    got = {}
    for name, model in exported["onnx"].items():
        session = _stage("load", ort.InferenceSession, model, None, providers)
        used = list(session.get_providers())
        if providers[0] not in used[:1]:  # ORT falls back to the CPU silently; it only logs why
            raise Broken("provider", RuntimeError(
                "%s was asked for but the session runs on %s" % (providers[0], ", ".join(used))))  # fmt: skip
        feed = {session.get_inputs()[0].name: exported["inputs"][name]}
        got[name] = _stage("run", session.run, None, feed)[0]
    return got


def _onnx_on(ctx: Any, exported: Dict[str, Any], provider: str, gpu: List[str]) -> JSON:
    ort = exported.get("ort")
    if ort is None or "onnx" not in exported:
        raise ctx.Skip("not run: the chain did not get past onnxruntime on the CPU")
    if not gpu:  # onnxruntime-gpu lists its providers on any machine: they need a GPU to run
        raise ctx.Skip("not run: no GPU")
    available = list(ort.get_available_providers())
    if provider not in available:
        raise ctx.Skip("not run: onnxruntime %s has no %s (available: %s)"
                       % (ort.__version__, provider, ", ".join(available)))  # fmt: skip
    got = _run_ort(ort, exported, [provider, "CPUExecutionProvider"])
    detail = "onnxruntime %s on %s (session.get_providers() checked)" % (ort.__version__, provider)
    return _compare(got, exported["expected"], detail)


class _Said(object):
    """What TensorRT logged at warning level and above (its errors name the cause)."""

    def __init__(self) -> None:
        self.lines = []  # type: List[str]


def _tensorrt(ctx: Any, torch: Any, exported: Dict[str, Any], gpu: List[str]) -> JSON:
    if not gpu:
        raise ctx.Skip("not run: no GPU")
    if not _installed("tensorrt"):
        raise ctx.Skip("not run: tensorrt is not installed")
    trt = _stage("load", importlib.import_module, "tensorrt")
    version = getattr(trt, "__version__", "?")
    if not hasattr(trt.Builder, "build_serialized_network") or not hasattr(
        trt, "TensorIOMode"
    ):  # the named-tensor API this test drives: TensorRT 8.5+
        raise ctx.Skip("not run: TensorRT %s predates the API this test uses (8.5)" % version)
    _export_once(ctx, torch, exported)
    said = _Said()
    logger = _logger(trt, said)
    got = {}
    for name, model in exported["onnx"].items():
        engine = _engine(trt, logger, said, model)
        got[name] = _stage("run", _infer, torch, trt, engine, exported["inputs"][name], gpu[0])
    detail = "TensorRT %s engine built from the ONNX export, run on %s" % (version, gpu[0])
    return _compare(got, exported["expected"], detail)


def _logger(trt: Any, said: _Said) -> Any:
    class Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, severity: Any, msg: str) -> None:
            if int(severity) <= int(trt.ILogger.Severity.WARNING):  # pybind11 enums: by value
                said.lines.append(str(msg)[:400])
                print("[TRT] %s" % msg)  # into the phase's output, which signatures read

    return Logger()


def _engine(trt: Any, logger: Any, said: _Said, model: bytes) -> Any:
    builder = _stage("build", trt.Builder, logger)
    explicit = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    flags = 0 if explicit is None else 1 << int(explicit)  # TensorRT 10: explicit by default
    network = _stage("build", builder.create_network, flags)
    parser = _stage("build", trt.OnnxParser, network, logger)
    if not parser.parse(model):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise Broken("parse", RuntimeError("; ".join(errors or said.lines[-3:]) or "parse failed"))
    config = _stage("build", builder.create_builder_config)
    serialized = _stage("build", builder.build_serialized_network, network, config)
    if serialized is None:  # the reason is only in the log
        raise Broken("build", RuntimeError("; ".join(said.lines[-3:]) or "no engine built"))
    runtime = _stage("build", trt.Runtime, logger)
    return _stage("build", runtime.deserialize_cuda_engine, serialized)


def _infer(torch: Any, trt: Any, engine: Any, x: Any, device: str) -> Any:
    """One inference, the buffers as torch CUDA tensors (float32, static shapes)."""
    context = engine.create_execution_context()
    given = torch.from_numpy(x).to(device).contiguous()
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
    out = torch.empty(tuple(engine.get_tensor_shape(outputs[0])), device=device)
    for name in names:
        context.set_tensor_address(name, (out if name in outputs else given).data_ptr())
    stream = torch.cuda.current_stream(device)
    if not context.execute_async_v3(stream.cuda_stream):
        raise RuntimeError("execute_async_v3 returned False")
    stream.synchronize()
    return out.cpu().numpy()


# -- TensorFlow → TFLite ----------------------------------------------------------------------


def tflite_chain(ctx: Any, tf: Any) -> None:
    ctx.smoke(
        "tflite-convert", "cpu",
        lambda: _chain(ctx, TFLITE_CHAIN, lambda: _tflite(ctx, tf)),
        ctx.options.get("deploy_timeout_s"),
    )  # fmt: skip


def _tflite(ctx: Any, tf: Any) -> JSON:
    np = importlib.import_module("numpy")

    class Dense(tf.Module):
        def __init__(self) -> None:
            tf.Module.__init__(self)
            self.w = tf.constant(np.array(LINEAR_W, dtype="float32").T)
            self.b = tf.constant(np.array(LINEAR_B, dtype="float32"))

        @tf.function(input_signature=[tf.TensorSpec([2, 4], tf.float32)])
        def __call__(self, x: Any) -> Any:
            return tf.nn.relu(tf.matmul(x, self.w) + self.b)

    model = Dense()
    x = np.array(LINEAR_X, dtype="float32")
    expected = model(x).numpy()
    function = model.__call__.get_concrete_function()
    converter = _stage(
        "convert", tf.lite.TFLiteConverter.from_concrete_functions, [function], model
    )
    flatbuffer = _stage("convert", converter.convert)
    interpreter, which = _stage("load", _interpreter, tf, flatbuffer)
    _stage("load", interpreter.allocate_tensors)
    (given,) = interpreter.get_input_details()
    (wanted,) = interpreter.get_output_details()
    interpreter.set_tensor(given["index"], x)
    _stage("run", interpreter.invoke)
    got = interpreter.get_tensor(wanted["index"])
    detail = "TensorFlow %s TFLiteConverter, %s" % (tf.__version__, which)
    return _compare({"dense-relu": got}, {"dense-relu": expected}, detail)


def _interpreter(tf: Any, flatbuffer: bytes) -> Tuple[Any, str]:
    """LiteRT's interpreter when installed (tf.lite.Interpreter is deprecated from TF 2.18)."""
    try:
        module = importlib.import_module("ai_edge_litert.interpreter")
    except ImportError:
        module = None
    if module is not None:
        return module.Interpreter(model_content=flatbuffer), "ai_edge_litert Interpreter"
    return tf.lite.Interpreter(model_content=flatbuffer), "tf.lite.Interpreter"
