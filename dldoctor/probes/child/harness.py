"""The probe child's harness: result channel, phases with captured output, limits (stdlib, 3.6+)."""

# Runs in the TARGET interpreter as `PYTHON -c <this file> <json-args>`: standard library only,
# Python 3.6 syntax, nothing from dldoctor. The per-framework probe modules arrive as source in
# the arguments and run here one after another. Results go, one JSON object per line, to the pipe
# whose fd the parent passed (pass_fds; on Windows an inherited HANDLE): whatever a framework
# prints to stdout or stderr can never be mistaken for a result. Each phase's output goes to its
# own file the parent can read if this process dies, so a crash still has its last words.
import os
import sys


def _search_path(path: list) -> list:
    """sys.path without '' and the working directory: a project folder must not shadow anything."""
    try:
        cwd = os.path.normcase(os.getcwd())
    except OSError:
        cwd = ""
    return [p for p in path if p and os.path.normcase(os.path.abspath(p)) != cwd]


if __name__ == "__main__":
    sys.path[:] = _search_path(sys.path)

import contextlib  # noqa: E402
import faulthandler  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import linecache  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import types  # noqa: E402
import warnings  # noqa: E402
from typing import Any, Callable, Dict, Iterator, List, Optional  # noqa: E402

JSON = Dict[str, Any]
OUTPUT_LINES = 40  # lines of a phase's output kept as evidence
LINE_CHARS = 400
TAIL_BYTES = 16384

# The smoke tasks, identical in every framework.
AUTOGRAD_X = [1.0, 2.0]  # d/dx (x² + 3x) = 2x + 3
AUTOGRAD_EXPECTED = [5.0, 7.0]
GRAPH_EXPECTED = [4.0, 10.0]  # x² + 3x at x = [1, 2], computed by a compiled graph
TRAIN_POINTS = 32  # y = 3x + 1 on [-1, 1], fitted by plain SGD
# w's error shrinks by 1 - LR·2·mean(x²) ≈ 0.66 a step (b's is gone after one): 20 steps leave
# ~7e-4, within the tolerance; a gradient half or twice what it should be does not converge in
# them (more steps would let a half-size gradient pass too). Each step is a framework op call.
TRAIN_STEPS = 20
TRAIN_LR = 0.5
TRAIN_EXPECTED = [3.0, 1.0]  # [w, b]
TRAIN_TOLERANCE = 1e-2
MATMUL_SIZE = 256
# Relative error (Frobenius norm) of an n×n matmul against float64 on the CPU. float32 allows
# TF32 (10-bit mantissa), which TensorFlow and JAX use by default on Ampere and newer.
MATMUL_BOUNDS = {"float32": 5e-3, "float16": 1e-2, "bfloat16": 5e-2}
MEMORY_SHARE = 0.5  # of the free accelerator memory, allocated and written once
# The CUDA (and ROCm) libraries a framework loads: every library of compat_matrix/libraries.toml,
# their helpers (nvrtc-builtins, cusparseLt, cufile, nvToolsExt), and the renamed copies a wheel
# bundles (libcudart-e409450e.so.11.0, as auditwheel names them).
_LIBRARY = re.compile(
    r"/(lib(?:cudart|cuda|cudnn[A-Za-z_]*|cublas|cublasLt|nccl|nvinfer[A-Za-z_]*|"
    r"nvrtc(?:-builtins)?|nvJitLink|cufft|cusparse(?:Lt)?|cusolver|curand|cupti|cufile|"
    r"nvToolsExt|amdhip64|rocblas|MIOpen|rccl|hiprtc)(?:-[0-9a-f]{8})?"
    r"\.so(?:\.[0-9.]+)?)$"
)
MAPS_BYTES = 4 << 20  # /proc/self/maps of a CUDA process is ~1 MiB; a runaway one is cut
MAX_LIBRARIES = 120  # libraries reported per stage
# The small convolution every framework runs forward and backward (NCHW input, OIHW weight,
# stride 1, no padding), with loss = sum(out²)/2 so the gradients are not all ones.
CONV_X = [  # [1][2][4][4]
    [[[float((c * 16 + 3 * y + x) % 7 - 3) for x in range(4)] for y in range(4)] for c in range(2)]
]
CONV_W = [  # [3][2][3][3]
    [
        [[float((o + 2 * c + i - j) % 5 - 2) / 2.0 for j in range(3)] for i in range(3)]
        for c in range(2)
    ]
    for o in range(3)
]
CONV_TOLERANCE = 1e-3
GEMM_SIZE = 64  # the matmul-with-bias (a cuBLASLt epilogue on CUDA)


class Skip(Exception):
    """Raised by a smoke test that does not apply here; the message says why."""


def _reason(exc: BaseException) -> str:
    return "%s: %s" % (type(exc).__name__, exc)


def jsonable(value: Any) -> Any:
    """Plain JSON: non-finite floats become strings, anything odd its repr."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    try:
        return jsonable(float(value)) if hasattr(value, "__float__") else repr(value)
    except Exception:
        return repr(value)


def error_record(exc: BaseException) -> JSON:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    tail = "".join(lines).splitlines()[-12:]
    return {
        "type": type(exc).__name__,
        "message": str(exc)[:4000],
        "traceback": [line[:LINE_CHARS] for line in tail],
    }


def loaded_libraries(maps: str, prefix: str = "") -> List[JSON]:
    """The CUDA/ROCm libraries mapped into this process, from /proc/self/maps text."""
    seen = []  # type: List[str]
    for line in maps.splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and _LIBRARY.search(parts[5].strip()) and parts[5] not in seen:
            seen.append(parts[5].strip())
            if len(seen) >= MAX_LIBRARIES:
                break
    result = []
    for path in seen:
        name = os.path.basename(path)
        version = re.search(r"\.so\.([0-9][0-9.]*)$", name)
        result.append(
            {
                "name": name,
                "path": path,
                "version": version.group(1) if version else None,
                "source": library_source(path, prefix),
            }
        )
    return result


def library_source(path: str, prefix: str = "") -> str:
    """Where a loaded library comes from: a pip wheel, the framework's own wheel, the system…"""
    parts = path.split("/")
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            top = parts[parts.index(marker) + 1] if parts.index(marker) + 1 < len(parts) else ""
            return "pip wheel " + top if top == "nvidia" else "bundled with " + top
    if path.startswith("/usr/lib/wsl/"):
        return "WSL host driver"
    if prefix and path.startswith(prefix.rstrip("/") + "/"):
        return "environment (%s)" % prefix
    if path.startswith("/usr/local/cuda") or "/cuda-" in path or path.startswith("/opt/"):
        return "CUDA toolkit " + "/".join(parts[:4])
    return "system"


class Channel:
    """One JSON object per line on the parent's pipe; never inherited by the framework's children."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        with contextlib.suppress(OSError):
            os.set_inheritable(fd, False)

    def send(self, message: JSON) -> None:
        data = (json.dumps(jsonable(message)) + "\n").encode("utf-8")
        try:
            while data:
                data = data[os.write(self.fd, data) :]
        except OSError:
            pass  # the parent is gone: nobody to tell


class Phase:
    """A stretch of work whose stdout+stderr (native too) and Python warnings are captured."""

    def __init__(self, ctx: "Context", name: str, timeout_s: Optional[float] = None) -> None:
        self.ctx, self.name, self.timeout_s = ctx, name, timeout_s
        self.lines = []  # type: List[str]
        self.warnings = []  # type: List[str]
        self.path = ""

    def __enter__(self) -> "Phase":
        self.ctx.counter += 1
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.name)[:60]
        self.path = os.path.join(
            self.ctx.workdir, "%d-%d-%s.log" % (os.getpid(), self.ctx.counter, safe)
        )
        _flush()
        self.saved = ()  # type: tuple
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError:  # no work directory: run uncaptured rather than not at all
            self.path = ""
        else:
            self.saved = (os.dup(1), os.dup(2))
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
        self.ctx.send("phase", phase=self.name, output_file=self.path, timeout_s=self.timeout_s)
        self.catcher = warnings.catch_warnings(record=True)
        self.caught = self.catcher.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.catcher.__exit__(*exc)
        self.warnings = [
            "%s: %s" % (w.category.__name__, str(w.message)[:LINE_CHARS]) for w in self.caught
        ][:OUTPUT_LINES]
        _flush()
        if self.saved:
            os.dup2(self.saved[0], 1)
            os.dup2(self.saved[1], 2)
            for fd in self.saved:
                os.close(fd)
        if self.path:
            self.lines = tail_lines(self.path)
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def tail_lines(path: str, limit: int = OUTPUT_LINES) -> List[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - TAIL_BYTES))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    lines = [ln.rstrip()[:LINE_CHARS] for ln in text.splitlines() if ln.strip()]
    return lines[-limit:]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off during a framework's import, then on again with
    what the import built set aside (``gc.freeze``, 3.7+). An import makes millions of objects
    that live as long as the process, and every full collection walks them all: a quarter of
    TensorFlow's import here (six full passes, ~1 s of ~4). The import is the framework's own
    either way; only when its cyclic garbage is freed moves (a few thousand objects)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            freeze = getattr(gc, "freeze", None)
            if freeze is not None:
                freeze()
            gc.enable()


class Context:
    """What a framework probe module gets: import, facts, devices, smoke tests; all never raise."""

    Skip = Skip
    AUTOGRAD_X = AUTOGRAD_X
    AUTOGRAD_EXPECTED = AUTOGRAD_EXPECTED
    GRAPH_EXPECTED = GRAPH_EXPECTED
    TRAIN_EXPECTED = TRAIN_EXPECTED
    TRAIN_STEPS = TRAIN_STEPS
    TRAIN_LR = TRAIN_LR
    MATMUL_SIZE = MATMUL_SIZE
    MATMUL_BOUNDS = MATMUL_BOUNDS
    MEMORY_SHARE = MEMORY_SHARE
    CONV_X = CONV_X
    CONV_W = CONV_W
    GEMM_SIZE = GEMM_SIZE
    error_record = staticmethod(error_record)

    def __init__(self, channel: Channel, framework: str, options: JSON, workdir: str) -> None:
        self.channel, self.framework, self.options, self.workdir = (
            channel,
            framework,
            options,
            workdir,
        )
        self.counter = 0
        self._conv_expected = None  # type: Optional[List[List[float]]]

    def send(self, kind: str, **fields: Any) -> None:
        fields.update({"type": kind, "framework": self.framework})
        self.channel.send(fields)

    def helper(self, name: str) -> types.ModuleType:
        """A shared child module sent with this job (``deploy``: the deployment chains)."""
        given = dict((self.options.get("helpers") or {})[name])
        given["framework"] = "helper_" + name
        return load_probe(given)

    def phase(self, name: str, timeout_s: Optional[float] = None) -> Phase:
        return Phase(self, name, timeout_s)

    def import_module(self, name: str, companion: bool = False) -> Any:
        """Import ``name`` in a phase; report how it went. None if it raised."""
        started = time.perf_counter()
        module, error = None, None
        with self.phase("import " + name) as phase, collector_paused():
            try:
                module = importlib.import_module(name)
            except BaseException as exc:  # SystemExit and friends from a broken __init__ too
                if isinstance(exc, KeyboardInterrupt):
                    raise
                error = error_record(exc)
        version = getattr(module, "__version__", None) if module is not None else None
        self.send(
            "import",
            module=name,
            companion=companion,
            ok=module is not None,
            duration_s=time.perf_counter() - started,
            version=str(version) if version is not None else None,
            file=getattr(module, "__file__", None),
            error=error,
            warnings=phase.warnings,
            output=phase.lines,
        )
        if not companion:
            self.loaded("import")
        return module

    def loaded(self, stage: str) -> None:
        """Report the CUDA libraries mapped into this process now (after ``stage``)."""
        self.send("libraries", stage=stage, libraries=loaded_libraries(maps_text(), sys.prefix))

    def version(self, library: str, **said: Any) -> None:
        """What the framework says of a library's version: ``built`` (what it was compiled
        against) and ``runtime`` (what it reports of the copy it loaded), each with ``how``."""
        self.send("version", library=library, **said)

    def fact(self, key: str, read: Callable[[], Any]) -> Any:
        """Record ``read()`` under ``key``; an exception is recorded as the fact's error."""
        try:
            value = read()
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.send("info", key=key, error=_reason(exc)[:2000])
            return None
        self.send("info", key=key, value=value)
        return value

    def attempt(self, key: str, read: Callable[[], Any]) -> Any:
        """``read()``, or None with the exception recorded as the error of fact ``key``."""
        try:
            return read()
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.send("info", key=key, error=_reason(exc)[:2000])
            return None

    def facts_phase(self, gather: Callable[[], None]) -> None:
        """Run the probe's runtime-fact gathering in a phase and report its warnings and output."""
        with self.phase("runtime facts") as phase:
            try:
                gather()
            except Exception as exc:
                self.send("info", key="probe_error", error=_reason(exc)[:2000])
        self.send("facts_output", warnings=phase.warnings, output=phase.lines)
        self.loaded("facts")

    def device(self, **fields: Any) -> None:
        self.send("device", device=fields)

    def unavailable(self, kind: str, attempt: Callable[[], Any]) -> Optional[str]:
        """A device the build has but the framework does not list: ``attempt`` (creating a
        tensor there) is made, and the framework's own words of why it fails are recorded."""
        with self.phase("ask why %s is unavailable" % kind) as phase:
            try:
                attempt()
                said = None  # type: Optional[str]
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                said = _reason(exc)[:2000]
        self.send("device_error", device=kind, error=said, output=phase.lines[-12:])
        return said

    def smoke(
        self, test: str, device: str, run: Callable[[], JSON], timeout_s: Optional[float] = None
    ) -> JSON:
        """Run one smoke test; its dict may hold ok, expected, got, detail. Never raises."""
        started = time.perf_counter()
        result = {}  # type: JSON
        with self.phase("smoke %s on %s" % (test, device), timeout_s) as phase:
            try:
                result = dict(run() or {})
                status = "pass" if result.pop("ok", False) else "fail"
            except Skip as why:
                status, result = "skip", {"detail": str(why)}
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                status, result = "fail", {"error": error_record(exc)}
        result.update(test=test, device=device, status=status)
        result["duration_s"] = time.perf_counter() - started
        if status == "fail":
            result["output"] = phase.lines[-12:]
        self.send("smoke", **result)
        return result

    # -- helpers the probe modules share ---------------------------------------------------

    @staticmethod
    def close(got: List[float], expected: List[float], tolerance: float) -> JSON:
        ok = len(got) == len(expected) and all(
            isinstance(g, float) and math.isfinite(g) and abs(g - e) <= tolerance
            for g, e in zip(got, expected)
        )
        rounded = [round(g, 6) if isinstance(g, float) else g for g in got]
        return {"ok": ok, "expected": expected, "got": rounded, "tolerance": tolerance}

    def autograd_result(self, got: List[float]) -> JSON:
        return self.close([float(g) for g in got], AUTOGRAD_EXPECTED, 1e-4)

    def graph_result(self, got: List[float], how: str) -> JSON:
        result = self.close([float(g) for g in got], GRAPH_EXPECTED, 1e-4)
        result["detail"] = how
        return result

    def train_result(
        self, w: float, b: float, how: str, tolerance: float = TRAIN_TOLERANCE
    ) -> JSON:
        result = self.close([float(w), float(b)], TRAIN_EXPECTED, tolerance)
        result["detail"] = how
        return result

    def conv_result(self, out: Any, grad_x: Any, grad_w: Any, how: str) -> JSON:
        """The convolution's output and gradients against the plain-Python reference; a None
        gradient is not judged (an inference runtime has no backward)."""
        if self._conv_expected is None:
            self._conv_expected = conv_reference(CONV_X, CONV_W)
        errors = {}  # type: Dict[str, float]
        names = ("output", "grad_input", "grad_weight")
        for name, got, expected in zip(names, (out, grad_x, grad_w), self._conv_expected):
            if got is None:
                continue
            values = flat(got)
            errors[name] = (
                max([abs(g - e) for g, e in zip(values, expected)] or [math.inf])
                if len(values) == len(expected)
                else math.inf
            )
        return {
            "ok": all(math.isfinite(e) and e <= CONV_TOLERANCE for e in errors.values()),
            "expected": {name: "<= %g" % CONV_TOLERANCE for name in errors},
            "got": {k: v if math.isfinite(v) else str(v) for k, v in errors.items()},
            "detail": how,
        }

    @staticmethod
    def gemm_result(error: float, dtype: str, how: str) -> JSON:
        """A matmul with bias (relative error against float64 on the CPU)."""
        bound = MATMUL_BOUNDS.get(dtype, 1e-2)
        return {
            "ok": math.isfinite(error) and error <= bound,
            "expected": {dtype: "<= %g" % bound},
            "got": {dtype: float("%.3g" % error) if math.isfinite(error) else str(error)},
            "detail": how,
        }

    @staticmethod
    def train_data() -> List[List[float]]:
        xs = [-1.0 + 2.0 * i / (TRAIN_POINTS - 1) for i in range(TRAIN_POINTS)]
        return [xs, [3.0 * x + 1.0 for x in xs]]

    @staticmethod
    def matmul_result(errors: Dict[str, float]) -> JSON:
        """``errors``: dtype → relative error against the float64 CPU reference."""
        ok = bool(errors) and all(
            math.isfinite(e) and e <= MATMUL_BOUNDS.get(d, 1e-2) for d, e in errors.items()
        )
        return {
            "ok": ok,
            "expected": {d: "<= %g" % MATMUL_BOUNDS.get(d, 1e-2) for d in errors},
            "got": {
                d: float("%.3g" % e) if math.isfinite(e) else str(e) for d, e in errors.items()
            },
            "detail": "%d×%d matmul vs float64 on the CPU" % (MATMUL_SIZE, MATMUL_SIZE),
        }

    @contextlib.contextmanager
    def accelerator_lock(self) -> Iterator[None]:
        """Held while a probe allocates a large share of accelerator memory: children run in
        parallel, and two of them each taking half of the free memory would fail each other."""
        path = self.options.get("lock_file")
        if not path:
            yield
            return
        try:
            import fcntl
        except ImportError:  # Windows: no flock; msvcrt's byte-range lock does the same
            with _windows_lock(path):
                yield
            return
        with open(path, "a") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


LOCK_ROUNDS = 60  # msvcrt's LK_LOCK itself retries for 10 s: up to 10 minutes in all


@contextlib.contextmanager
def _windows_lock(path: str) -> Iterator[None]:
    """The first byte of ``path`` locked with msvcrt.locking; without msvcrt, or past
    LOCK_ROUNDS, it goes on unlocked (the probe's own timeout still bounds it)."""
    try:
        import msvcrt
    except ImportError:
        yield
        return
    with open(path, "a+b") as f:
        held = False
        for _ in range(LOCK_ROUNDS):
            try:
                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]
                held = True
                break
            except OSError:  # another child holds it still: LK_LOCK gave up after 10 tries
                continue
        try:
            yield
        finally:
            if held:
                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]


def load_probe(job: JSON) -> types.ModuleType:
    """Execute a probe module's source as a module (with its real file name, so frameworks that
    read a function's source, like paddle.jit.to_static, find it)."""
    name = "dldoctor_probe_" + str(job["framework"])
    filename = str(job.get("filename") or "<%s>" % name)
    source = str(job["source"])
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def limit_memory(limit_bytes: Any) -> Optional[str]:
    """Cap this process's data segment so a runaway framework cannot take the machine down.

    RLIMIT_DATA, not RLIMIT_AS: CUDA reserves address space the size of all GPU and host memory
    at initialisation (PROT_NONE, not counted in the data segment); an address-space cap breaks it.
    """
    if not isinstance(limit_bytes, int) or limit_bytes <= 0:
        return None
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_DATA, (limit_bytes, limit_bytes))
    except (ImportError, AttributeError, ValueError, OSError) as exc:
        return _reason(exc)
    return None


def maps_text() -> str:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            return f.read(MAPS_BYTES)
    except OSError:
        return ""


def conv_reference(x: List, w: List) -> List[List[float]]:
    """[out, d loss/dx, d loss/dw] flattened, for loss = sum(out²)/2 (so d loss/d out = out)."""
    k, channels, size = len(w[0][0]), len(w[0]), len(x[0][0]) - len(w[0][0]) + 1
    out = [
        [
            [
                [
                    sum(
                        x[n][c][p + i][q + j] * w[o][c][i][j]
                        for c in range(channels)
                        for i in range(k)
                        for j in range(k)
                    )
                    for q in range(size)
                ]
                for p in range(size)
            ]
            for o in range(len(w))
        ]
        for n in range(len(x))
    ]
    gx = [[[[0.0] * len(x[0][0][0]) for _ in x[0][0]] for _ in x[0]] for _ in x]
    gw = [[[[0.0] * k for _ in range(k)] for _ in range(channels)] for _ in w]
    for n in range(len(x)):
        for o in range(len(w)):
            for p in range(size):
                for q in range(size):
                    g = out[n][o][p][q]
                    for c in range(channels):
                        for i in range(k):
                            for j in range(k):
                                gx[n][c][p + i][q + j] += g * w[o][c][i][j]
                                gw[o][c][i][j] += g * x[n][c][p + i][q + j]
    return [flat(out), flat(gx), flat(gw)]


def flat(value: Any) -> List[float]:
    """A nested list (or a framework's .tolist()) as one flat list of floats."""
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in flat(item)]
    return [float(value)]


def channel_fd(args: JSON) -> int:
    """The fd of the parent's pipe: passed as is on POSIX (pass_fds), as a HANDLE on Windows."""
    if args.get("channel_handle") is not None:
        import msvcrt  # Windows: the inherited handle becomes a C runtime fd

        return msvcrt.open_osfhandle(int(args["channel_handle"]), os.O_WRONLY)  # type: ignore
    return int(args["channel_fd"])


def run(args: JSON) -> None:
    channel = Channel(channel_fd(args))
    workdir = str(args.get("workdir") or ".")
    faulthandler.enable()  # a SIGSEGV prints the Python stack to fd 2: the phase's output file
    problem = limit_memory(args.get("memory_limit_bytes"))
    if isinstance(args.get("nice"), int) and args["nice"] > 0 and hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(args["nice"])  # a short probe yields the CPU to the longest one
    channel.send(
        {
            "type": "hello",
            "pid": os.getpid(),
            "python": sys.version.split()[0],
            "executable": sys.executable,
            "memory_limit_error": problem,
        }
    )
    options = dict(args.get("options") or {})
    defer = options.get("defer") or {}  # modules another child probes (child/defer.py)
    deferred = (
        load_probe(defer["helper"]).install(defer["modules"], defer.get("wait_s"))
        if defer
        else None
    )
    for job in args.get("jobs") or []:
        framework = str(job.get("framework"))
        ctx = Context(channel, framework, dict(options, **(job.get("options") or {})), workdir)
        started = time.perf_counter()
        channel.send({"type": "begin", "framework": framework})
        try:
            load_probe(job).probe(ctx)
        except Exception as exc:  # a bug in the probe module: reported, the next one still runs
            ctx.send("probe_error", error=error_record(exc))
        if deferred is not None and deferred.left_out:
            ctx.send("info", key="imported_elsewhere", value=deferred.take())
        ctx.loaded("end")
        ctx.send("end", duration_s=time.perf_counter() - started)
    channel.send({"type": "done"})


ARGUMENTS_BYTES = 64 << 20  # the probe modules' sources and the matrix's rows, with room


def read_arguments(given: str) -> str:
    """The parent's arguments: the path of the file it wrote them to (runner.arguments_file),
    or the JSON itself."""
    if given.startswith("{"):
        return given
    with open(given, "rb") as f:
        return f.read(ARGUMENTS_BYTES).decode("utf-8")


def main(argv: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        parsed = json.loads(read_arguments(args[0]))
        if not isinstance(parsed, dict):
            raise ValueError("arguments must be a JSON object")
    except Exception as exc:
        sys.stderr.write("dldoctor probe: bad arguments: %s\n" % _reason(exc))
        os._exit(3)
    code = 0
    try:
        run(parsed)
    except BaseException:  # a harness bug: its traceback is the evidence, on stderr
        traceback.print_exc()
        code = 3
    _flush()
    # Skip interpreter teardown: frameworks' atexit hooks and non-daemon threads can hang it, and
    # the parent kills this process group next anyway.
    os._exit(code)


if __name__ == "__main__":
    main()
