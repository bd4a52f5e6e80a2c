"""PaddlePaddle (dygraph): where a step's time goes, at the same seams as PyTorch's.

``nn.Layer.__call__`` (forward, loss layers included), ``Tensor.backward`` (set on the eager
Tensor type by ``paddle.base``'s import) and the optimizers' ``step`` (the base class's and
each built-in optimizer's own) each send a ``P`` event; the rest of a step is the loop body.
Training health as torch's: the loss read at each backward, gradient norms before every 16th
optimizer step.
The copy to the device is not split out: paddle's DataLoader hands batches already on the
default device, so that copy is inside the data wait.
"""

from __future__ import annotations

import functools
import math
from types import ModuleType
from typing import Any

from dldoctor.profilers.child.recorder import Recorder
from dldoctor.profilers.child.torch_steps import (
    BACKWARD,
    FORWARD,
    OPTIMIZER,
    _checked,
    _gradients,
    _timed,
)


def install_layer(module: ModuleType, rec: Recorder) -> list[str]:
    cls = module.Layer
    cls.__call__ = _timed(rec, FORWARD, cls.__call__)
    return ["Layer.__call__ (forward)"]


def install_tensor(module: ModuleType, rec: Recorder) -> list[str]:
    tensor = module.core.eager.Tensor
    tensor.backward = _checked(rec, _timed(rec, BACKWARD, tensor.backward), _on_cpu, _scalar)
    return ["Tensor.backward", "loss checks"]


def _on_cpu(tensor: Any) -> bool:
    return bool(tensor.place.is_cpu_place())


def _scalar(tensor: Any) -> float | None:
    """A one-element loss as a float: ``item()`` and ``shape`` are plain attribute reads in
    paddle's eager mode (~1 µs), ``numel()`` and ``float()`` dispatch an op each (~15 µs)."""
    return float(tensor.item()) if math.prod(tensor.shape) == 1 else None


def _grad_stats(optimizer: Any) -> tuple[float, float, bool] | None:
    """The gradients' total L2 norm and root mean square, in float32 (as torch's)."""
    import paddle  # imported already: this runs inside its optimizer step

    params = optimizer._parameter_list or []
    if params and isinstance(params[0], dict):  # parameter groups
        params = [p for group in params for p in group["params"]]
    grads = [p.grad for p in params if getattr(p, "grad", None) is not None]
    if not grads:
        return None
    total = None
    count = 0
    half = False
    with paddle.no_grad():
        for grad in grads:
            half = half or grad.dtype == paddle.float16
            square = paddle.sum(paddle.square(grad.astype("float32")))
            total = square if total is None else total + square
            count += int(grad.size)
    squares = float(total) if total is not None else 0.0  # one read: one GPU sync
    return math.sqrt(squares), math.sqrt(squares / max(count, 1)), half


def install_optimizer(module: ModuleType, rec: Recorder) -> list[str]:
    """Every optimizer class in ``paddle.optimizer`` that defines its own ``step`` (Adam and
    AdamW do, SGD inherits the base class's); nested steps are timed once (the outermost)."""
    patched = []
    gradients = _gradients(rec, _grad_stats)
    for name, cls in list(vars(module).items()):
        if isinstance(cls, type) and issubclass(cls, module.Optimizer) and "step" in vars(cls):
            cls.step = _sampled(rec, gradients, _timed(rec, OPTIMIZER, cls.step))  # type: ignore[attr-defined]
            patched.append(name)
    return [f"{', '.join(sorted(patched))}.step", "gradient norms"]


def _sampled(rec: Recorder, gradients: Any, step: Any) -> Any:
    """Gradients read before the outermost step (AdamW.step calling the base class's: once)."""

    @functools.wraps(step)
    def sampled(self: Any, *args: Any, **kwargs: Any) -> Any:
        if rec.activity is None:
            gradients(self)
        return step(self, *args, **kwargs)

    return sampled
