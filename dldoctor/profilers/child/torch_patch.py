"""PyTorch: time ``DataLoader`` iterators' ``__next__``; record each loader's settings and workers.

Patched after ``torch.utils.data.dataloader`` is imported: ``DataLoader.__init__`` (settings and
the line that built it), ``_BaseDataLoaderIter.__init__`` (which loader an iterator serves),
``_BaseDataLoaderIter.__next__`` (the wait; with gradients off, an evaluation batch),
``DataLoader.__iter__`` (making the iterator: worker start-up), and
``_MultiProcessingDataLoaderIter.__init__`` (worker pids, once the workers have started).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
from time import perf_counter
from types import ModuleType
from typing import Any

from dldoctor.profilers.child import callsite
from dldoctor.profilers.child.recorder import Recorder


def install(module: ModuleType, rec: Recorder) -> list[str]:
    loader_cls = module.DataLoader
    base = module._BaseDataLoaderIter
    multi = module._MultiProcessingDataLoaderIter

    loader_init = loader_cls.__init__
    trial = _trial_settings()
    signature = inspect.signature(loader_init) if trial else None

    @functools.wraps(loader_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if trial and signature is not None:
            args, kwargs = _with_trial(signature, trial, self, args, kwargs)
        loader_init(self, *args, **kwargs)
        if "_dldoctor_id" not in self.__dict__:
            self.__dict__["_dldoctor_id"] = _announce(rec, self)

    iter_init = base.__init__

    @functools.wraps(iter_init)
    def iter__init__(self: Any, loader: Any, *args: Any, **kwargs: Any) -> None:
        iter_init(self, loader, *args, **kwargs)
        loader_id = getattr(loader, "_dldoctor_id", None)
        if loader_id is None:  # built before the patch, or by a subclass skipping __init__
            loader_id = _announce(rec, loader)
            loader.__dict__["_dldoctor_id"] = loader_id
        self.__dict__["_dldoctor_id"] = loader_id

    fetch = base.__next__
    grad_enabled = grad_probe("torch")

    @functools.wraps(fetch)
    def __next__(self: Any) -> Any:
        return rec.timed(self.__dict__.get("_dldoctor_id", 0), fetch, self, grad_enabled())

    make_iterator = loader_cls.__iter__

    @functools.wraps(make_iterator)
    def __iter__(self: Any) -> Any:
        t0 = perf_counter()
        iterator = make_iterator(self)
        loader_id = self.__dict__.get("_dldoctor_id")
        if loader_id is not None:
            rec.iterator_made(loader_id, t0, grad_enabled())
        return iterator

    multi_init = multi.__init__

    @functools.wraps(multi_init)
    def multi__init__(self: Any, *args: Any, **kwargs: Any) -> None:
        multi_init(self, *args, **kwargs)
        pids = [w.pid for w in getattr(self, "_workers", []) if w.pid is not None]
        rec.workers(self.__dict__.get("_dldoctor_id", 0), pids)

    loader_cls.__init__ = __init__
    loader_cls.__iter__ = __iter__
    base.__init__ = iter__init__
    base.__next__ = __next__
    multi.__init__ = multi__init__
    return ["DataLoader"]


TUNE_ENV = "DLDOCTOR_PROFILE_TRIAL"  # set by profilers/tune.py for one --tune trial


def _trial_settings() -> dict[str, Any] | None:
    """The loader settings a ``--tune`` trial applies, and where: {"site": [file, line],
    "settings": {"num_workers": 4, ...}}; None outside a trial."""
    try:
        trial = json.loads(os.environ.get(TUNE_ENV, ""))
    except ValueError:
        return None
    return trial if isinstance(trial, dict) and isinstance(trial.get("settings"), dict) else None


def _with_trial(
    signature: inspect.Signature, trial: dict[str, Any], loader: Any, args: Any, kwargs: Any
) -> tuple[Any, Any]:
    """The DataLoader's arguments with the trial's settings, for the loader built at the
    trial's site only (the one the baseline found waiting); the user's code is untouched."""
    site = callsite.find(owner=loader)
    if site is None or [site["file"], site["line"]] != list(trial.get("site") or []):
        return args, kwargs
    try:
        bound = signature.bind(loader, *args, **kwargs)
    except TypeError:  # let the DataLoader report the wrong call itself
        return args, kwargs
    bound.arguments.update(trial["settings"])
    if not bound.arguments.get("num_workers"):  # only valid with workers
        for key in ("persistent_workers", "prefetch_factor"):
            bound.arguments.pop(key, None)
    return bound.args[1:], bound.kwargs


def install_fetchers(module: ModuleType, rec: Recorder) -> list[str]:
    """Time each batch where it is made (a worker, or the main process with no workers): the
    dataset's items and ``collate_fn`` apart (``G`` event). This is what a worker's throughput
    is made of; the wait the loop sees may be something else."""
    base_init = module._BaseDatasetFetcher.__init__

    @functools.wraps(base_init)
    def __init__(self: Any, dataset: Any, auto_collation: Any, collate_fn: Any, *rest: Any) -> None:
        base_init(self, dataset, auto_collation, collate_fn, *rest)
        spent = [0.0]
        self.__dict__["_dldoctor_collate_s"] = spent

        @functools.wraps(collate_fn)
        def timed_collate(data: Any) -> Any:
            t0 = perf_counter()
            try:
                return collate_fn(data)
            finally:
                spent[0] += perf_counter() - t0

        self.collate_fn = timed_collate

    module._BaseDatasetFetcher.__init__ = __init__
    for cls in (module._MapDatasetFetcher, module._IterableDatasetFetcher):
        cls.fetch = _timed_fetch(cls.fetch, rec)
    return ["dataset fetchers (batch making, collate)"]


def _timed_fetch(fetch: Any, rec: Recorder) -> Any:
    @functools.wraps(fetch)
    def timed_fetch(self: Any, index: Any) -> Any:
        spent = self.__dict__.get("_dldoctor_collate_s")
        if spent is None:
            return fetch(self, index)
        spent[0] = 0.0
        t0 = perf_counter()
        value = fetch(self, index)  # StopIteration: no batch made, nothing to time
        rec.made_batch(t0, perf_counter(), spent[0])
        return value

    return timed_fetch


def grad_probe(framework: str) -> Any:
    """``torch.is_grad_enabled`` (or paddle's), looked up at the first call (the framework is
    still importing when the patch goes in). Batches fetched with gradients off are
    evaluation (``torch.no_grad()``, ``inference_mode``), not training."""
    found: list[Any] = []

    def grad_enabled() -> bool:
        if not found:
            module = sys.modules.get(framework)
            found.append(getattr(module, "is_grad_enabled", None) or _true)
        return bool(found[0]())

    return grad_enabled


def _true() -> bool:
    return True


def install_distributed(module: ModuleType, rec: Recorder) -> list[str]:
    """``init_process_group``: the rank and world size of this process (``R`` event), for
    launchers that pass them as arguments (``mp.spawn``) rather than in the environment."""
    init = module.init_process_group

    @functools.wraps(init)
    def init_process_group(*args: Any, **kwargs: Any) -> Any:
        value = init(*args, **kwargs)
        try:
            data = {"rank": module.get_rank(), "world_size": module.get_world_size()}
            data["backend"] = str(module.get_backend())
            rec.event("R", data)
        except Exception:  # a release whose getters differ: the rank stays unknown
            pass
        return value

    module.init_process_group = init_process_group  # type: ignore[attr-defined]
    return ["init_process_group rank"]


def _announce(rec: Recorder, loader: Any) -> int:
    site = callsite.find(owner=loader)
    return rec.new_loader(
        id(loader), {"framework": "torch", "kind": "DataLoader", **_describe(loader), "site": site}
    )


def _describe(loader: Any) -> dict[str, Any]:
    torch = sys.modules.get("torch")
    dataset = getattr(loader, "dataset", None)
    config: dict[str, Any] = {
        "batch_size": getattr(loader, "batch_size", None),
        "num_workers": getattr(loader, "num_workers", None),
        "pin_memory": getattr(loader, "pin_memory", None),
        "persistent_workers": getattr(loader, "persistent_workers", None),
        "prefetch_factor": getattr(loader, "prefetch_factor", None),
        "drop_last": getattr(loader, "drop_last", None),
    }
    context = getattr(loader, "multiprocessing_context", None)
    if context is not None:
        config["multiprocessing_context"] = getattr(context, "_name", None) or str(context)
    info: dict[str, Any] = {
        "framework_version": getattr(torch, "__version__", None),
        "config": config,
        "dataset": type(dataset).__name__ if dataset is not None else None,
    }
    try:
        if dataset is not None and hasattr(type(dataset), "__len__"):
            info["dataset_len"] = len(dataset)
    except Exception:  # an IterableDataset's __len__ may raise; the length is a nicety
        pass
    return info
