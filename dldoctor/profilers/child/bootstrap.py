"""The profiled interpreter's entry point: set up as ``python SCRIPT ARGS`` would, then run it.

dldoctor starts ``python -c <BOOT> SCRIPT ARGS...`` (or ``-m MODULE``) with the channel's write
end passed as an inherited fd named in ``DLDOCTOR_PROFILE_CHILD``; that variable is removed
before the script runs, so the script sees the environment of a plain run. ``sys.argv``,
``sys.path[0]`` and ``__main__`` are set as the interpreter sets them for a script or ``-m``.
"""

from __future__ import annotations

import atexit
import importlib
import io
import json
import os
import runpy
import sys
import warnings
from time import perf_counter
from types import FrameType, ModuleType, TracebackType

from dldoctor.profilers import marker
from dldoctor.profilers.child import importhook
from dldoctor.profilers.child.recorder import Recorder, WindowReached

TYPE_CHECKING = False  # not typing's: the profiled child never imports typing (start-up)
if TYPE_CHECKING:
    from typing import Any, Callable

ENV = "DLDOCTOR_PROFILE_CHILD"

# module imported by the script -> (patch module, function): applied only when it is imported.
PATCHES = {
    "torch.utils.data.dataloader": ("torch_patch", "install"),
    "tensorflow.python.data.ops.iterator_ops": ("tf_patch", "install"),
    "keras.src.models.model": ("keras_patch", "install_model"),
    "keras.src.backend.tensorflow.trainer": ("keras_patch", "install_tf_trainer"),
    "paddle.io.reader": ("paddle_patch", "install_loader"),
    "paddle.io.dataloader.dataloader_iter": ("paddle_patch", "install_iterators"),
    "torch.distributed.distributed_c10d": ("torch_patch", "install_distributed"),
    "torch.utils.data._utils.fetch": ("torch_patch", "install_fetchers"),
    "torch.nn.modules.module": ("torch_steps", "install_module"),
    "torch._tensor": ("torch_steps", "install_tensor"),
    "torch.optim.optimizer": ("torch_steps", "install_optimizer"),
    "paddle.nn.layer.layers": ("paddle_steps", "install_layer"),
    "paddle.base": ("paddle_steps", "install_tensor"),  # after it patches the eager Tensor
    "paddle.optimizer": ("paddle_steps", "install_optimizer"),
    "tensorflow.python.eager.polymorphic_function.polymorphic_function": (
        "tf_steps",
        "install_function",
    ),
    "tensorflow.python.eager.backprop": ("tf_steps", "install_tape"),
    "keras.src.layers.layer": ("tf_steps", "install_layer"),
    "keras.src.optimizers.base_optimizer": ("tf_steps", "install_optimizer"),
    "keras.src.backend.tensorflow.optimizer": ("tf_health", "install_optimizer"),
}

# Leading traceback frames that are dldoctor's or runpy's, never the script's.
_OURS = frozenset({"<string>", "<frozen runpy>", __file__, runpy.__file__ or ""})


def main() -> None:
    config: dict[str, Any] = json.loads(os.environ.pop(ENV, "{}"))
    fd = int(config.get("fd", -1))
    if fd >= 0:
        os.set_inheritable(fd, False)  # forked children share it; exec'd programs don't get it
    duration_s = config.get("duration_s")
    deadline = None if duration_s is None else float(config["t0"]) + float(duration_s)
    rec = Recorder(fd, config.get("steps"), deadline)
    atexit.register(rec.finish)  # batches fetched by the script's own exit handlers
    rec.event("H", hello(sys.argv[1:]))
    instrument(rec)
    sys.excepthook = _trimming(sys.excepthook)
    try:
        _run(sys.argv[1], sys.argv[2:], bool(config.get("module")))
    except WindowReached:
        raise
    except SystemExit as exc:
        if _never_started(bool(config.get("module"))):  # python's one line, e.g. no such module
            rec.event("X", {"kind": "not_started", "message": str(exc.code)[:500]})
        else:
            rec.event("X", {"kind": "exit", "code": _exit_code(exc.code)})
        raise
    except BaseException as exc:
        rec.event("X", {"kind": "exception", "type": type(exc).__name__, "message": str(exc)})
        raise
    rec.event("X", {"kind": "return"})


def hello(argv: list[str]) -> dict[str, Any]:
    """The ``H`` event: which interpreter, and which rank of a job where a launcher said so."""
    data: dict[str, Any] = {"python": sys.version.split()[0], "t": perf_counter()}
    data["argv"] = [a[:200] for a in argv[:16]]
    data["ppid"] = os.getppid()
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):  # torchrun, accelerate, deepspeed
        value = os.environ.get(key, "")
        if value.isdigit():
            data[key.lower()] = int(value)
    return data


def instrument(rec: Recorder) -> None:
    """Route ``dldoctor.step()`` to ``rec`` and patch each framework when it is imported."""
    warnings.showwarning = _reattributing(warnings.showwarning)
    marker._hook = rec.mark
    importhook.install({name: _guarded(name, *where, rec) for name, where in PATCHES.items()})


def _run(target: str, args: list[str], module: bool) -> None:
    safe_path = getattr(sys.flags, "safe_path", False)  # python -P / PYTHONSAFEPATH
    if module:
        sys.argv = [target, *args]  # runpy puts the module's file in argv[0]
        if not safe_path:
            sys.path.insert(0, os.getcwd())
        as_main = getattr(runpy, "_run_module_as_main", None)
        if as_main is None:  # not in any CPython 3.8-3.13; kept for another implementation
            runpy.run_module(target, run_name="__main__", alter_sys=True)
            return
        # What `python -m` itself calls: the module runs in the real __main__, and a module
        # that cannot be found exits 1 with python's own line ("python: No module named x").
        namespace = sys.modules["__main__"].__dict__
        for name in [n for n in namespace if not n.startswith("__")]:
            del namespace[name]  # the -c bootstrap's names: a plain run has none
        as_main(target, alter_argv=True)
    else:
        sys.argv = [target, *args]
        if not safe_path:
            sys.path.insert(0, os.path.dirname(os.path.realpath(target)))
        path = os.path.abspath(target)
        if path.endswith(".py") and os.path.isfile(path):
            _run_source(path)
        else:  # a directory or zip file with a __main__.py, a .pyc: runpy knows them all
            runpy.run_path(path, run_name="__main__")


def _run_source(path: str) -> None:
    """What ``python SCRIPT.py`` does: the script's code run in the real ``__main__``.
    (``runpy.run_path`` first imports pkgutil, and with it typing: ~15 ms before the script's
    first line that a plain run does not spend.)"""
    from importlib.machinery import SourceFileLoader

    # As python and runpy open a script (an audit hook sees it); bytes: compile() reads the
    # script's own coding cookie.
    with io.open_code(path) as f:
        source = f.read()
    # dont_inherit: this module's `from __future__ import annotations` is not the script's.
    code = compile(source, path, "exec", dont_inherit=True)
    namespace = sys.modules["__main__"].__dict__
    for name in [n for n in namespace if not n.startswith("__")]:
        del namespace[name]  # the -c bootstrap's names: a plain run has none
    namespace.update(
        __name__="__main__",
        __doc__=None,
        __package__=None,
        __spec__=None,
        __loader__=SourceFileLoader("__main__", path),
        __file__=path,
        __cached__=None,
    )
    exec(code, namespace)


def _guarded(name: str, module_name: str, function: str, rec: Recorder) -> importhook.Patch:
    def patch(module: ModuleType) -> None:
        try:
            install = getattr(importlib.import_module(f"{__package__}.{module_name}"), function)
            patched = install(module, rec)
        except Exception as exc:  # a framework release we don't know: run unpatched, say why
            rec.event("F", {"module": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
            return
        rec.event("F", {"module": name, "patched": patched})

    return patch


_CHILD_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _reattributing(show: Callable[..., Any]) -> Callable[..., Any]:
    """A warning whose stack level lands in one of our wrappers (``Module.__call__``,
    ``Tensor.backward``...) is shown at the frame the wrapper was called from, as it would be
    without dldoctor: the script's line, not a dldoctor file."""

    def showwarning(
        message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
    ) -> Any:
        if filename.startswith(_CHILD_DIR):
            frame: FrameType | None = sys._getframe(1)
            while frame is not None and not (
                frame.f_code.co_filename == filename and frame.f_lineno == lineno
            ):
                frame = frame.f_back
            while frame is not None and frame.f_code.co_filename.startswith(_CHILD_DIR):
                frame = frame.f_back
            if frame is not None:
                filename, lineno, line = frame.f_code.co_filename, frame.f_lineno, None
        return show(message, category, filename, lineno, file, line)

    return showwarning


def _never_started(module: bool) -> bool:
    """Whether runpy exited before the module's code ran (it sets __spec__ just before)."""
    return module and getattr(sys.modules.get("__main__"), "__spec__", None) is None


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _trimming(hook: Callable[..., Any]) -> Callable[..., Any]:
    """The script's tracebacks as ``python SCRIPT`` prints them: without dldoctor's frames."""

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> Any:
        while tb is not None and _is_ours(tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next
        # None when every frame is ours: a SyntaxError in the script (its location is in the
        # exception, not a frame) prints as python prints it, without our frames.
        value = value.with_traceback(tb)
        return hook(kind, value, tb)

    return excepthook


def _is_ours(filename: str) -> bool:
    return filename in _OURS
