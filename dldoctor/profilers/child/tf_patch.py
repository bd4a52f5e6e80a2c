"""TensorFlow: time eager ``tf.data`` iterators (``for batch in dataset:``) and name the pipeline.

Patched after ``tensorflow.python.data.ops.iterator_ops`` is imported: ``OwnedIterator.__init__``
(which pipeline, iterated where) and ``OwnedIterator.__next__`` (the wait). Iteration inside a
``tf.function`` runs in the graph and is not seen; Keras ``fit`` is handled in ``keras_patch``.
"""

from __future__ import annotations

import functools
import sys
from threading import get_ident
from types import ModuleType
from typing import Any

from dldoctor.profilers.child import callsite
from dldoctor.profilers.child.recorder import Recorder

_PY_FUNC_OPS = frozenset({"EagerPyFunc", "PyFunc", "PyFuncStateless"})


def install(module: ModuleType, rec: Recorder) -> list[str]:
    owned = module.OwnedIterator
    init = owned.__init__

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        dataset = kwargs.get("dataset", args[0] if args else None)
        if dataset is not None and get_ident() not in rec.busy:
            self.__dict__["_dldoctor_id"] = announce(rec, dataset, "tf.data")

    fetch = owned.__next__

    @functools.wraps(fetch)
    def __next__(self: Any) -> Any:
        return rec.timed(self.__dict__.get("_dldoctor_id", 0), fetch, self)

    owned.__init__ = __init__
    owned.__next__ = __next__
    return ["tf.data iterators"]


def announce(rec: Recorder, dataset: Any, kind: str, extra: dict[str, Any] | None = None) -> int:
    """The loader id of the pipeline ``dataset`` iterated from the caller's line (one per site);
    ``extra`` joins its config (Keras' steps_per_execution)."""
    site = callsite.find()
    steps = pipeline(dataset)
    key = (kind, site and site["file"], site and site["line"], tuple(s["op"] for s in steps))
    tf = sys.modules.get("tensorflow")
    data = {
        "framework": "tensorflow",
        "framework_version": getattr(tf, "__version__", None),
        "kind": kind,
        "site": site,
        "pipeline": steps,
        "config": {**summarize(steps), **(extra or {})},
    }
    return rec.new_loader(key, data)


def pipeline(dataset: Any, limit: int = 32) -> list[dict[str, Any]]:
    """The chain of transformations, source first: ``[{"op": "Range"}, {"op": "Map", ...}]``."""
    steps: list[dict[str, Any]] = []
    while dataset is not None and len(steps) < limit:
        current = dataset
        name = type(dataset).__name__.lstrip("_")
        op = name[:-7] if name.endswith("Dataset") else name
        dataset = getattr(dataset, "_input_dataset", None)
        if op == "Options":  # with_options(): settings, not a transformation
            continue
        step: dict[str, Any] = {"op": op}
        if op in ("Map", "ParallelMap", "MapAndBatch", "FlatMap", "ParallelInterleave"):
            step["py_function"] = _uses_py_function(current)
        steps.append(step)
    steps.reverse()
    return steps


def summarize(steps: list[dict[str, Any]]) -> dict[str, Any]:
    ops = [s["op"] for s in steps]
    return {
        "prefetch": "Prefetch" in ops,
        "cache": "Cache" in ops,
        "sequential_map": "Map" in ops,
        "parallel_map": "ParallelMap" in ops or "MapAndBatch" in ops,
        "py_function": any(s.get("py_function") for s in steps),
    }


def _uses_py_function(dataset: Any) -> bool | None:
    try:
        graph = dataset._map_func.function.graph
        return any(op.type in _PY_FUNC_OPS for op in graph.get_operations())
    except Exception:  # a private attribute moved in another TF release: unknown, not fatal
        return None
