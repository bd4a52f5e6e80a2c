"""TensorFlow: where a step's time goes in a custom loop, at the framework's own seams.

Eager code (a ``tf.GradientTape`` loop without ``tf.function``): Keras' ``Layer.__call__``
(forward), ``GradientTape.gradient`` (backward) and the optimizer's ``apply_gradients``
(optimizer step) each send a ``P`` event. A ``tf.function`` call (a compiled train step, and
Keras fit's) is timed as one ``compiled`` phase: forward, backward and the update run inside
it as one graph, which Python cannot split; the report says so rather than guessing.
"""

from __future__ import annotations

import functools
from threading import get_ident
from types import ModuleType
from typing import Any

from dldoctor.profilers.child import tf_health
from dldoctor.profilers.child.recorder import Recorder
from dldoctor.profilers.child.torch_steps import BACKWARD, FORWARD, OPTIMIZER, _checked, _timed

COMPILED = "g"


def install_function(module: ModuleType, rec: Recorder) -> list[str]:
    """Each outermost call timed; one whose graph holds the gradient sample (``tf_health``)
    has the sample asked for before its call and read after, outside the timed phase."""
    cls = module.Function
    timed = _timed(rec, COMPILED, cls.__call__)
    health = tf_health.sampler(rec)

    @functools.wraps(timed)
    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        if rec.activity is not None or get_ident() != rec.main_ident:
            return timed(self, *args, **kwargs)
        health.before_call(self)
        try:
            return timed(self, *args, **kwargs)
        finally:
            health.after_call(self)

    cls.__call__ = __call__
    return ["tf.function calls (compiled)"]


def install_tape(module: ModuleType, rec: Recorder) -> list[str]:
    """Timed as backward; an eager loss (the tape's target) is checked as torch's is at
    ``backward``: read at every call on the CPU, every 32nd on a GPU. A traced target (inside
    a ``tf.function``: Keras ``fit``) has no value to read; its NaN shows in the gradients."""
    cls = module.GradientTape
    timed = _timed(rec, BACKWARD, cls.gradient)
    check = _checked(rec, _nothing, _on_cpu, _scalar)

    @functools.wraps(timed)
    def gradient(self: Any, target: Any, *args: Any, **kwargs: Any) -> Any:
        if hasattr(target, "numpy") and hasattr(target, "device"):  # an EagerTensor
            check(target)
        return timed(self, target, *args, **kwargs)

    cls.gradient = gradient
    return ["GradientTape.gradient (backward)", "loss checks (eager)"]


def _nothing(target: Any) -> None:
    return None


def _on_cpu(tensor: Any) -> bool:
    return "CPU" in str(tensor.device).upper()


def _scalar(tensor: Any) -> float | None:
    """A one-element loss as a float (``numpy()``: a copy to the host, a sync on a GPU)."""
    return float(tensor.numpy()) if tensor.shape.num_elements() == 1 else None


def install_layer(module: ModuleType, rec: Recorder) -> list[str]:
    cls = module.Layer
    cls.__call__ = _timed(rec, FORWARD, cls.__call__)
    return ["keras Layer.__call__ (forward)"]


def install_optimizer(module: ModuleType, rec: Recorder) -> list[str]:
    cls = module.BaseOptimizer
    cls.apply_gradients = _timed(rec, OPTIMIZER, cls.apply_gradients)
    return ["keras optimizer apply_gradients"]
