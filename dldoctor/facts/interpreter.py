"""Interpreter-scoped facts: Python, its environment, installed distributions (stdlib, 3.6+)."""

# This file runs two ways: imported by dldoctor (gather() on the current interpreter), or shipped
# as source to another interpreter (`PYTHON -c <this file> <json-args>`), which prints one JSON
# document. So: standard library only, nothing from dldoctor, never raise; and Python 3.6 syntax
# and library (frameworks supported 3.6 until 2021-2022): no `from __future__ import annotations`,
# annotations from typing (they are evaluated), no walrus, no dataclasses, no importlib.metadata
# (3.8), no subprocess capture_output/text (3.7). tests/facts/test_interpreter_versions.py runs
# it under every pyenv Python. Nothing here imports or executes a framework.
import os
import sys


def _search_path(path: list) -> list:  # annotations evaluated on 3.6; typing imports re
    """sys.path without '' and the working directory: a project folder must not shadow anything."""
    try:
        cwd = os.path.normcase(os.getcwd())
    except OSError:  # the working directory was deleted
        cwd = ""
    return [p for p in path if p and os.path.normcase(os.path.abspath(p)) != cwd]


if __name__ == "__main__":
    # `-c` puts '' first on sys.path before the imports below run: a project's own json.py or
    # email/ package would otherwise be imported in place of the standard library's.
    sys.path[:] = _search_path(sys.path)

import ast  # noqa: E402
import contextlib  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import site  # noqa: E402
import struct  # noqa: E402
import sysconfig  # noqa: E402
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Set, Tuple  # noqa: E402

JSON = Dict[str, Any]
MAX_FILE_BYTES = 4 << 20  # a build or metadata file larger than this is not what we think it is

# Static build facts: framework key → (top-level module, file under the site dir).
BUILD_FILES = {
    "torch": ("torch", "torch/version.py"),
    "tensorflow": ("tensorflow", "tensorflow/python/platform/build_info.py"),
    "paddle": ("paddle", "paddle/version/__init__.py"),
    "onnxruntime": ("onnxruntime", "onnxruntime/capi/build_and_package_info.py"),
}
# Top-level names that many distributions ship by accident; two of them are not a conflict.
NOT_MODULES = frozenset(
    {"tests", "test", "testing", "docs", "doc", "examples", "example", "benchmarks", "scripts"}
)
JAX_PLUGIN = re.compile(r"^jax-(cuda|rocm)(\d+)-(plugin|pjrt)$|^jax-metal$")
CUDA_SUFFIX = re.compile(r"-cu(\d+)$")
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# MindSpore's device plugins (2.x wheels carry CPU, GPU and Ascend in one): lib/plugin/ holds
# libmindspore_gpu.so.<CUDA major.minor> (one per CUDA it was built for) and
# libmindspore_ascend.so.<n>.
MINDSPORE_GPU_PLUGIN = re.compile(r"^libmindspore_gpu\.so\.(\d+\.\d+)$")
MINDSPORE_ASCEND_PLUGIN = re.compile(r"^libmindspore_ascend\.so(\.\d+)*$")
# MXNet's CUDA builds were published as their own distributions: mxnet-cu<major><minor>, the
# minor one digit (mxnet-cu92: CUDA 9.2, mxnet-cu117: 11.7), some with an -mkl variant.
MXNET_VARIANT = re.compile(r"^mxnet-cu(\d+)(\d)(?:-?mkl)?$")
CONDA_LISTED = re.compile(r'"([^"]*?\.(?:dist|egg)-info)[/"]')


_SEPARATORS = re.compile(r"[-_.]+")


def canonical(name: Optional[str]) -> str:
    """PEP 503 normalised name: 'Typing_Extensions' → 'typing-extensions' ('' for no name)."""
    return _SEPARATORS.sub("-", name or "").lower()


def _reason(exc: BaseException) -> str:
    return "%s: %s" % (type(exc).__name__, exc)


def _jsonable(value: Any) -> Any:
    """A literal from a build file as JSON: tuples and sets become lists, anything odd its repr."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_jsonable(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


# ---- the interpreter ---------------------------------------------------------------------------


def marker_environment() -> Dict[str, str]:
    """The PEP 508 marker environment of this interpreter."""
    info = sys.implementation.version
    implementation_version = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        implementation_version += info.releaselevel[0] + str(info.serial)
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": implementation_version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def _normpath(path: str) -> str:
    return os.path.normcase(os.path.normpath(os.path.abspath(path)))


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def read_bytes(path: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """At most `limit` bytes of a file; raises OSError as open() does.

    Sized by fstat: `f.read(limit)` allocates the whole 4 MiB limit first, which made reading
    three small metadata files per distribution the main cost of a 3000-distribution environment
    (65 µs a file against 12 µs). A file that says it is empty (/proc) is read in chunks.
    """
    fd = os.open(path, _READ_FLAGS)
    try:
        size = os.fstat(fd).st_size
        if 0 < size < limit:  # a regular file: one read, one byte more to notice it grew
            data = os.read(fd, size + 1)
            if len(data) <= size:
                return data
            chunks, total = [data], len(data)
        else:
            chunks, total = [], 0
        while total < limit:
            data = os.read(fd, min(1 << 16, limit - total))
            if not data:
                break
            chunks.append(data)
            total += len(data)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read_head(path: str, limit: int = MAX_FILE_BYTES) -> Optional[str]:
    try:
        return read_bytes(path, limit).decode("utf-8", errors="replace")
    except OSError:
        return None


def _pyvenv_cfg(prefix: str) -> Optional[Dict[str, str]]:
    text = _read_head(os.path.join(prefix, "pyvenv.cfg"))
    if text is None:
        return None
    cfg = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            cfg[key.strip().lower()] = value.strip()
    return cfg


def _same_dir(a: Optional[str], b: str) -> bool:
    if not a:
        return False
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _env(manager: str, name: Optional[str], evidence: str) -> JSON:
    return {"manager": manager, "name": name, "evidence": evidence}


def _conda_environment(prefix: str, environ: Mapping[str, str]) -> JSON:
    name = os.path.basename(prefix.rstrip("/\\")) or prefix
    if _same_dir(environ.get("CONDA_PREFIX"), prefix) and environ.get("CONDA_DEFAULT_ENV"):
        name = environ["CONDA_DEFAULT_ENV"]
    elif os.path.isdir(os.path.join(prefix, "condabin")):
        name = "base"
    root = environ.get("MAMBA_ROOT_PREFIX")
    if root and _normpath(os.path.realpath(prefix)).startswith(_normpath(os.path.realpath(root))):
        return _env("mamba", name, "conda-meta/ in prefix, under MAMBA_ROOT_PREFIX=" + root)
    # The first command in conda-meta/history is the one that created the environment.
    history = _read_head(os.path.join(prefix, "conda-meta", "history"), 64 << 10) or ""
    created = next((ln for ln in history.splitlines() if ln.startswith("# cmd:")), "")
    if re.search(r"\b(micro)?mamba\b", created):
        return _env("mamba", name, "conda-meta/history: " + created[:120])
    return _env("conda", name, "conda-meta/ in prefix")


def _virtual_environment(prefix: str, cfg: Dict[str, str], environ: Mapping[str, str]) -> JSON:
    name = cfg.get("prompt") or os.path.basename(prefix.rstrip("/\\")) or prefix
    path = prefix.replace("\\", "/").lower()
    active = _same_dir(environ.get("VIRTUAL_ENV"), prefix)
    if "pypoetry" in path and "/virtualenvs/" in path:
        return _env("poetry", name, "prefix under pypoetry/virtualenvs")
    if active and environ.get("POETRY_ACTIVE"):
        return _env("poetry", name, "POETRY_ACTIVE, and VIRTUAL_ENV is this prefix")
    if "/.local/share/virtualenvs/" in path:
        return _env("pipenv", name, "prefix under .local/share/virtualenvs")
    if active and environ.get("PIPENV_ACTIVE"):
        return _env("pipenv", name, "PIPENV_ACTIVE, and VIRTUAL_ENV is this prefix")
    for key in ("uv", "virtualenv"):
        if key in cfg:
            return _env(key, name, "pyvenv.cfg: %s = %s" % (key, cfg[key]))
    return _env("venv", name, "pyvenv.cfg without uv or virtualenv keys")


def environment(prefix: str, environ: Mapping[str, str]) -> JSON:
    """Which tool made this environment, judged from files in the prefix and the environment."""
    cfg = _pyvenv_cfg(prefix)
    if cfg is not None:
        return _virtual_environment(prefix, cfg, environ)
    if os.path.isdir(os.path.join(prefix, "conda-meta")):
        return _conda_environment(prefix, environ)
    path = prefix.replace("\\", "/")
    match = re.search(r"/\.pyenv/versions/([^/]+)", path)
    if match:
        return _env("pyenv", match.group(1), "prefix under .pyenv/versions")
    if "/uv/python/" in path:
        return _env("uv", os.path.basename(path.rstrip("/")), "prefix under uv/python")
    return _env("system", None, "no pyvenv.cfg or conda-meta/ in prefix")


def _attempt(errors: List[str], what: str, read: Callable[[], Any], default: Any = None) -> Any:
    """read(), or the default with the reason recorded in errors: a value, never a traceback."""
    try:
        return read()
    except Exception as exc:
        errors.append("%s: %s" % (what, _reason(exc)))
        return default


def _headers_dir() -> Any:
    """Where Python.h is (what a C/C++ extension build includes); False: not installed."""
    include = sysconfig.get_paths().get("include")
    if include and os.path.isfile(os.path.join(include, "Python.h")):
        return include
    return False


def python_facts(search_path: List[str]) -> JSON:
    """The interpreter itself: version, build, where it lives, which environment manager made it."""
    errors: List[str] = []

    def get(key: str, read: Callable[[], Any], default: Any = None) -> Any:
        return _attempt(errors, key, read, default)

    return {
        "version": get("version", platform.python_version),
        "implementation": get("implementation", platform.python_implementation),
        "executable": sys.executable or None,  # '' when the interpreter cannot tell
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "machine": get("machine", platform.machine),
        "bits": struct.calcsize("P") * 8,
        "free_threaded": get(
            "free_threaded", lambda: bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
        ),
        "environment": get("environment", lambda: environment(sys.prefix, os.environ)),
        "pip_version": None,  # filled in from the distributions found
        "marker_environment": get("marker_environment", marker_environment, {}),
        "user_site": get("user_site", site.getusersitepackages),
        "user_site_enabled": bool(getattr(site, "ENABLE_USER_SITE", False)),
        "headers": get("headers", _headers_dir),
        "sys_path": search_path,
        "errors": errors,
    }


# ---- one distribution --------------------------------------------------------------------------


# The three fields read, continuation lines included; a wheel's METADATA has dozens of others
# (classifiers, project URLs, the description) that one C-level scan skips.
_WANTED_HEADERS = re.compile(
    r"^(name|version|requires-dist)[ \t]*:(.*(?:\n[ \t].*)*)", re.MULTILINE | re.IGNORECASE
)


def _headers(text: str) -> Dict[str, List[str]]:
    """Name, Version and Requires-Dist from METADATA's RFC 822 header block, lower-cased keys."""
    end = text.find("\n\n")
    head = text if end < 0 else text[:end]
    if "\r" in head:
        head = head.replace("\r\n", "\n").split("\n\n", 1)[0]
    headers: Dict[str, List[str]] = {}
    for key, value in _WANTED_HEADERS.findall(head):
        joined = " ".join(p.strip() for p in value.split("\n")) if "\n" in value else value.strip()
        headers.setdefault(key.lower(), []).append(joined)
    return headers


def _first(headers: Dict[str, List[str]], key: str) -> Optional[str]:
    values = headers.get(key)
    return values[0] if values else None


def _dir_name(dist: Any) -> str:
    # PathDistribution keeps its directory in the private `_path` (3.8 to 3.13 alike).
    return os.path.basename(str(getattr(dist, "_path", "")))


def _name_from_dir(dirname: str) -> Tuple[Optional[str], Optional[str]]:
    """'foo_bar-1.0.dist-info' → ('foo_bar', '1.0'), for a distribution whose metadata is bad."""
    parts = re.sub(r"\.(dist-info|egg-info)$", "", dirname).split("-")
    return parts[0] or None, parts[1] if len(parts) > 1 else None


def _metadata(dist: Any) -> Tuple[Dict[str, List[str]], Optional[str]]:
    """(headers, error): the parsed METADATA/PKG-INFO, or {} and why it could not be read."""
    try:
        text = dist.read_text("METADATA")
        text = dist.read_text("PKG-INFO") if text is None else text
        if text is None and os.path.isfile(str(getattr(dist, "_path", ""))):
            text = dist.read_text("")  # a single-file .egg-info is the PKG-INFO itself
    except UnicodeDecodeError as exc:
        return {}, "METADATA is not UTF-8 text: %s" % exc.reason
    except Exception as exc:
        return {}, "METADATA unreadable: %s" % _reason(exc)
    if text is None:
        return {}, "no METADATA or PKG-INFO file"
    headers = _headers(text)
    missing = [k for k in ("name", "version") if not _first(headers, k)]
    if missing:
        return headers, "METADATA has no %s field" % " or ".join(m.capitalize() for m in missing)
    return headers, None


def _requires(dist: Any, headers: Dict[str, List[str]]) -> List[str]:
    if headers.get("requires-dist"):
        return list(headers["requires-dist"])
    if not _dir_name(dist).endswith(".egg-info"):
        return []
    try:  # egg-info keeps them in requires.txt; the stdlib turns its sections into markers
        return list(dist.requires or [])
    except Exception:
        return []


def _installer(dist: Any, location: str, conda_owned: Set[str]) -> Optional[str]:
    if conda_owned and _normpath(os.path.join(location, _dir_name(dist))) in conda_owned:
        return "conda"
    try:
        text = dist.read_text("INSTALLER")
    except Exception:
        return None
    return (text.strip() or None) if text else None


def installed_files(dist: Any) -> Optional[List[str]]:
    """Paths relative to the site dir (RECORD, or installed-files.txt); None if unknown."""
    try:
        record = dist.read_text("RECORD")
        if record is not None and '"' in record:  # csv quotes a path that holds a comma
            return [row[0] for row in csv.reader(record.splitlines()) if row]
        if record is not None:
            return [line.rsplit(",", 2)[0] for line in record.splitlines() if line]
        listing = dist.read_text("installed-files.txt")
    except Exception:
        return None
    if listing is None:
        return None
    # installed-files.txt is relative to the .egg-info directory: '../torch/__init__.py'.
    return [ln[3:] for ln in listing.splitlines() if ln.startswith("../")]


def _top_of(path: str) -> Optional[str]:
    """The importable top-level name a file path belongs to, if any."""
    head, sep, _ = path.replace("\\", "/").partition("/")
    if sep:
        return head if head.isidentifier() else None  # excludes foo.dist-info, .., foo.data
    stem = head.split(".", 1)[0]
    if head.endswith((".py", ".so", ".pyd")) and stem.isidentifier():
        return stem
    return None


class Found:
    """One distribution as found: its public record, and its installed files read on demand."""

    __slots__ = ("_files", "_files_read", "dist", "info")

    def __init__(self, dist: Any) -> None:
        self.info: JSON = {}
        self.dist = dist
        self._files: Optional[List[str]] = None
        self._files_read = False

    def files(self) -> Optional[List[str]]:
        # RECORD is long (torch: ~15,000 lines): read it only when a question needs it.
        if not self._files_read:
            self._files, self._files_read = installed_files(self.dist), True
        return self._files


def _top_level(found: Found) -> List[str]:
    try:
        text = found.dist.read_text("top_level.txt")
    except Exception:
        text = None
    if text is not None:
        return sorted({ln.strip() for ln in text.splitlines() if ln.strip()})
    names = {_top_of(p) for p in found.files() or ()}
    return sorted(n for n in names if n and n != "__pycache__")


def describe(dist: Any, location: str, conda_owned: Set[str]) -> Found:
    """One distribution's public record (and its files on demand); never raises."""
    headers, error = _metadata(dist)
    fallback = _name_from_dir(_dir_name(dist))
    found = Found(dist)
    found.info = {
        "name": _first(headers, "name") or fallback[0],
        "version": _first(headers, "version") or fallback[1],
        "location": location,
        "installer": _installer(dist, location, conda_owned),
        "requires": _requires(dist, headers),
        "top_level": _top_level(found),
        "metadata_error": error,
    }
    return found


# ---- build files, read without importing ------------------------------------------------------


def _parse(path: str) -> ast.Module:
    with open(path, "rb") as f:
        source = f.read(MAX_FILE_BYTES)
    return ast.parse(source, filename=path)


def module_literals(tree: ast.Module) -> JSON:
    """Module-level `name = <literal>` assignments; anything computed is skipped."""
    values: JSON = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id != "__all__":
                # Not a literal: computed at import time, so unknowable without importing.
                with contextlib.suppress(Exception):
                    literal = ast.literal_eval(value)
                    if not (isinstance(literal, str) and "\n" in literal):  # docs, not facts
                        values[target.id] = _jsonable(literal)
    return values


def _dict_literal(node: ast.expr) -> JSON:
    """`{...}`, `dict(...)` or `collections.OrderedDict([...])` with literal contents."""
    if isinstance(node, ast.Dict):
        return dict(ast.literal_eval(node))
    func = node.func if isinstance(node, ast.Call) else None
    callee = getattr(func, "id", None) or getattr(func, "attr", None)
    if not isinstance(node, ast.Call) or callee not in ("dict", "OrderedDict"):
        raise ValueError("build_info is not a literal dict")
    result: JSON = {}
    for arg in node.args:
        result.update(dict(ast.literal_eval(arg)))
    for keyword in node.keywords:
        if keyword.arg:
            result[keyword.arg] = ast.literal_eval(keyword.value)
    return result


def tensorflow_build_info(tree: ast.Module) -> JSON:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "build_info" for t in node.targets
        ):
            return _jsonable(_dict_literal(node.value))
    values = module_literals(tree)  # releases before 2.3 had module-level constants
    if not values:
        raise ValueError("no build_info assignment")
    return values


def _build_from_file(framework: str, providers: List[JSON]) -> JSON:
    module, relpath = BUILD_FILES[framework]
    if not providers:
        return {"source": False, "error": "no installed distribution provides '%s'" % module}
    for info in providers:
        path = os.path.join(info["location"], *relpath.split("/"))
        if not os.path.isfile(path):
            continue
        build: JSON = {"source": relpath, "distribution": info["name"]}
        try:
            tree = _parse(path)
            read = tensorflow_build_info if framework == "tensorflow" else module_literals
            # The file's own None ("cuda = None": no CUDA) is a value, not unknown: False.
            build.update((k, False if v is None else v) for k, v in read(tree).items())
        except Exception as exc:  # a broken file is a fact about the install
            build["error"] = _reason(exc)
        return build
    names = ", ".join("%s %s" % (i["name"], i["version"]) for i in providers)
    return {"source": False, "error": "%s not found in %s" % (relpath, names)}


def _literals_build(info: JSON, package: str, filename: str) -> Tuple[str, JSON]:
    """The package's folder, and the literals of one of its files as build facts (with the
    error in place of them when the file is broken or missing: a fact about the install)."""
    root = os.path.join(info["location"], package)
    build = {"source": "%s/%s" % (package, filename), "distribution": info["name"]}  # type: JSON
    try:
        literals = module_literals(_parse(os.path.join(root, filename)))
        build.update((k.strip("_"), v) for k, v in literals.items())
    except Exception as exc:
        build["error"] = _reason(exc)
    return root, build


def _mindspore_build(providers: List[JSON]) -> JSON:
    """default_config.py's literals (1.x: device target and CUDA) and the device plugins."""
    if not providers:
        return {"source": False, "error": "no installed distribution provides 'mindspore'"}
    root, build = _literals_build(providers[0], "mindspore", "default_config.py")
    plugin_dir = os.path.join(root, "lib", "plugin")
    try:
        names = sorted(os.listdir(plugin_dir))
    except OSError:  # 1.x wheels have no plugins: one device target, in default_config.py
        build["device_plugins"] = False if os.path.isdir(root) else None
        return build
    gpu = sorted({m.group(1) for m in map(MINDSPORE_GPU_PLUGIN.match, names) if m})
    build["device_plugins"] = {
        "cpu": "libmindspore_ops_cpu.so" in names or os.path.isdir(os.path.join(plugin_dir, "cpu")),
        "gpu_cuda": gpu,
        "ascend": any(MINDSPORE_ASCEND_PLUGIN.match(n) for n in names),
    }
    return build


def _oneflow_build(providers: List[JSON]) -> JSON:
    """oneflow/version.py's literals, and its compiled core (oneflow/_oneflow_internal*.so):
    PyPI's `oneflow` wheels are pure-Python placeholders without it."""
    if not providers:
        return {"source": False, "error": "no installed distribution provides 'oneflow'"}
    root, build = _literals_build(providers[0], "oneflow", "version.py")
    try:
        names = os.listdir(root)
    except OSError:
        build["compiled_core"] = None  # the package folder cannot be listed: unknown
        return build
    core = [n for n in names if n.startswith("_oneflow_internal.") and n.endswith((".so", ".pyd"))]
    build["compiled_core"] = sorted(core)[0] if core else False
    return build


def _mxnet_build(providers: List[JSON]) -> JSON:
    """The CUDA variant from the distribution's name (mxnet-cu117: CUDA 11.7; mxnet: none)."""
    if not providers:
        return {"source": False, "error": "no installed distribution provides 'mxnet'"}
    name = canonical(providers[0]["name"])
    match = MXNET_VARIANT.match(name)
    return {
        "source": "distribution name",
        "distribution": providers[0]["name"],
        "cuda_variant": "%s.%s" % match.groups() if match else False,
    }


def _jax_build(installed: List[JSON], plugin_names: Iterable[str]) -> JSON:
    jaxlib = next((i for i in installed if canonical(i["name"]) == "jaxlib"), None)
    wanted = set(plugin_names)
    plugins = []
    for info in installed:
        name = canonical(info["name"])
        match = JAX_PLUGIN.match(name)
        if match or name in wanted:
            backend = match.group(1) if match and match.group(1) else False
            major = int(match.group(2)) if match and match.group(2) else False
            if name == "jax-metal":
                backend = "metal"
            plugins.append(
                {
                    "name": info["name"],
                    "version": info["version"],
                    "backend": backend,
                    "major": major,
                }
            )
    return {"jaxlib": jaxlib["version"] if jaxlib else False, "plugins": plugins}


def grouped(effective: List[JSON], interesting: List[JSON]) -> JSON:
    """Installed interesting distributions by framework: each framework's distributions, and the
    ones that provide its build file (``providers``, full records)."""
    by_name = {}  # type: JSON
    for info in effective:  # the first copy on sys.path is the one that imports
        by_name.setdefault(canonical(info["name"]), info)
    result = {}  # type: JSON
    for entry in interesting:
        key = entry.get("framework")
        dist = by_name.get(canonical(str(entry.get("name", ""))))
        if key and dist:
            group = result.setdefault(key, {"distributions": [], "providers": []})
            group["distributions"].append({"name": dist["name"], "version": dist["version"]})
            if entry.get("import") == BUILD_FILES.get(key, (key, ""))[0]:
                group["providers"].append(dist)
    return result


def jax_build(installed: List[JSON], interesting: List[JSON]) -> JSON:
    """jaxlib and the JAX plugins installed, from the distributions alone (no file read)."""
    roles = [
        canonical(e["name"])
        for e in interesting
        if e.get("framework") == "jax" and e.get("role") == "accelerator-plugin"
    ]
    return _jax_build(installed, roles)


def frameworks(effective: List[JSON], interesting: List[JSON]) -> JSON:
    """Installed interesting distributions by framework, each framework with its build facts."""
    result = grouped(effective, interesting)
    for key, group in result.items():
        providers = group.pop("providers")
        if key in BUILD_FILES:
            group["build"] = _build_from_file(key, providers)
        elif key == "mindspore":
            group["build"] = _mindspore_build(providers)
        elif key == "oneflow":
            group["build"] = _oneflow_build(providers)
        elif key == "mxnet":
            group["build"] = _mxnet_build(providers)
        elif key == "jax":
            group["build"] = jax_build(effective, interesting)
        else:
            group["build"] = {}
    return result


# ---- across distributions ----------------------------------------------------------------------


def nvidia_matcher(prefixes: List[str], exclude: List[str]) -> Callable[[str], bool]:
    """Whether a distribution name is an NVIDIA library wheel (by prefix, minus the exclusions)."""
    starts = tuple(canonical(p) for p in prefixes)
    skip = {canonical(e) for e in exclude}
    # Up to its first separator a prefix is unchanged by canonical(): a name that does not start
    # with that (lower-cased) is no match, without normalising it (a few µs, times every
    # requirement of every distribution).
    heads = tuple(s.split("-", 1)[0] for s in starts)

    def is_nvidia_wheel(name: str) -> bool:
        if not starts or not (name or "").lower().startswith(heads):
            return False
        name = canonical(name)
        return name.startswith(starts) and name not in skip

    return is_nvidia_wheel


def nvidia_wheels(effective: List[JSON], is_nvidia_wheel: Callable[[str], bool]) -> List[JSON]:
    wheels = []
    for info in effective:
        if not is_nvidia_wheel(info["name"]):
            continue
        name = canonical(info["name"])
        match = CUDA_SUFFIX.search(name)
        component = CUDA_SUFFIX.sub("", name)
        component = component[len("nvidia-") :] if component.startswith("nvidia-") else component
        wheels.append(
            {
                "name": info["name"],
                "version": info["version"],
                "cuda_major": int(match.group(1)) if match else False,
                "component": component,
            }
        )
    return wheels


def nvidia_pins(effective: List[JSON], is_nvidia_wheel: Callable[[str], bool]) -> JSON:
    pins: JSON = {}
    for info in effective:
        for requirement in info["requires"]:
            match = REQUIREMENT_NAME.match(requirement)
            if match and is_nvidia_wheel(match.group(1)):
                pins.setdefault(info["name"], []).append(requirement)
    return pins


def duplicates(found: List[JSON]) -> List[JSON]:
    """Distributions present more than once (user site and venv, or a leftover dist-info)."""
    groups: Dict[str, List[JSON]] = {}
    for info in found:
        groups.setdefault(canonical(info["name"]), []).append(info)
    return [
        {
            "name": copies[0]["name"],
            "copies": [{"version": c["version"], "location": c["location"]} for c in copies],
        }
        for key, copies in groups.items()
        if key and len(copies) > 1
    ]


def _shared_files(module: str, file_lists: List[Optional[List[str]]]) -> Optional[int]:
    """Files under `module` that two distributions both install, namespace `__init__.py` aside."""
    if any(files is None for files in file_lists):
        return None
    seen: Dict[str, int] = {}
    for files in file_lists:
        mine = {
            p
            for p in files or ()
            if _top_of(p) == module and "__pycache__" not in p and p != module + "/__init__.py"
        }
        for path in mine:
            seen[path] = seen.get(path, 0) + 1
    return sum(1 for count in seen.values() if count > 1)


def module_conflicts(effective: List[Found]) -> List[JSON]:
    """Top-level modules that several distributions install files into (one overwrote the other).

    Namespace packages (`nvidia`, `google`) are shared by design: their distributions install
    disjoint files, so only overlapping files make a conflict.
    """
    providers: Dict[str, List[Found]] = {}
    for found in effective:
        for module in found.info["top_level"]:
            if module not in NOT_MODULES and module.isidentifier():
                providers.setdefault(module, []).append(found)
    conflicts = []
    for module, founds in providers.items():
        if len(founds) < 2:
            continue
        shared = _shared_files(module, [f.files() for f in founds])
        if shared != 0:
            names = [f.info["name"] for f in founds]
            conflicts.append({"module": module, "distributions": names, "shared_files": shared})
    return conflicts


def conda_owned(prefix: str, errors: List[str]) -> Set[str]:
    """Metadata directories that conda-meta/*.json record as installed by conda (normalised)."""
    meta = os.path.join(prefix, "conda-meta")
    try:
        names = sorted(n for n in os.listdir(meta) if n.endswith(".json"))
    except OSError:
        return set()
    owned = set()
    for name in names:
        text = _read_head(os.path.join(meta, name), 256 << 20)
        if text is None:
            errors.append("conda-meta/%s unreadable" % name)
            continue
        for match in CONDA_LISTED.finditer(text):
            owned.add(_normpath(os.path.join(prefix, *match.group(1).split("/"))))
    return owned


class PathDist:
    """A ``.dist-info``/``.egg-info`` on disk, read directly.

    importlib.metadata would do this too, but importing it pulls in the email package (~45 ms,
    a sixth of `dldoctor check`); the headers are parsed by ``_headers`` here anyway.
    """

    def __init__(self, path: str) -> None:
        self._path = path

    def read_text(self, name: str) -> Optional[str]:
        """A metadata file's text (UTF-8), or None if absent; undecodable text raises."""
        path = os.path.join(self._path, name) if name else self._path
        try:
            data = read_bytes(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        return data.decode("utf-8")

    @property
    def requires(self) -> List[str]:
        """requires.txt of an egg-info as Requires-Dist strings ([extra:marker] → markers)."""
        text = self.read_text("requires.txt") or ""
        out, extra, marker = [], "", ""
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                extra, _, marker = line[1:-1].partition(":")
                continue
            conditions = ["(%s)" % marker] if marker else []
            if extra:
                conditions.append('extra == "%s"' % extra)
            out.append(line + ("; " + " and ".join(conditions) if conditions else ""))
        return out


def _distributions_in(entry: str) -> List[PathDist]:
    """The distributions whose metadata sits directly in one sys.path directory."""
    try:
        names = sorted(os.listdir(entry))
    except OSError:  # not a directory (a zip, a missing path): nothing installed there
        return []
    return [
        PathDist(os.path.join(entry, n)) for n in names if n.endswith((".dist-info", ".egg-info"))
    ]


def _discover(search_path: List[str], errors: List[str]) -> Iterable[Tuple[Any, str]]:
    """(distribution, sys.path entry) for every distribution, in sys.path order."""
    seen = set()
    for entry in search_path:
        real = os.path.normcase(os.path.realpath(entry))
        if real in seen:  # the same directory twice on sys.path is not two copies
            continue
        seen.add(real)
        try:
            found = _distributions_in(entry)
        except Exception as exc:
            errors.append("%s: %s" % (entry, _reason(exc)))
            continue
        for dist in found:
            yield dist, entry


def package_facts(
    search_path: List[str], interesting: List[JSON], prefixes: List[str], exclude: List[str]
) -> JSON:
    """Every distribution on the search path, and what can be learnt about them without imports."""
    errors: List[str] = []
    owned = conda_owned(sys.prefix, errors)
    found = [describe(dist, entry, owned) for dist, entry in _discover(search_path, errors)]
    effective: List[Found] = []
    names: Set[str] = set()
    for each in found:  # the first copy on sys.path is the one that imports
        key = canonical(each.info["name"])
        if key not in names:
            names.add(key)
            effective.append(each)
    infos = [f.info for f in effective]
    is_nvidia_wheel = nvidia_matcher(prefixes, exclude)

    def get(key: str, read: Callable[[], Any], default: Any) -> Any:
        return _attempt(errors, key, read, default)

    return {
        "distributions": [f.info for f in found],
        "frameworks": get("frameworks", lambda: frameworks(infos, interesting), {}),
        "nvidia_wheels": get("nvidia_wheels", lambda: nvidia_wheels(infos, is_nvidia_wheel), []),
        "nvidia_pins": get("nvidia_pins", lambda: nvidia_pins(infos, is_nvidia_wheel), {}),
        "duplicates": get("duplicates", lambda: duplicates([f.info for f in found]), []),
        "module_conflicts": get("module_conflicts", lambda: module_conflicts(effective), []),
        "errors": errors,
    }


def gather(interesting: List[JSON], nvidia_prefixes: List[str], nvidia_exclude: List[str]) -> JSON:
    """{"python": ..., "packages": ...} for the running interpreter. Never raises."""
    search_path = _search_path(sys.path)
    python = python_facts(search_path)
    entries = [
        e for e in interesting or () if isinstance(e, dict) and isinstance(e.get("name"), str)
    ]
    packages = package_facts(
        search_path, entries, list(nvidia_prefixes or ()), list(nvidia_exclude or ())
    )
    pip = next((d for d in packages["distributions"] if canonical(d["name"]) == "pip"), None)
    python["pip_version"] = pip["version"] if pip else False  # False: no pip (None: unknown)
    return {"python": python, "packages": packages}


def main(argv: Optional[List[str]] = None) -> int:
    """`PYTHON -c <source> '{"interesting": [...], "nvidia_prefixes": [...], ...}'` → JSON."""
    args = sys.argv[1:] if argv is None else argv
    problems = []
    try:
        options = json.loads(args[0]) if args else {}
        if not isinstance(options, dict):
            raise ValueError("arguments must be a JSON object")
    except Exception as exc:
        options = {}
        problems.append("arguments: " + _reason(exc))
    result = gather(
        options.get("interesting") or [],
        options.get("nvidia_prefixes") or [],
        options.get("nvidia_exclude") or [],
    )
    result["packages"].setdefault("errors", []).extend(problems)
    sys.stdout.write(json.dumps(result, default=repr) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
