"""Keras: step times from a callback injected into ``fit``, and the data wait inside ``fit``.

``Model.fit`` gets one more callback that marks each training batch's start (a step boundary)
and each epoch's end. With the TensorFlow backend, ``fit`` normally pulls each batch inside its
compiled train function, where no Python code can time it. So ``TFEpochIterator`` is made to
hand Keras a plain Python iterator instead: Keras then takes its own eager branch (``for data in
iterator: one_step_on_data(data)``, the path it uses for non-tf.data iterators), fetching each
batch eagerly, where it is timed, and running the same compiled step on it.

With ``steps_per_execution`` N > 1 that branch still runs one compiled step per batch
(``zip(range(N), iterator)``), so each batch is a step, delimited by its fetch (the callback,
called once per N batches, marks nothing). A Keras release without that branch gets an explicit
"cannot be separated" result instead of a 0 % wait. Batches fetched inside ``evaluate`` (and
fit's validation) are evaluation, never training steps.
"""

from __future__ import annotations

import functools
import inspect
import sys
from threading import get_ident
from types import ModuleType
from typing import Any

from dldoctor.profilers.child import tf_patch
from dldoctor.profilers.child.recorder import Recorder


def install_model(module: ModuleType, rec: Recorder) -> list[str]:
    model_cls = module.Model
    fit = model_cls.fit
    signature = inspect.signature(fit)
    made: list[type] = []  # the callback class, built at the first fit (keras fully imported)

    @functools.wraps(fit)
    def patched_fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:  # let Keras report the wrong call itself
            return fit(self, *args, **kwargs)
        callbacks = bound.arguments.get("callbacks")
        if not made:
            made.append(_callback_class(rec))
        ours = made[0]()
        if callbacks is None:
            bound.arguments["callbacks"] = [ours]
        elif isinstance(callbacks, (list, tuple)):
            bound.arguments["callbacks"] = [*callbacks, ours]
        elif hasattr(callbacks, "callbacks"):  # a CallbackList the caller built
            callbacks.callbacks.append(ours)
            ours.set_model(self)
        return fit(*bound.args, **bound.kwargs)

    evaluate = model_cls.evaluate

    @functools.wraps(evaluate)
    def patched_evaluate(self: Any, *args: Any, **kwargs: Any) -> Any:
        _STATE["evaluating"] += 1
        try:
            return evaluate(self, *args, **kwargs)
        finally:
            _STATE["evaluating"] -= 1

    model_cls.fit = patched_fit
    model_cls.evaluate = patched_evaluate
    return ["Model.fit step callback", "Model.evaluate"]


# Per process: whether fit's batches are its steps (N > 1 per execution), and evaluate depth.
_STATE = {"by_batch": 0, "evaluating": 0}


def _callback_class(rec: Recorder) -> type:
    base = sys.modules["keras.src.callbacks.callback"].Callback

    class DldoctorSteps(base):  # type: ignore[misc, valid-type]
        """Marks step boundaries for ``dldoctor profile``; never syncs or reads the logs."""

        async_safe = True  # keeps Keras' asynchronous batch-end dispatch enabled

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            if not _STATE["by_batch"]:
                rec.mark("k")

        def on_test_begin(self, logs: Any = None) -> None:
            self._pause()  # validation inside fit: not the last training step's time

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self._pause()

        def on_train_end(self, logs: Any = None) -> None:
            self._pause()

        def _pause(self) -> None:
            if _STATE["by_batch"]:
                rec.end_batch_step()
            else:
                rec.end_marks()

    return DldoctorSteps


def install_tf_trainer(module: ModuleType, rec: Recorder) -> list[str]:
    epoch_iterator = module.TFEpochIterator
    get_iterator = epoch_iterator._get_iterator
    out_of_range = sys.modules["tensorflow.python.framework.errors_impl"].OutOfRangeError

    per_batch = _per_batch_branch(module)

    @functools.wraps(get_iterator)
    def _get_iterator(self: Any) -> Any:
        dataset = get_iterator(self)
        spe = getattr(self, "steps_per_execution", 1)
        training = not _STATE["evaluating"]
        if training:
            _STATE["by_batch"] = int(spe != 1)
        loader_id = self.__dict__.get("_dldoctor_id")
        if spe != 1 and not per_batch:  # the compiled multi-step loop: not separable here
            if loader_id is None and training:
                loader_id = tf_patch.announce(rec, dataset, "keras.fit", _config(spe, False))
                self.__dict__["_dldoctor_id"] = loader_id
            _STATE["by_batch"] = 0
            return dataset
        if loader_id is None:
            kind = "keras.fit" if training else "keras.evaluate"
            loader_id = tf_patch.announce(rec, dataset, kind, _config(spe, True))
            self.__dict__["_dldoctor_id"] = loader_id
        return _EagerIterable(dataset, rec, loader_id, out_of_range, training)

    epoch_iterator._get_iterator = _get_iterator
    return ["Keras fit data wait (tensorflow backend)"]


def _config(steps_per_execution: int, separable: bool) -> dict[str, Any]:
    return {"steps_per_execution": steps_per_execution, "separable": separable}


def _per_batch_branch(module: ModuleType) -> bool:
    """Whether this Keras runs a plain iterator one compiled step per batch, N per call."""
    try:
        source = inspect.getsource(module.TensorFlowTrainer._make_function)
    except (AttributeError, OSError, TypeError):
        return False
    return "zip(range(self.steps_per_execution),iterator)" in "".join(source.split())


class _EagerIterable:
    def __init__(
        self, dataset: Any, rec: Recorder, loader_id: int, out_of_range: type, training: bool
    ) -> None:
        self.dataset, self.rec, self.loader_id = dataset, rec, loader_id
        self.out_of_range, self.training = out_of_range, training

    def __iter__(self) -> _EagerIterator:
        ident, busy = get_ident(), self.rec.busy
        busy.add(ident)  # the tf.data iterator made here is ours, not another loader
        try:
            return _EagerIterator(iter(self.dataset), self)
        finally:
            busy.discard(ident)


class _EagerIterator:
    """Not a ``tf.data.Iterator``, so Keras fetches from it eagerly, one batch per step."""

    def __init__(self, inner: Any, owner: _EagerIterable) -> None:
        self.inner, self.owner = inner, owner

    def __iter__(self) -> _EagerIterator:
        return self

    def __next__(self) -> Any:
        try:
            owner = self.owner
            return owner.rec.timed(owner.loader_id, next, self.inner, owner.training)
        except StopIteration:
            # Keras' eager branch expects tf.data's end-of-sequence error, as in graph mode.
            raise self.owner.out_of_range(None, None, "End of sequence") from None
