"""PaddlePaddle: time ``paddle.io.DataLoader`` iterators; record settings, site and workers.

Patched after ``paddle.io.reader`` (``DataLoader.__init__``) and
``paddle.io.dataloader.dataloader_iter`` (the single- and multi-process iterators' ``__next__``,
``_init_workers``) are imported.
"""

from __future__ import annotations

import functools
import sys
from types import ModuleType
from typing import Any

from dldoctor.profilers.child import callsite
from dldoctor.profilers.child.recorder import Recorder
from dldoctor.profilers.child.torch_patch import grad_probe


def install_loader(module: ModuleType, rec: Recorder) -> list[str]:
    loader_cls = module.DataLoader
    init = loader_cls.__init__

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if "_dldoctor_id" not in self.__dict__:
            self.__dict__["_dldoctor_id"] = _announce(rec, self)

    loader_cls.__init__ = __init__
    return ["DataLoader"]


def install_iterators(module: ModuleType, rec: Recorder) -> list[str]:
    base = module._DataLoaderIterBase
    base_init = base.__init__

    @functools.wraps(base_init)
    def base__init__(self: Any, loader: Any, *args: Any, **kwargs: Any) -> None:
        base_init(self, loader, *args, **kwargs)
        loader_id = loader.__dict__.get("_dldoctor_id")
        if loader_id is None:
            loader_id = loader.__dict__["_dldoctor_id"] = _announce(rec, loader)
        self.__dict__["_dldoctor_id"] = loader_id

    base.__init__ = base__init__
    for cls in (module._DataLoaderIterSingleProcess, module._DataLoaderIterMultiProcess):
        cls.__next__ = _timed_next(cls.__next__, rec)
    multi = module._DataLoaderIterMultiProcess
    init_workers = multi._init_workers

    @functools.wraps(init_workers)
    def _init_workers(self: Any) -> None:
        init_workers(self)
        pids = [w.pid for w in getattr(self, "_workers", []) if w.pid is not None]
        rec.workers(self.__dict__.get("_dldoctor_id", 0), pids)

    multi._init_workers = _init_workers
    return ["DataLoader iterators"]


def _timed_next(fetch: Any, rec: Recorder) -> Any:
    grad_enabled = grad_probe("paddle")

    @functools.wraps(fetch)
    def __next__(self: Any) -> Any:
        return rec.timed(self.__dict__.get("_dldoctor_id", 0), fetch, self, grad_enabled())

    return __next__


def _announce(rec: Recorder, loader: Any) -> int:
    paddle = sys.modules.get("paddle")
    config = {
        "batch_size": getattr(loader, "batch_size", None),
        "num_workers": getattr(loader, "num_workers", None),
        "use_shared_memory": getattr(loader, "use_shared_memory", None),
        "use_buffer_reader": getattr(loader, "use_buffer_reader", None),
        "prefetch_factor": getattr(loader, "prefetch_factor", None),
        "persistent_workers": getattr(loader, "_persistent_workers", None),
    }
    dataset = getattr(loader, "dataset", None)
    data = {
        "framework": "paddle",
        "framework_version": getattr(paddle, "__version__", None),
        "kind": "DataLoader",
        "config": config,
        "dataset": type(dataset).__name__ if dataset is not None else None,
        "site": callsite.find(owner=loader),
    }
    return rec.new_loader(id(loader), data)
