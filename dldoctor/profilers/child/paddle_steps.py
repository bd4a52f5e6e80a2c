"""PaddlePaddle (dygraph): where a step's time goes, at the same seams as PyTorch's.

``nn.Layer.__call__`` (forward, loss layers included), ``Tensor.backward`` (set on the eager
Tensor type by ``paddle.base``'s import) and the optimizers' ``step`` (the base class's and
each built-in optimizer's own) each send a ``P`` event; the rest of a step is the loop body.
The copy to the device is not split out: paddle's DataLoader hands batches already on the
default device, so that copy is inside the data wait.
"""

from __future__ import annotations

from types import ModuleType

from dldoctor.profilers.child.recorder import Recorder
from dldoctor.profilers.child.torch_steps import BACKWARD, FORWARD, OPTIMIZER, _timed


def install_layer(module: ModuleType, rec: Recorder) -> list[str]:
    cls = module.Layer
    cls.__call__ = _timed(rec, FORWARD, cls.__call__)
    return ["Layer.__call__ (forward)"]


def install_tensor(module: ModuleType, rec: Recorder) -> list[str]:
    tensor = module.core.eager.Tensor
    tensor.backward = _timed(rec, BACKWARD, tensor.backward)
    return ["Tensor.backward"]


def install_optimizer(module: ModuleType, rec: Recorder) -> list[str]:
    """Every optimizer class in ``paddle.optimizer`` that defines its own ``step`` (Adam and
    AdamW do, SGD inherits the base class's); nested steps are timed once (the outermost)."""
    patched = []
    for name, cls in list(vars(module).items()):
        if isinstance(cls, type) and issubclass(cls, module.Optimizer) and "step" in vars(cls):
            cls.step = _timed(rec, OPTIMIZER, cls.step)  # type: ignore[attr-defined]
            patched.append(name)
    return [f"{', '.join(sorted(patched))}.step"]
