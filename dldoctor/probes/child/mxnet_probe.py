"""MXNet probe (child side): its build features, GPUs, smoke tests in its own idiom."""

# Runs inside the probe child (see harness.py): standard library + mxnet (and its numpy) only,
# Python 3.6 syntax. MXNet is retired (1.9.1 was its last release): old releases run here too,
# so every API is looked for before it is called.
from typing import Any, Dict, List

JSON = Dict[str, Any]
# The features of mxnet.runtime.Features() worth reporting (1.5+; older releases lack it).
FEATURES = (
    "CUDA",
    "CUDNN",
    "NCCL",
    "CUDA_RTC",
    "TENSORRT",
    "MKLDNN",
    "ONEDNN",
    "OPENMP",
    "BLAS_MKL",
)


def probe(ctx: Any) -> None:
    mx = ctx.import_module("mxnet")
    if mx is None:
        return
    gpus = []  # type: List[int]
    ctx.facts_phase(lambda: gpus.extend(_gather(ctx, mx)))
    devices = [("cpu", mx.cpu())] + [("cuda:%d" % i, mx.gpu(i)) for i in gpus[:1]]
    for device, where in devices:
        for test, run in (("autograd", _autograd), ("graph", _graph), ("train", _train)):
            ctx.smoke(test, device, lambda r=run, w=where: r(ctx, mx, w))


def _gather(ctx: Any, mx: Any) -> List[int]:
    """Runtime facts; returns the GPU ordinals MXNet lists."""
    ctx.fact("version", lambda: str(mx.__version__))
    features = ctx.fact("features", lambda: _features(mx))
    ctx.device(id="cpu", kind="cpu")
    count = ctx.fact("num_gpus", lambda: int(mx.context.num_gpus()))
    for i in range(count or 0):
        ctx.device(id="cuda:%d" % i, kind="cuda")
    if not count and isinstance(features, dict) and features.get("CUDA"):
        # A CUDA build that lists no GPU: MXNet's own words of why, from a tensor there.
        ctx.unavailable("cuda", lambda: mx.nd.zeros((1,), ctx=mx.gpu(0)).asnumpy())
    return list(range(count or 0))


def _features(mx: Any) -> JSON:
    runtime = getattr(mx, "runtime", None)
    if runtime is None or not hasattr(runtime, "Features"):
        raise RuntimeError("mxnet.runtime.Features is not in MXNet %s (1.5+)" % mx.__version__)
    found = runtime.Features()
    return {name: bool(found.is_enabled(name)) for name in FEATURES if name in found}


def _nd(mx: Any, values: List[float], where: Any) -> Any:
    return mx.nd.array(values, ctx=where, dtype="float32")


def _autograd(ctx: Any, mx: Any, where: Any) -> JSON:
    x = _nd(mx, ctx.AUTOGRAD_X, where)
    x.attach_grad()
    with mx.autograd.record():
        y = x * x + 3 * x
    y.backward()
    return ctx.autograd_result(x.grad.asnumpy().tolist())


def _graph(ctx: Any, mx: Any, where: Any) -> JSON:
    class Poly(mx.gluon.HybridBlock):
        def hybrid_forward(self, F: Any, x: Any) -> Any:  # F: mx.nd or mx.sym
            return x * x + 3 * x

    block = Poly()
    block.hybridize()  # the first call builds and caches a symbolic graph (CachedOp)
    got = block(_nd(mx, ctx.AUTOGRAD_X, where))
    return ctx.graph_result(got.asnumpy().tolist(), "hybridized gluon.HybridBlock")


def _train(ctx: Any, mx: Any, where: Any) -> JSON:
    gluon = mx.gluon
    xs, ys = ctx.train_data()
    x = _nd(mx, xs, where).reshape((-1, 1))
    y = _nd(mx, ys, where).reshape((-1, 1))
    net = gluon.nn.Dense(1, in_units=1)
    net.initialize(mx.init.Zero(), ctx=where)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": ctx.TRAIN_LR})
    for _ in range(ctx.TRAIN_STEPS):
        with mx.autograd.record():
            loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        trainer.step(1)  # the loss is already a mean: no rescaling by a batch size
    w = float(net.weight.data(where).asnumpy().ravel()[0])
    b = float(net.bias.data(where).asnumpy().ravel()[0])
    return ctx.train_result(w, b, "gluon.Trainer SGD step")
