"""The copy of each CUDA library a framework really loaded (its probe child's /proc/self/maps)
against the copies its own packages ship (the library map: its RUNPATH's wheel or conda dirs)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from dldoctor.checks import runtime_common as rt
from dldoctor.checks import runtime_said as said
from dldoctor.checks.registry import NotApplicable, Unjudged, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.libscan import library_of
from dldoctor.facts.model import Facts
from dldoctor.fixes.library_path import shadowing_directory
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Fix, Severity

JSON = dict[str, Any]
# The framework's own search path: the RPATH/RUNPATH of its library ($ORIGIN/../../nvidia/...).
_OWN = ("rpath", "runpath")
# The signature checks that name a library's shadow themselves (one finding per root cause).
_SAID = ("DD611", "DD612")
# JAX names libraries by product; the loader by file.
_STEMS = {
    "cuda": "libcudart",
    "cublas": "libcublas",
    "cufft": "libcufft",
    "cusolver": "libcusolver",
    "cusparse": "libcusparse",
    "cupti": "libcupti",
    "nccl": "libnccl",
    "nvjitlink": "libnvJitLink",
    "nvrtc": "libnvrtc",
    "cudnn": "libcudnn",
}


@dataclass(frozen=True)
class Foreign:
    """A framework's copy of a library that is not one its own packages ship."""

    framework: str
    library: str  # key in compat_matrix/libraries.toml
    path: str  # the file loaded (observed) or the loader's pick (predicted)
    version: str | None
    own: tuple[JSON, ...]  # the copies on the framework's own RUNPATH
    via: str | None  # how the loader found it: LD_LIBRARY_PATH, ldconfig, default; None unknown
    directory: str | None  # the LD_LIBRARY_PATH entry it came through
    observed: bool

    @property
    def own_path(self) -> str | None:
        return str(self.own[0].get("path")) if self.own else None

    def evidence(self) -> JSON:
        return {
            "library": self.library,
            "loaded" if self.observed else "loader_pick": self.path,
            "loaded_version": self.version,
            "via": self.via,
            "LD_LIBRARY_PATH_entry": self.directory,
            "own_copies": [
                {k: c.get(k) for k in ("path", "version", "via") if k in c} for c in self.own
            ],
        }


def file_stem(library: str) -> str:
    """The loader's file stem of a library as a framework names it: "libnvJitLink.so.12" is
    libnvJitLink, JAX's "cuSPARSE" is libcusparse."""
    name = library.split(".so")[0]
    return _STEMS.get(name.lower(), name if name.startswith("lib") else "lib" + name)


def _stems(matrix: Matrix) -> dict[str, str]:
    return {str(row["file"]): str(row["key"]) for row in matrix.tables["libraries"]["library"]}


def mapped(record: JSON, matrix: Matrix) -> dict[str, JSON]:
    """The first mapped file of each library key (schema 1.3 names the key; older: the name)."""
    stems = _stems(matrix)
    found: dict[str, JSON] = {}
    for lib in record.get("libraries") or []:
        if not isinstance(lib, dict) or not isinstance(lib.get("path"), str):
            continue
        key = lib.get("library") or library_of(str(lib.get("name") or ""), stems)
        if isinstance(key, str):
            found.setdefault(key, lib)
    return found


def _ld_dirs(facts: Facts) -> list[str]:
    value = (facts.env.get("variables") or {}).get("LD_LIBRARY_PATH")
    return [posixpath.normpath(d) for d in str(value or "").split(":") if d.startswith("/")]


def foreign(
    facts: Facts, matrix: Matrix, framework: str, record: JSON, key: str, predict: bool = False
) -> Foreign | None:
    """The framework's copy of ``key`` when it is not its own: the mapped one, else (``predict``)
    the loader's first pick. None when it is its own, or unknown (no map, nothing loaded)."""
    candidates = q.library_candidates(facts, framework, key)
    if candidates is None:
        return None
    own = tuple(c for c in candidates if c.get("via") in _OWN)
    if not own:  # its packages ship none: the system's is the one meant
        return None
    lib = mapped(record, matrix).get(key)
    if lib is not None:
        path, version, observed = str(lib["path"]), lib.get("version"), True
    elif predict and candidates:
        path, version, observed = str(candidates[0].get("real") or ""), None, False
        version = candidates[0].get("version")
    else:
        return None
    if any(path in (c.get("real"), c.get("path")) for c in own):
        return None
    pick = next((c for c in candidates if path in (c.get("real"), c.get("path"))), None)
    via = pick.get("via") if pick else None
    directory = posixpath.dirname(str(pick["path"])) if pick and via == "LD_LIBRARY_PATH" else None
    if via is None and posixpath.dirname(path) in _ld_dirs(facts):
        via, directory = "LD_LIBRARY_PATH", posixpath.dirname(path)
    return Foreign(framework, key, path, version, own, via, directory, observed)


def fix(facts: Facts, found: Foreign, more: list[Foreign] | None = None) -> Fix:
    """Repair LD_LIBRARY_PATH when the copy came through it; else say where the copy is."""
    label = " and ".join(dict.fromkeys(rt.label(f.framework) for f in [found, *(more or [])]))
    if found.via == "LD_LIBRARY_PATH" and found.directory:
        paths = [f.path for f in [found, *(more or [])]]
        return shadowing_directory(facts, found.directory, paths, label, found.own_path)
    return Fix(
        f"{found.path} is loaded instead of the copy {label} ships ({found.own_path}): remove it "
        "from the loader's path (the ldconfig cache, /etc/ld.so.conf.d) or upgrade it to the "
        "version the framework pins."
    )


def _said_libraries(facts: Facts, matrix: Matrix) -> set[tuple[str, str]]:
    """(framework, library key) that DD611/DD612 report from the framework's own words."""
    stems = _stems(matrix)
    covered = set()
    for code in _SAID:
        for obs in said.observations(facts, matrix, code):
            if code == "DD611":  # cuDNN and every sub-library of it
                covered |= {(obs.framework, k) for k in stems.values() if k.startswith("cudnn")}
                continue
            for name in (obs.groups.get("provider"), obs.groups.get("library")):
                # By the same file stem DD612 judges it by: JAX names "cuSPARSE", not the file.
                key = library_of(file_stem(name) + ".so", stems) if name else None
                if key:
                    covered.add((obs.framework, key))
    return covered


def _title(facts: Facts, records: dict[str, JSON], group: list[Foreign]) -> str:
    names = list(dict.fromkeys(f.framework for f in group))
    who = " and ".join(rt.version_label(facts, n, records[n]) for n in names)
    where = f"from LD_LIBRARY_PATH ({group[0].directory}) " if group[0].directory else ""
    if len(group) == 1:
        own = f" ({group[0].own_path})" if group[0].own_path else ""
        return f"{who} loaded {group[0].path} {where}instead of its own copy{own}"
    files = list(dict.fromkeys(posixpath.basename(f.path) for f in group))
    shown = ", ".join(files[:4]) + (", …" if len(files) > 4 else "")
    their = "their" if len(names) > 1 else "its"
    return (
        f"{who} loaded {len(files)} CUDA libraries {where}instead of {their} own copies ({shown})"
    )


@check(
    "DD619",
    "cuda-library-from-elsewhere",
    "A framework loaded a CUDA library from outside its own packages (observed)",
    Area.CUDA,
)
def library_from_elsewhere(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: a framework's probe child mapped a CUDA library (cuDNN, cuBLASLt, nvJitLink,
    NCCL...) from another place than the copies its own packages ship (its wheel's nvidia/*/lib,
    torch/lib, the conda environment), for example /usr/local/cuda/lib64/libnvJitLink.so.12
    through LD_LIBRARY_PATH instead of its nvidia-nvjitlink wheel.

    Why: the dynamic loader searches LD_LIBRARY_PATH before a library's RUNPATH, so a system
    CUDA there shadows the versions the framework was built and tested with; it works until one
    of them is older than what another library needs ("undefined symbol", "cuDNN version
    incompatibility"), often only in the first convolution.

    Fix: take the directory out of LD_LIBRARY_PATH (the evidence names it and both copies).
    """
    records = rt.probed(facts)
    covered = _said_libraries(facts, matrix)
    mapped_frameworks = ((facts.cuda.get("library_map") or {}).get("frameworks")) or {}
    verdicts: list[Verdict | Unjudged] = []
    groups: dict[tuple[str | None, str | None], list[Foreign]] = {}
    loaded_any = False
    anchored = {str(a["framework"]) for a in matrix.tables["libraries"]["anchor"]}
    for framework, record in records.items():
        if framework not in anchored:  # Keras: its libraries are its backend's, judged there
            continue
        loaded = mapped(record, matrix)
        loaded_any = loaded_any or bool(loaded)
        if loaded and framework not in mapped_frameworks:  # its own copies are unknown
            verdicts.append(Unjudged(framework, f"cuda.library_map.frameworks.{framework}"))
            continue
        for key in loaded:
            found = None
            if (framework, key) not in covered:
                found = foreign(facts, matrix, framework, record, key)
            if found is not None:  # one finding per place the copies came from
                groups.setdefault((found.via, found.directory), []).append(found)
    if not loaded_any:
        raise NotApplicable("no probed framework loaded a CUDA library (CPU builds, or no GPU)")
    for group in groups.values():
        names = list(dict.fromkeys(f.framework for f in group))
        evidence: JSON = {"cause": "library-from-elsewhere", "frameworks": names}
        if len(names) == 1:
            evidence["framework"] = names[0]
        evidence["libraries"] = [f.evidence() | {"framework": f.framework} for f in group]
        verdicts.append(
            Verdict(
                Severity.WARNING,
                _title(facts, records, group),
                evidence,
                (fix(facts, group[0], group[1:]),),
            )
        )
    return verdicts
