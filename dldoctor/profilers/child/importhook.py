"""Post-import hooks: run a patch right after a named module is first imported by the script.

A finder at the front of ``sys.meta_path`` answers only for the watched names: it asks the
other finders for the real spec and wraps the loader so that the patch runs once the module has
executed. The module's ``__loader__`` and ``__spec__.loader`` are set back to the real loader
afterwards, so nothing downstream (importlib.resources, pickling, reloading) sees the wrapper.
"""

from __future__ import annotations

import sys
import threading
from types import ModuleType

TYPE_CHECKING = False  # not typing's: the profiled child never imports typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.machinery import ModuleSpec
    from typing import Any

    Patch = Callable[[ModuleType], None]


# Duck-typed, not importlib.abc's Loader and MetaPathFinder: importing importlib.abc pulls in
# importlib.resources (tempfile, pathlib, urllib...), ~40 ms of the script's start-up.
class _PatchingLoader:
    def __init__(self, loader: Any, patch: Patch) -> None:
        self.loader = loader
        self.patch = patch

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create = getattr(self.loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self.loader
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self.loader
        self.patch(module)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ...
        return getattr(self.loader, name)


class PostImportFinder:
    """Calls ``patches[name](module)`` after ``name`` is imported for the first time."""

    def __init__(self, patches: dict[str, Patch]) -> None:
        self.patches = dict(patches)
        self._busy = threading.local()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        patch = self.patches.get(fullname)
        if patch is None or getattr(self._busy, "active", False):
            return None
        self._busy.active = True
        try:
            spec = self._real_spec(fullname, path, target)
        finally:
            self._busy.active = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        del self.patches[fullname]  # once
        spec.loader = _PatchingLoader(spec.loader, patch)  # type: ignore[assignment]  # duck-typed
        return spec

    def _real_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None
    ) -> ModuleSpec | None:
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                return spec
        return None


def install(patches: dict[str, Patch]) -> PostImportFinder:
    """Watch ``patches``' module names; a module already imported is patched at once."""
    pending = {}
    for name, patch in patches.items():
        module = sys.modules.get(name)
        if module is not None:
            patch(module)
        else:
            pending[name] = patch
    finder = PostImportFinder(pending)
    sys.meta_path.insert(0, finder)
    return finder
