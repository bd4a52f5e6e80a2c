"""MindSpore probe (child side): device targets and why each is or is not usable, smoke tests."""

# Runs inside the probe child (see harness.py): standard library + mindspore (and its numpy)
# only, Python 3.6 syntax. MindSpore 2.x loads one device plugin per target (CPU, GPU, Ascend)
# and logs why a plugin failed to load; 1.x wheels were built for one target each.
import importlib
from typing import Any, Dict, List

JSON = Dict[str, Any]
TARGETS = ("GPU", "Ascend")  # CPU is always there; these are asked about


def poly(x: Any) -> Any:
    # A named function, not a lambda: MindSpore's graph compiler parses the source.
    return x * x + 3 * x


def probe(ctx: Any) -> None:
    ms = ctx.import_module("mindspore")
    if ms is None:
        return
    targets = []  # type: List[str]
    ctx.facts_phase(lambda: targets.extend(_gather(ctx, ms)))
    for target in ["CPU", *targets]:
        device = target.lower()
        for test, run in (("autograd", _autograd), ("graph", _graph), ("train", _train)):
            ctx.smoke(test, device, lambda r=run, t=target: _on(ms, t, lambda: r(ctx, ms)))


def _on(ms: Any, target: str, run: Any) -> JSON:
    if hasattr(ms, "set_device"):  # 2.5+: set_context(device_target=) is deprecated
        ms.set_device(target)
    else:
        ms.set_context(device_target=target)
    return dict(run())


def _gather(ctx: Any, ms: Any) -> List[str]:
    """Runtime facts; returns the accelerator targets that work here ("GPU", "Ascend")."""
    ctx.fact("version", lambda: str(ms.__version__))
    ctx.fact("device_target", lambda: str(ms.get_context("device_target")))
    ctx.device(id="cpu", kind="cpu")
    usable = []
    available = {}  # type: Dict[str, Any]
    for target in TARGETS:
        ok = ctx.attempt("available_" + target, lambda t=target: _available(ms, t))
        available[target] = ok
        if not ok:
            continue
        count = ctx.attempt("count_" + target, lambda t=target: _count(ms, t)) or 0
        for i in range(count):
            ctx.device(id="%s:%d" % (target.lower(), i), kind=target.lower())
        if count:
            usable.append(target)
    ctx.fact("available", lambda: available)
    return usable


def _available(ms: Any, target: str) -> Any:
    """Whether MindSpore can use ``target``; None where this release cannot say.

    2.4+ answers through mindspore.device_context.<target>.is_available() (it logs the plugin's
    load error, which the harness records); 2.2/2.3 through mindspore.hal.is_available.
    """
    name = {"GPU": "gpu", "Ascend": "ascend"}[target]
    try:
        module = importlib.import_module("mindspore.device_context." + name)
    except ImportError:
        module = None
    if module is not None and hasattr(module, "is_available"):
        return bool(module.is_available())
    hal = getattr(ms, "hal", None)
    if hal is not None and hasattr(hal, "is_available"):
        return bool(hal.is_available(target))
    return None


def _count(ms: Any, target: str) -> int:
    name = {"GPU": "gpu", "Ascend": "ascend"}[target]
    try:
        module = importlib.import_module("mindspore.device_context." + name)
    except ImportError:
        module = None
    if module is not None and hasattr(module, "device_count"):
        return int(module.device_count())
    return int(ms.hal.device_count(target))


def _tensor(ms: Any, values: List[float]) -> Any:
    np = importlib.import_module("numpy")
    return ms.Tensor(np.array(values, dtype="float32"))


def _autograd(ctx: Any, ms: Any) -> JSON:
    if not hasattr(ms, "grad"):  # mindspore.grad is 2.0+; older releases had ops.GradOperation
        raise ctx.Skip("mindspore.grad is not in MindSpore %s" % ms.__version__)

    def total(x: Any) -> Any:
        return poly(x).sum()

    got = ms.grad(total)(_tensor(ms, ctx.AUTOGRAD_X))
    return ctx.autograd_result(got.asnumpy().tolist())


def _graph(ctx: Any, ms: Any) -> JSON:
    if not hasattr(ms, "jit"):
        raise ctx.Skip("mindspore.jit is not in MindSpore %s" % ms.__version__)
    got = ms.jit(poly)(_tensor(ms, ctx.AUTOGRAD_X))
    return ctx.graph_result(got.asnumpy().tolist(), "mindspore.jit")


def _train(ctx: Any, ms: Any) -> JSON:
    if not (hasattr(ms, "grad") and hasattr(ms, "jit")):
        raise ctx.Skip("mindspore.grad and mindspore.jit are 2.0+")
    xs, ys = ctx.train_data()
    xs, ys = _tensor(ms, xs), _tensor(ms, ys)
    lr = ctx.TRAIN_LR

    def loss(w: Any, b: Any, x: Any, y: Any) -> Any:
        return ((w * x + b - y) ** 2).mean()

    grad = ms.grad(loss, grad_position=(0, 1))

    def step(w: Any, b: Any, x: Any, y: Any) -> Any:
        gw, gb = grad(w, b, x, y)
        return w - lr * gw, b - lr * gb

    # One compiled step, run TRAIN_STEPS times: op-by-op (PyNative) dispatch of 40 steps costs
    # seconds, and the compiled path is the one training uses.
    compiled = ms.jit(step)
    w, b = _tensor(ms, [0.0]), _tensor(ms, [0.0])
    for _ in range(ctx.TRAIN_STEPS):
        w, b = compiled(w, b, xs, ys)
    return ctx.train_result(
        float(w.asnumpy()[0]), float(b.asnumpy()[0]), "mindspore.grad + jit SGD step"
    )
