"""NVML behind a wall: asked in a spawned child with a hard timeout, killed with all it started.

A wedged driver blocks ``nvmlInit`` in the kernel, and a broken libnvidia-ml can segfault: either
would take the dldoctor process with it. So NVML is asked in a fresh interpreter (``python -I
-S``, its own session, through ``run_command``) that answers the NVML half of the ``nvidia``
section as JSON, saying before each NVML call which one it makes. A hang becomes status "hung"
and a crash "crashed", each naming the call it happened in; the rest of the report goes on.

The child is started only when it can learn something: pynvml importable here and
libnvidia-ml.so.1 where the loader looks. Otherwise the answer is known without it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import types
from typing import TYPE_CHECKING, Any

from dldoctor.facts import nvml, reaper, winproc
from dldoctor.facts.run import CommandResult, run_command

if TYPE_CHECKING:
    from dldoctor.facts.host import Host
    from dldoctor.facts.ldcache import LdCache

JSON = dict[str, Any]
TIMEOUT_BOUNDS_S = (2.0, 10.0)  # the host's NVML timeout (--timeout) is kept within these
LIBRARY = "libnvidia-ml.so.1"
# Where glibc's loader looks when the cache has no entry (its trusted directories), and WSL's.
_TRUSTED_DIRS = (
    "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
    "/usr/lib/wsl/lib",
)  # fmt: skip
_BOOT = (
    "import json, sys; args = json.loads(sys.argv[1]); sys.path[:0] = args['path']; "
    "from dldoctor.facts.nvml_facts import child_main; child_main(args)"
)
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def timeout_s(host: Host) -> float:
    low, high = TIMEOUT_BOUNDS_S
    return min(high, max(low, host.nvml_timeout_s))


def query(host: Host, ldcache: LdCache) -> JSON:
    """The NVML fields of the nvidia section (``nvml_facts``), asked behind the wall."""
    recipe = recipe_for(host.nvml)
    windows = winproc.windows_api() is not None  # native Windows: nvml.dll, driver models
    if recipe["import"] == "pynvml":
        if importlib.util.find_spec("pynvml") is None:
            return unavailable(nvml.STATUS_MODULE_MISSING, "No module named 'pynvml'")
        if not _library_findable(host, ldcache, windows):  # pynvml's own words for it, and code
            return unavailable(nvml.STATUS_LIBRARY_NOT_FOUND, "NVML Shared Library Not Found", 12)
    limit = timeout_s(host)
    path = [_PACKAGE_ROOT, *recipe.get("path", []), *(p for p in sys.path if os.path.isabs(p))]
    args = {"recipe": recipe, "path": path, "windows": windows}
    argv = [sys.executable, "-I", "-S", "-c", _BOOT, json.dumps(args)]
    return _answer(run_command(argv, limit, env=host.env, cancel=host.cancel), limit)


def recipe_for(module: Any) -> JSON:
    """How the child gets the NVML module: pynvml, a module by name, or a stand-in's recipe.

    A stand-in (the tests' fake pynvml) gives ``dldoctor_recipe()``: ``{"import": module,
    "call": factory, "args": {...}, "path": [...]}``, so the child builds the same fake.
    """
    if module is None:
        return {"import": "pynvml"}
    recipe = getattr(module, "dldoctor_recipe", None)
    if callable(recipe):
        return dict(recipe())
    if isinstance(module, types.ModuleType):
        return {"import": module.__name__}
    raise TypeError(f"an NVML stand-in must be a module or give dldoctor_recipe(): {module!r}")


def unavailable(status: str, error: str, code: int | None = None, **more: Any) -> JSON:
    """The NVML fields when NVML gave nothing: every value None, the reason said once."""
    return {
        "nvml": {
            "status": status,
            "error": error,
            "error_code": code,
            "nvml_version": None,
            **more,
        },
        "driver_version": None,
        "cuda_driver_version": None,
        "gpu_count": None,
        "gpus": [],
        "errors": {},
    }


def _library_findable(host: Host, ldcache: LdCache, windows: bool = False) -> bool:
    """Whether dlopen("libnvidia-ml.so.1") can find something: LD_LIBRARY_PATH, cache, defaults.

    An unreadable cache counts as found: then only the child can tell. On Windows, pynvml loads
    %WINDIR%\\System32\\nvml.dll (DCH drivers), else %ProgramFiles%\\NVIDIA Corporation\\NVSMI.
    """
    if windows:
        from dldoctor.facts.windows import env_value, local

        windir = env_value(host, "WINDIR") or env_value(host, "SystemRoot") or "C:\\Windows"
        programs = env_value(host, "ProgramFiles") or "C:\\Program Files"
        places = (
            windir + "\\System32\\nvml.dll",
            programs + "\\NVIDIA Corporation\\NVSMI\\nvml.dll",
        )
        return any(local(host, place).is_file() for place in places)
    dirs = [d for d in (host.env.get("LD_LIBRARY_PATH") or "").split(":") if d.startswith("/")]
    if any(host.path(d).joinpath(LIBRARY).exists() for d in dirs):
        return True
    if ldcache.error or ldcache.find(LIBRARY):
        return True
    return any(host.path(d).joinpath(LIBRARY).exists() for d in _TRUSTED_DIRS)


def _answer(result: CommandResult, limit_s: float) -> JSON:
    messages = []
    for line in result.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict):
            messages.append(message)
    calls = [m["calling"] for m in messages if isinstance(m.get("calling"), str)]
    during = calls[-1][:100] if calls else None
    where = f" in {during}" if during else ""
    if result.timed_out:
        return unavailable(
            nvml.STATUS_HUNG,
            f"NVML did not answer within {limit_s:g} s{where}; its process was killed",
            during=during,
            timeout_s=limit_s,
        )
    # A signal on POSIX; on Windows the exception its exit code names (0xC0000005).
    signal = reaper.signal_name(result.returncode) or winproc.exit_status(result.returncode)
    if signal is not None:
        error = f"NVML crashed ({signal}){where}"
        return unavailable(nvml.STATUS_CRASHED, error, during=during, signal=signal)
    answers = [m["facts"] for m in messages if isinstance(m.get("facts"), dict)]
    if result.ok and answers and _well_formed(answers[-1]):
        return answers[-1]
    said = [str(m["error"]) for m in messages if "error" in m]
    why = said[-1][:400] if said else result.describe_failure()
    return unavailable(nvml.STATUS_ERROR, f"the process asking NVML failed: {why}")


def _well_formed(facts: JSON) -> bool:
    head = facts.get("nvml")
    known = isinstance(head, dict) and head.get("status") in nvml.STATUSES
    return known and isinstance(facts.get("gpus"), list)
