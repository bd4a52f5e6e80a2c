"""Gather every fact about this machine and one interpreter, without importing a framework."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Callable

# Imported where used: the NVML child imports this package and should pay for none of them.
if TYPE_CHECKING:
    from dldoctor.facts.host import Host
    from dldoctor.facts.ldcache import LdCache
    from dldoctor.facts.model import Facts
    from dldoctor.matrix import Matrix

INTERPRETER_TIMEOUT_S = 60.0
INTERPRETER_OUTPUT_BYTES = 64 << 20  # the facts of thousands of distributions, with requirements
SECTIONS = ("system", "nvidia", "cuda", "accelerators")  # gathered beside the interpreter


class GatherError(Exception):
    """Facts could not be gathered at all (e.g. ``--python`` does not name a working Python)."""


class GatherInterrupted(KeyboardInterrupt):
    """Ctrl-C while gathering: ``facts`` holds what was gathered by then, each section not
    gathered a failed section saying so. A Ctrl-C still, to a caller that keeps nothing."""

    def __init__(self, facts: Facts) -> None:
        super().__init__()
        self.facts = facts


INTERRUPTED = "interrupted (Ctrl-C) before it was gathered"


def interpreter_arguments(matrix: Matrix) -> dict[str, Any]:
    """What the interpreter gatherer needs from the matrix, as JSON-able keyword arguments."""
    interesting = [
        {"name": p.name, "framework": p.framework, "role": p.role, "import": p.import_name}
        for p in matrix.packages
    ]
    return {
        "interesting": interesting,
        "nvidia_prefixes": list(matrix.nvidia_prefixes),
        "nvidia_exclude": list(matrix.nvidia_exclude),
    }


def _gather_interpreter(
    matrix: Matrix, python: str | None, host: Host, timeout_s: float
) -> dict[str, Any]:
    from pathlib import Path

    from dldoctor.facts import bootstrap, interpreter
    from dldoctor.facts.run import run_command

    args = interpreter_arguments(matrix)
    if python is None:
        data = interpreter.gather(
            args["interesting"], args["nvidia_prefixes"], args["nvidia_exclude"]
        )
        data["python"]["command"] = "python"
        return data
    source = Path(interpreter.__file__).read_text(encoding="utf-8")
    if not os.access(python, os.X_OK) or os.path.isdir(python):
        raise GatherError(f"--python {python}: not an executable file")
    result = run_command(
        bootstrap.command(python, source, json.dumps(args)),
        timeout_s,
        env=host.env,
        limit_bytes=INTERPRETER_OUTPUT_BYTES,
        cancel=host.cancel,
    )
    old = bootstrap.too_old(result.stdout) if result.ok else None
    if old is not None:  # its packages stay unknown; DD514 says so, and the report is written
        return bootstrap.too_old_facts(old, python)
    if not result.ok:
        raise GatherError(
            f"--python {python} could not run dldoctor's gatherer: {result.describe_failure()}"
        )
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise GatherError(
            f"--python {python} did not answer with facts (is it a Python 3.6+?)"
        ) from None
    if not isinstance(data, dict) or "python" not in data or "packages" not in data:
        raise GatherError(f"--python {python} answered with something other than facts")
    data["python"]["command"] = os.path.abspath(python)  # fixes name it so, whatever the cwd
    return data


def gather(
    matrix: Matrix,
    host: Host | None = None,
    python: str | None = None,
    interpreter_timeout_s: float = INTERPRETER_TIMEOUT_S,
    on_early: Callable[[Facts], None] | None = None,
) -> Facts:
    """Every fact, gathered in parallel threads (the slow parts wait on subprocesses or NVML).

    ``interpreter_timeout_s`` bounds the gatherer run in ``python`` (another interpreter).
    ``on_early`` is called, in this thread, with the facts holding only the system and the
    interpreter's sections as soon as those two are known, while NVML, the PCI bus, CUDA and
    the library map are still being gathered: the probe children need no more to start.
    """
    from dldoctor.facts.accelerators import gather_accelerators
    from dldoctor.facts.cuda import gather_cuda
    from dldoctor.facts.env_vars import gather_env
    from dldoctor.facts.host import Host
    from dldoctor.facts.ldcache import read_ldcache
    from dldoctor.facts.model import Facts
    from dldoctor.facts.nvidia import gather_nvidia
    from dldoctor.facts.requirements import unsatisfied
    from dldoctor.facts.system import gather_system

    host = host or Host()
    jobs: dict[str, _Job] = {}  # the interpreter's too: what finished is kept on a Ctrl-C
    try:
        try:
            jobs["interpreter"] = _Job(
                lambda: _gather_interpreter(matrix, python, host, interpreter_timeout_s)
            )
            ldcache = read_ldcache(host)
            work: dict[str, Callable[[], dict[str, Any]]] = {
                "system": lambda: gather_system(host),
                "nvidia": lambda: gather_nvidia(host, ldcache),
                "cuda": lambda: gather_cuda(host, ldcache),
                "accelerators": lambda: gather_accelerators(host, ldcache),
            }
            jobs.update({name: _Job(job) for name, job in work.items()})
            system = _result(jobs["system"].result, "system")
            interpreter_facts = jobs["interpreter"].result()
            if on_early is not None:
                early = interpreter_facts["python"], interpreter_facts["packages"]
                on_early(Facts(system=system, python=early[0], packages=early[1]))
            sections = {name: _result(jobs[name].result, name) for name in work}
        except BaseException:  # Ctrl-C: stop the commands now, not at their timeouts
            host.cancel.set()
            raise
        finally:  # no gatherer outlives the gathering (its command is stopped, then it ends)
            for job in jobs.values():
                job.wait()
        python_facts = interpreter_facts["python"]
        packages = interpreter_facts["packages"]
        marker_env = python_facts.get("marker_environment") or {}
        known_dists = packages.get("distributions") is not None  # None: unknown, so is the unmet
        packages["unsatisfied"] = unsatisfied(packages, marker_env) if known_dists else None
        sections["cuda"]["pip_libraries"] = packages.get("nvidia_wheels")
        _environment_files(host, matrix, python_facts, packages, sections, ldcache)
    except KeyboardInterrupt:
        host.cancel.set()  # a second Ctrl-C may have cut the waits short: what ended is kept
        raise GatherInterrupted(_gathered(jobs, host)) from None
    return Facts(
        system=sections["system"],
        python=python_facts,
        nvidia=sections["nvidia"],
        accelerators=sections["accelerators"],
        cuda=sections["cuda"],
        packages=packages,
        env=gather_env(host.env),
    )


def _gathered(jobs: dict[str, _Job], host: Host) -> Facts:
    """The facts of a gathering stopped by Ctrl-C: each section that was in, as it was (the
    files read after them may be missing: those facts read as unknown), each other one a
    failed section saying it was interrupted."""
    from dldoctor.facts.env_vars import gather_env
    from dldoctor.facts.model import Facts

    def done(name: str) -> dict[str, Any] | None:
        job = jobs.get(name)
        if job is None or not job.done():
            return None
        if job.raised:
            return None if name == "interpreter" else _result(job.result, name)
        return job.result()

    sections = {name: done(name) or {"errors": {name: INTERRUPTED}} for name in SECTIONS}
    interpreter = done("interpreter") or {}
    return Facts(
        system=sections["system"],
        python=interpreter.get("python") or {"errors": {"python": INTERRUPTED}},
        nvidia=sections["nvidia"],
        accelerators=sections["accelerators"],
        cuda=sections["cuda"],
        packages=interpreter.get("packages") or {"errors": {"packages": INTERRUPTED}},
        env=gather_env(host.env),
    )


def _environment_files(
    host: Host,
    matrix: Matrix,
    python: dict[str, Any],
    packages: dict[str, Any],
    sections: dict[str, dict[str, Any]],
    ldcache: LdCache,
) -> None:
    """Facts read from the judged environment's files once its paths are known: its conda
    records, JAX's build files, the extensions' build facts, the build tools and the library
    map (each costs itself on a bug, never more)."""
    from dldoctor.facts.buildtools import gather_build_tools
    from dldoctor.facts.conda import gather_conda, join_distributions
    from dldoctor.facts.extensions import gather_extensions
    from dldoctor.facts.jaxbuild import jax_build_facts
    from dldoctor.facts.libmap import gather_library_map

    errors = packages.setdefault("errors", [])
    try:
        packages["conda"] = gather_conda(host, python.get("prefix"))
        join_distributions(packages, packages["conda"])
    except Exception as exc:  # a gatherer bug must not cost the report
        errors.append(f"conda: internal error: {type(exc).__name__}: {exc}")
    jax = (packages.get("frameworks") or {}).get("jax")
    if jax is not None:
        try:
            jax.setdefault("build", {})["static"] = jax_build_facts(
                host, list(packages.get("distributions") or [])
            )
        except Exception as exc:
            errors.append(f"jax build files: internal error: {type(exc).__name__}: {exc}")
    if packages.get("distributions") is not None:  # unknown distributions: unknown extensions
        try:
            packages["extensions"] = gather_extensions(
                host,
                list(packages["distributions"]),
                matrix.tables["extensions"]["extension"],
                matrix.tables["extensions"]["label"],
            )
        except Exception as exc:
            errors.append(f"extensions: internal error: {type(exc).__name__}: {exc}")
    _darknet(host, packages, sections, ldcache)
    cuda = sections["cuda"]
    if "errors" in cuda and "toolkits" not in cuda:
        return  # the cuda section itself failed
    try:
        cuda["build_tools"] = gather_build_tools(host, cuda)
    except Exception as exc:
        cuda.setdefault("errors", {})["build_tools"] = (
            f"internal error: {type(exc).__name__}: {exc}"
        )
    if (sections["system"].get("os") or {}).get("name") == "Windows":
        from dldoctor.facts.windows import dll_search

        try:
            cuda["dll_search"] = dll_search(host, python.get("prefix"))
        except Exception as exc:
            cuda.setdefault("errors", {})["dll_search"] = f"internal error: {exc!r}"
            cuda["dll_search"] = None
    else:
        cuda["dll_search"] = False  # no DLLs off Windows (the library map is the ELF side)
    site_dirs = [
        p for p in python.get("sys_path") or [] if isinstance(p, str) and p.startswith("/")
    ]
    try:
        cuda["library_map"] = gather_library_map(
            host,
            matrix.tables["libraries"]["library"],
            matrix.tables["libraries"]["anchor"],
            site_dirs,
            ldcache,
            [tk["path"] for tk in cuda.get("toolkits") or []],
            packages.get("conda"),
            packages.get("nvidia_wheels") or [],
            python.get("executable"),
            sections["system"].get("architecture"),
        )
    except Exception as exc:
        cuda.setdefault("errors", {})["library_map"] = (
            f"internal error: {type(exc).__name__}: {exc}"
        )


def _darknet(
    host: Host, packages: dict[str, Any], sections: dict[str, dict[str, Any]], ldcache: LdCache
) -> None:
    """Darknet's binaries (no Python package: found on the machine); unknown on Windows, where
    its darknet.exe is not looked for."""
    from dldoctor.facts.darknet import gather_darknet

    system = sections["system"]
    packages["darknet"] = None
    if (system.get("os") or {}).get("name") == "Windows":
        return
    try:
        packages["darknet"] = gather_darknet(host, ldcache, system.get("architecture"))
    except Exception as exc:  # a gatherer bug must not cost the report
        packages.setdefault("errors", []).append(
            f"darknet: internal error: {type(exc).__name__}: {exc}"
        )


class _Job:
    """One gatherer in a thread of its own (concurrent.futures and its queue, ~4 ms of a
    static check's start, for five threads that each run one function)."""

    def __init__(self, work: Callable[[], Any]) -> None:
        import threading

        self._work = work
        self._value: Any = None
        self._error: BaseException | None = None
        # Not Thread.join/is_alive: on CPython 3.11 and 3.12 a join cut short by Ctrl-C marks
        # the thread stopped while it still runs (bpo-45274's handling), so the wait after it
        # returns at once and the gatherer outlives the gathering. An Event has no such state.
        self._ended = threading.Event()
        thread = threading.Thread(target=self._run, name="dldoctor-gather", daemon=True)
        thread.start()

    def _run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as exc:  # given to whoever asks for the result, as a future would
            self._error = exc
        finally:
            self._ended.set()

    def wait(self) -> None:
        self._ended.wait()

    def done(self) -> bool:
        return self._ended.is_set()

    @property
    def raised(self) -> bool:
        """Whether the function, having ended, raised."""
        return self._error is not None

    def result(self) -> Any:
        """What the function returned, once it has; what it raised, raised here."""
        self.wait()
        if self._error is not None:
            raise self._error
        return self._value


def _result(get: Callable[[], dict[str, Any]], name: str) -> dict[str, Any]:
    """A gatherer's section; one that raised (a bug) becomes a section holding the error."""
    try:
        return get()
    except Exception as exc:  # a gatherer bug must not cost the other sections
        return {"errors": {name: f"internal error: {type(exc).__name__}: {exc}"}}
