"""TensorFlow/Keras: gradient norms sampled at the optimizer's update, as torch's (``A`` event).

The seam is Keras' ``_backend_update_step`` (TensorFlow backend): it gets the gradients after
the loss scale is undone, clipping and gradient accumulation applied, only on steps that
update: what torch's step pre-hook sees. Three ways it runs:

- eagerly (a ``GradientTape`` loop without ``tf.function``, ``run_eagerly=True``): the 1st and
  every ``GRADIENTS_EVERY``th update reads the norm (one read, one GPU sync);
- traced into a ``tf.function`` (Keras ``fit``'s step, a compiled custom step): the graph gets
  a ``tf.cond`` on a flag in a CPU variable, which dldoctor sets before the 1st and every
  ``GRADIENTS_EVERY``th call of that function and reads after it. The predicate lives on the
  host, so a step that is not sampled computes and waits for nothing;
- under XLA (``jit_compile``, Keras' default on a GPU): a conditional would copy its predicate
  to the host at every step, so the norm is computed at every step (fused by XLA: one more
  read of the gradients) into a device variable read after every ``GRADIENTS_EVERY``th call.

Several replicas (a ``tf.distribute`` strategy) are not sampled: each would see its own share.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import math
from threading import get_ident
from time import perf_counter
from types import ModuleType
from typing import Any

from dldoctor.profilers.child.recorder import Recorder
from dldoctor.profilers.child.torch_steps import GRADIENTS_EVERY

REQUESTED, TAKEN = 1.0, 2.0  # the flag in slot[0]: dldoctor asks, the graph answers


class Sampler:
    """One per process: the first optimizer updated is the one sampled (a GAN's second has
    its own scale); stops for good on anything it cannot read (health unknown, never a crash)."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.owner: int | None = None
        self.stopped = False
        self.updates = 0  # eager updates of the owner
        self.calling: Any = None  # the outermost tf.function being called now
        # function id -> [calls so far, its slot, gradient elements, any float16, under XLA]
        self.watched: dict[int, list[Any]] = {}

    def update(self, optimizer: Any, grads: Any, variables: Any) -> None:
        """At the update step: sample now (eager), or put the sample into the graph."""
        if self.stopped or get_ident() != self.rec.main_ident:
            return
        if self.owner is None:
            strategy = getattr(optimizer, "_distribution_strategy", None)
            if strategy is not None and strategy.num_replicas_in_sync > 1:
                self.stopped = True
                return
            self.owner = id(optimizer)
        if self.owner != id(optimizer):
            return
        try:
            self._update(grads, variables)
        except Exception:  # sparse or exotic gradients, another release: stop reading them
            self.stopped = True

    def _update(self, grads: Any, variables: Any) -> None:
        tf = importlib.import_module("tensorflow")  # imported already: inside its optimizer

        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        if not pairs:
            return
        elements = sum(int(v.shape.num_elements() or 0) for _, v in pairs)
        half = any(g.dtype == tf.float16 for g, _ in pairs)
        if tf.executing_eagerly():
            self.updates += 1
            if self.updates % GRADIENTS_EVERY == 1:
                self._send(self.updates, float(_l2(tf, [g for g, _ in pairs])), elements, half)
            return
        function = self.calling
        if function is None:  # traced outside a call we watch (get_concrete_function)
            return
        xla = _in_xla()
        with tf.init_scope():  # the slot outlives this trace; made eagerly, once per function
            watched = self.watched.get(id(function))
            if watched is None:
                # Created asking (slot[0] = REQUESTED): the function's first call is sampled.
                with tf.device("/cpu:0") if not xla else contextlib.nullcontext():
                    slot = tf.Variable([REQUESTED, 0.0], trainable=False, name="dldoctor_grad")
                watched = self.watched[id(function)] = [0, slot, elements, half, xla]
        slot = watched[1]
        norm = [g for g, _ in pairs]

        def take() -> Any:
            slot.assign(tf.stack([tf.constant(TAKEN), _l2(tf, norm)]))
            return tf.constant(True)

        if xla:
            take()
        else:
            tf.cond(tf.equal(slot[0], REQUESTED), take, lambda: tf.constant(False))

    def before_call(self, function: Any) -> None:
        watched = self.watched.get(id(function))
        if watched is not None and watched[0] % GRADIENTS_EVERY == 0 and not watched[4]:
            watched[1].assign([REQUESTED, 0.0])  # a host variable: no sync
        self.calling = function

    def after_call(self, function: Any) -> None:
        self.calling = None
        watched = self.watched.get(id(function))
        if watched is None or self.stopped:
            return
        watched[0] += 1
        calls, slot, elements, half, _ = watched
        if calls % GRADIENTS_EVERY != 1:
            return
        try:
            flag, l2 = (float(x) for x in slot.numpy())  # under XLA: one GPU sync
        except Exception:  # the variable went with its device: health unknown
            self.stopped = True
            return
        if flag == TAKEN:
            self._send(calls, l2, elements, half)

    def _send(self, call: int, l2: float, elements: int, half: bool) -> None:
        rms = l2 / math.sqrt(max(elements, 1))
        t = perf_counter()
        self.rec.queue(("A", t, call, f"{l2:.6g}", f"{rms:.6g}", int(half)), t)


def _l2(tf: Any, grads: list[Any]) -> Any:
    """The gradients' total L2 norm, accumulated in float32 (a float16 sum of squares
    overflows); an IndexedSlices gradient (an embedding's) by its values."""
    squares = [
        tf.reduce_sum(tf.square(tf.cast(getattr(g, "values", g), tf.float32))) for g in grads
    ]
    return tf.sqrt(tf.add_n(squares))


def _in_xla() -> bool:
    """Whether the graph being traced is compiled by XLA (``jit_compile``), as TensorFlow's own
    control flow asks it."""
    ops = importlib.import_module("tensorflow.python.framework.ops")
    flow = importlib.import_module("tensorflow.python.ops.control_flow_util")
    return bool(flow.GraphOrParentsInXlaContext(ops.get_default_graph()))


_SAMPLERS: dict[int, Sampler] = {}


def sampler(rec: Recorder) -> Sampler:
    """The recorder's sampler, shared by the optimizer's patch and ``tf.function``'s."""
    found = _SAMPLERS.get(id(rec))
    if found is None:
        found = _SAMPLERS[id(rec)] = Sampler(rec)
    return found


def install_optimizer(module: ModuleType, rec: Recorder) -> list[str]:
    cls = module.TFOptimizer
    update_step = cls._backend_update_step
    health = sampler(rec)

    @functools.wraps(update_step)
    def _backend_update_step(self: Any, grads: Any, variables: Any, *args: Any, **kw: Any) -> Any:
        health.update(self, grads, variables)
        return update_step(self, grads, variables, *args, **kw)

    cls._backend_update_step = _backend_update_step
    return ["keras optimizer update step (gradient norms)"]
