"""PyTorch: where a step's time goes, at the framework's own seams (main thread only).

``nn.Module.__call__`` (the outermost call: forward, loss modules included), ``Tensor.backward``,
every optimizer's ``step`` (torch's global step pre/post hooks, where gradient norms are also
sampled) and ``Tensor.to``/``.cuda`` outside them (the host-to-device copy) each send a ``P``
event; what is left of a step is the loop body's own Python work. Nested calls inside a phase are not timed again: one attribute
read each, so a model of a thousand submodules pays microseconds per step.
"""

from __future__ import annotations

import functools
import math
from threading import get_ident
from time import perf_counter
from types import ModuleType
from typing import Any, Callable

from dldoctor.profilers.child.recorder import Recorder

FORWARD, BACKWARD, OPTIMIZER, COPY = "f", "b", "o", "c"


def _timed(rec: Recorder, kind: str, call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def timed(*args: Any, **kwargs: Any) -> Any:
        if rec.activity is not None or get_ident() != rec.main_ident:
            return call(*args, **kwargs)
        rec.activity = kind
        t0 = perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            rec.activity = None
            rec.phase(kind, t0, perf_counter())

    return timed


def install_module(module: ModuleType, rec: Recorder) -> list[str]:
    cls = module.Module
    cls.__call__ = _timed(rec, FORWARD, cls.__call__)
    return ["Module.__call__ (forward)"]


def install_tensor(module: ModuleType, rec: Recorder) -> list[str]:
    cls = module.Tensor
    cls.backward = _checked(rec, _timed(rec, BACKWARD, cls.backward))
    cls.to = _timed(rec, COPY, cls.to)
    cls.cuda = _timed(rec, COPY, cls.cuda)
    return ["Tensor.backward", "Tensor.to (copy)"]


CHECK_EVERY = 32  # a loss on a GPU is read (a synchronisation) at every 32nd backward only


def _checked(
    rec: Recorder,
    backward: Callable[..., Any],
    on_cpu: Callable[[Any], bool] | None = None,
    scalar: Callable[[Any], float | None] | None = None,
) -> Callable[..., Any]:
    """Training health: the first backward whose loss is NaN or infinite (``N`` event). A CPU
    loss is read at every call (a float read); a GPU one at every ``CHECK_EVERY``th, since
    reading it waits for the GPU. Checks stop once a non-finite loss was seen."""
    calls = [0]

    @functools.wraps(backward)
    def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
        if calls[0] >= 0 and get_ident() == rec.main_ident:
            calls[0] += 1
            try:
                cheap = on_cpu(self) if on_cpu is not None else self.device.type == "cpu"
                if cheap or calls[0] % CHECK_EVERY == 1:
                    value = scalar(self) if scalar is not None else _scalar(self)
                    if value is not None and not math.isfinite(value):
                        every = 1 if cheap else CHECK_EVERY  # it became so since the last read
                        data = {"value": str(value), "backward_calls": calls[0]}
                        rec.event("N", {**data, "read_every": every})
                        calls[0] = -1
            except Exception:  # a tensor subclass that can't be read: health unknown
                calls[0] = -1
        return backward(self, *args, **kwargs)

    return checked


GRADIENTS_EVERY = 16  # gradient norms read at the 1st optimizer step and every 16th after


def _gradients(
    rec: Recorder, read: Callable[[Any], tuple[float, float, bool] | None] | None = None
) -> Callable[[Any], None]:
    """Training health: every ``GRADIENTS_EVERY``th step of the first optimizer stepped, at the
    seam after backward and before the update (its step pre-hook: under a GradScaler, after
    the unscale), the gradients' total L2 norm and root mean square (``A`` event).

    Costs one read of every gradient (one fused norm per device and dtype, float32 accumulate)
    and, on a GPU, one synchronisation, once in ``GRADIENTS_EVERY`` steps. Stops for good on a
    parameter it cannot read (health unknown, never a crash)."""
    calls = [0]
    owner: list[int] = []
    stats_of = read or _grad_stats

    def sample(optimizer: Any) -> None:
        if calls[0] < 0 or get_ident() != rec.main_ident:
            return
        if not owner:
            owner.append(id(optimizer))
        if owner[0] != id(optimizer):  # a second optimizer (a GAN's): its own scale
            return
        calls[0] += 1
        if calls[0] % GRADIENTS_EVERY != 1:
            return
        try:
            stats = stats_of(optimizer)
        except Exception:  # sparse or exotic tensors: stop reading them
            calls[0] = -1
            return
        if stats is not None:
            l2, rms, half = stats
            t = perf_counter()
            rec.queue(("A", t, calls[0], f"{l2:.6g}", f"{rms:.6g}", int(half)), t)

    return sample


def _grad_stats(optimizer: Any) -> tuple[float, float, bool] | None:
    import torch  # imported already: this runs inside its optimizer step

    groups: dict[Any, list[Any]] = {}
    for group in optimizer.param_groups:
        for param in group["params"]:
            grad = param.grad
            if grad is not None:
                groups.setdefault((grad.device, grad.dtype), []).append(grad)
    if not groups:
        return None
    squares = 0.0
    count = 0
    half = False
    with torch.no_grad():
        for (_, dtype), grads in groups.items():
            half = half or dtype == torch.float16
            l2 = _norms(torch, grads, 2)
            squares += float(torch.stack(l2).square().sum())
            count += sum(g.numel() for g in grads)
    return math.sqrt(squares), math.sqrt(squares / max(count, 1)), half


def _norms(torch: Any, grads: list[Any], order: int) -> Any:
    """Each gradient's norm, accumulated in float32 (a float16 sum of squares overflows)."""
    try:
        return torch._foreach_norm(grads, order, dtype=torch.float32)
    except (AttributeError, TypeError):  # releases before _foreach_norm took a dtype
        return [torch.linalg.vector_norm(g, order, dtype=torch.float32) for g in grads]


def _scalar(tensor: Any) -> float | None:
    """A one-element loss as a float (detached: no requires_grad warning), else None."""
    return float(tensor.detach()) if tensor.numel() == 1 else None


def install_optimizer(module: ModuleType, rec: Recorder) -> list[str]:
    started: list[float] = []
    gradients = _gradients(rec)

    def pre(optimizer: Any, args: Any, kwargs: Any) -> None:
        if rec.activity == OPTIMIZER:  # the last step raised before its post hook ran
            rec.activity = None
            started.clear()
        if rec.activity is None and get_ident() == rec.main_ident:
            gradients(optimizer)  # before the step's clock starts: not optimizer time
            rec.activity = OPTIMIZER
            started.append(perf_counter())

    def post(optimizer: Any, args: Any, kwargs: Any) -> None:
        if rec.activity == OPTIMIZER and started and get_ident() == rec.main_ident:
            rec.activity = None
            rec.phase(OPTIMIZER, started.pop(), perf_counter())

    module.register_optimizer_step_pre_hook(pre)
    module.register_optimizer_step_post_hook(post)
    return ["Optimizer.step hooks", "gradient norms"]
