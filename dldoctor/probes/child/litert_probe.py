"""LiteRT / TFLite probe (child side): the interpreter runs a tiny model, numbers checked."""

# Runs inside the probe child (see harness.py): standard library + the LiteRT runtime (and its
# numpy) only, Python 3.6 syntax. The model (y = x² + 3x on a float32[2]) was converted once by
# TensorFlow's TFLiteConverter and ships with dldoctor (models/poly.tflite); the parent sends
# its bytes, so no converter is needed here.
import base64
import importlib
from typing import Any, Dict, Optional

JSON = Dict[str, Any]
# The runtimes, newest first: Google's LiteRT, the older standalone tflite-runtime.
RUNTIMES = (
    ("ai_edge_litert", "ai_edge_litert.interpreter"),
    ("tflite_runtime", "tflite_runtime.interpreter"),
)


def probe(ctx: Any) -> None:
    name = ctx.options.get("module") or "ai_edge_litert"
    package = ctx.import_module(name)
    if package is None:
        return
    module = dict(RUNTIMES).get(name, name + ".interpreter")
    interpreter = ctx.attempt("interpreter_module", lambda: importlib.import_module(module))
    if interpreter is None:
        return
    ctx.facts_phase(lambda: _gather(ctx, package, interpreter))
    model = base64.b64decode(ctx.options.get("model_b64") or "")
    ctx.smoke("graph", "cpu", lambda: _graph(ctx, interpreter, model))


def _gather(ctx: Any, package: Any, interpreter: Any) -> None:
    ctx.fact(
        "version", lambda: str(getattr(package, "__version__", None) or _dist_version(package))
    )
    ctx.fact("interpreter_class", lambda: bool(hasattr(interpreter, "Interpreter")))
    ctx.device(id="cpu", kind="cpu")


def _dist_version(package: Any) -> Optional[str]:
    try:
        metadata = importlib.import_module("importlib.metadata")
    except ImportError:  # Python 3.6/3.7
        return None
    name = "ai-edge-litert" if package.__name__ == "ai_edge_litert" else "tflite-runtime"
    return str(metadata.version(name))


def _graph(ctx: Any, interpreter: Any, model: bytes) -> JSON:
    np = importlib.import_module("numpy")
    runner = interpreter.Interpreter(model_content=model)
    runner.allocate_tensors()
    (given,) = runner.get_input_details()
    (wanted,) = runner.get_output_details()
    runner.set_tensor(given["index"], np.array(ctx.AUTOGRAD_X, dtype="float32"))
    runner.invoke()
    got = runner.get_tensor(wanted["index"])
    return ctx.graph_result([float(v) for v in got], "Interpreter.invoke of a converted x² + 3x")
