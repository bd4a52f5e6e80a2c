"""Build readiness: can this machine compile CUDA extensions for the installed torch?

Judged only where a build is coming: ``dldoctor check --build`` asked, or an installed extension
builds here (DeepSpeed's ops compile at first use; apex or flash-attn without their compiled
modules; an extension installed from a directory or a VCS checkout). The rules are
torch.utils.cpp_extension's, which those builds use.
"""

from __future__ import annotations

from typing import Any

from packaging.version import Version

from dldoctor.checks.extensions import extensions
from dldoctor.checks.registry import NotApplicable, Unjudged, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import known, need
from dldoctor.facts.model import Facts
from dldoctor.fixes import build as fb
from dldoctor.fixes import extensions as fx
from dldoctor.matrix import Matrix, minor_of
from dldoctor.model import Area, Severity

JSON = dict[str, Any]


def building(facts: Facts, matrix: Matrix) -> list[str]:
    """Why a build is coming: 'asked (--build)', 'deepspeed 0.16.0 (ops JIT-compiled)'..."""
    why = ["asked (--build)"] if known(facts, "cuda.build_tools.requested") else []
    for ext in extensions(facts) if known(facts, "packages.extensions") else []:
        spec = fx.spec_of(matrix, str(ext.get("key")))
        modules = ext.get("modules")
        origin = ext.get("origin") or {}
        if spec.get("ops") == "jit" and modules == []:
            why.append(f"{ext['key']} {ext.get('version')} (its ops are compiled at first use)")
        elif spec.get("ops") == "required" and modules == [] and spec.get("rebuild") != "wheel":
            why.append(f"{ext['key']} {ext.get('version')} (to be rebuilt with its extensions)")
        elif isinstance(origin, dict) and origin.get("kind") in ("directory", "vcs"):
            why.append(f"{ext['key']} {ext.get('version')} (built from a {origin['kind']})")
    return why


def _ready(facts: Facts, matrix: Matrix) -> tuple[list[str], JSON, str]:
    """(why a build is coming, the build tools, torch's CUDA); NotApplicable when none is."""
    why = building(facts, matrix)
    if not why:
        raise NotApplicable("nothing is being built (dldoctor check --build asks)")
    tools = need(facts, "cuda.build_tools")
    if q.installed(facts, "torch") is None:
        raise NotApplicable("torch is not installed")
    cuda = need(facts, "packages.frameworks.torch.build.cuda")
    if cuda is False:
        raise NotApplicable("torch is a CPU-only build: CUDA extensions are not built for it")
    return why, tools, str(cuda)


@check(
    "DD530",
    "build-nvcc-mismatch",
    "No nvcc, or an nvcc of another CUDA major than torch's, for a CUDA extension build",
    Area.CUDA,
)
def build_nvcc_mismatch(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: a CUDA extension is to be built, and CUDA_HOME's toolkit has no nvcc, or its nvcc
    is of another CUDA major than torch.version.cuda (another minor: a warning).

    Why: torch.utils.cpp_extension stops ("The detected CUDA version (X) mismatches the version
    that was used to compile PyTorch (Y)") for another major and warns for another minor; with
    no nvcc nothing compiles ("CUDA_HOME environment variable is not set").

    Fix: point CUDA_HOME at an installed toolkit of torch's CUDA version, or install one.
    """
    why, tools, cuda = _ready(facts, matrix)
    nvcc = tools.get("nvcc")
    evidence = {"building": why, "cuda_home": tools.get("cuda_home"), "torch_cuda": cuda}
    if nvcc is None:
        return [Unjudged("nvcc", "cuda.build_tools.nvcc")]
    fixes = (fb.toolkit_for(facts, cuda),)
    if nvcc is False:
        return [
            Verdict(
                Severity.ERROR,
                f"No nvcc to build CUDA extensions for torch's CUDA "
                f"{cuda} (CUDA_HOME: {tools.get('cuda_home') or 'none found'})",
                evidence=evidence,
                fixes=fixes,
            )
        ]
    version = q.version_of(tools.get("nvcc_version"))
    if version is None:
        return [Unjudged("nvcc", "cuda.build_tools.nvcc_version")]
    wanted = q.version_of(cuda)
    if wanted is None or minor_of(str(version)) == minor_of(cuda):
        return []
    evidence["nvcc_version"] = str(version)
    if version.major != wanted.major:
        return [
            Verdict(
                Severity.ERROR,
                f"nvcc {version} (CUDA {version.major}) cannot build "
                f"extensions for torch's CUDA {cuda}: another CUDA major",
                evidence=evidence,
                fixes=fixes,
            )
        ]
    return [
        Verdict(
            Severity.WARNING,
            f"nvcc {version} builds extensions for torch's CUDA {cuda}"
            " with another minor version (torch warns; it usually works)",
            evidence=evidence,
            fixes=fixes,
        )
    ]


@check(
    "DD531",
    "build-host-compiler-too-new",
    "The host compiler is newer than this nvcc supports",
    Area.CUDA,
)
def build_host_compiler_too_new(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: the GCC nvcc would use (CC, else gcc on PATH) is of a major newer than this CUDA
    release accepts: its own crt/host_config.h, else NVIDIA's host compiler support table.

    Why: every .cu file stops with "unsupported GNU version! gcc versions later than N are not
    supported!".

    Fix: install that GCC (or older) and set CC to it for the build.
    """
    why, tools, _ = _ready(facts, matrix)
    compiler = tools.get("host_compiler")
    if not compiler or not tools.get("nvcc"):
        return []  # no nvcc: DD530 says so
    if compiler.get("path") is False:
        return [
            Verdict(
                Severity.ERROR,
                f"No host compiler ({compiler.get('command')}) for "
                "nvcc: CUDA extensions cannot be built",
                evidence={"building": why},
                fixes=(fb.compiler(facts, None),),
            )
        ]
    if compiler.get("kind") != "gcc":
        return []  # clang's bounds are not in the matrix: nothing claimed
    version = q.version_of(compiler.get("version"))
    if version is None:
        return [Unjudged("the host compiler", "cuda.build_tools.host_compiler.version")]
    limit, source = tools.get("host_gcc_max"), "crt/host_config.h"
    if not isinstance(limit, int):
        row = _gcc_row(matrix, tools.get("nvcc_version"))
        if row is None:
            return [Unjudged("nvcc's host compiler range", "cuda.build_tools.host_gcc_max")]
        limit, source = int(row["gcc_max"]), f"extensions.toml host_gcc CUDA {row['cuda']}"
    if version.major <= limit:
        return []
    return [
        Verdict(
            Severity.ERROR,
            f"gcc {version} is newer than nvcc {tools.get('nvcc_version')} accepts (GCC {limit} "
            "at most): CUDA extensions will not compile",
            evidence={"building": why, "compiler": compiler, "gcc_max": limit, "rule": source},
            fixes=(fb.compiler(facts, limit),),
        )
    ]


def _gcc_row(matrix: Matrix, nvcc: Any) -> JSON | None:
    """The host_gcc row of nvcc's CUDA release, else of the newest release before it."""
    version = q.version_of(nvcc)
    if version is None:
        return None
    rows = [r for r in matrix.tables["extensions"]["host_gcc"] if Version(r["cuda"]) <= version]
    same_major = [r for r in rows if Version(r["cuda"]).major == version.major]
    return same_major[-1] if same_major else None


@check(
    "DD532",
    "build-cuda-home-elsewhere",
    "CUDA_HOME is unset or points elsewhere than the toolkit of the nvcc on PATH",
    Area.CUDA,
)
def build_cuda_home_elsewhere(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: CUDA_HOME (or CUDA_PATH) names no toolkit directory, or a toolkit other than the
    one whose nvcc is on PATH.

    Why: torch builds with CUDA_HOME's nvcc, headers and libraries while other tools (CMake,
    a plain nvcc) use PATH's: two CUDA versions in one build give link errors.

    Fix: set CUDA_HOME to one toolkit and put its bin/ first on PATH.
    """
    why, tools, cuda = _ready(facts, matrix)
    chosen = tools.get("cuda_home_chosen_by")
    nvcc_path = known(facts, "cuda.nvcc_on_path")
    home = tools.get("cuda_home")
    evidence = {"building": why, "cuda_home": home, "chosen_by": chosen, "nvcc_on_path": nvcc_path}
    if chosen in ("CUDA_HOME", "CUDA_PATH") and not tools.get("nvcc"):
        return [
            Verdict(
                Severity.ERROR,
                f"{chosen}={home} has no bin/nvcc: torch will not find a CUDA compiler",
                evidence=evidence,
                fixes=(fb.toolkit_for(facts, cuda),),
            )
        ]
    toolkit = nvcc_path.get("toolkit_path") if isinstance(nvcc_path, dict) else None
    if (
        chosen in ("CUDA_HOME", "CUDA_PATH")
        and toolkit
        and q.canonical(str(toolkit)) != q.canonical(str(home))
    ):
        return [
            Verdict(
                Severity.WARNING,
                f"{chosen}={home} but the nvcc on PATH is {toolkit}'s: a build mixes two toolkits",
                evidence=evidence,
                fixes=(fb.toolkit_for(facts, cuda),),
            )
        ]
    return []


@check(
    "DD533", "build-without-ninja", "ninja is not on PATH for a C++/CUDA extension build", Area.CUDA
)
def build_without_ninja(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: an extension is to be built and no ``ninja`` is on PATH.

    Why: torch.utils.cpp_extension falls back to the slow serial setuptools build ("Attempted to
    use ninja as the BuildExtension backend but we could not find ninja"); JIT-built ops
    (DeepSpeed's, torch.utils.cpp_extension.load) need ninja and fail without it.

    Fix: install ninja (pip install ninja) in the environment on PATH.
    """
    why, tools, _ = _ready(facts, matrix)
    if tools.get("ninja") is None:
        return [Unjudged("ninja", "cuda.build_tools.ninja")]
    if tools["ninja"]:
        return []
    jit = any("first use" in w for w in why)
    return [
        Verdict(
            Severity.ERROR if jit else Severity.WARNING,
            "No ninja on PATH: "
            + (
                "JIT-compiled ops will fail to build"
                if jit
                else "extensions build slowly, one file at a time"
            ),
            evidence={"building": why},
            fixes=(fb.ninja(facts),),
        )
    ]


@check(
    "DD534",
    "build-without-python-headers",
    "Python's headers (Python.h) are missing for a C/C++ extension build",
    Area.PYTHON,
)
def build_without_python_headers(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: an extension is to be built and this Python's include directory has no Python.h.

    Why: every C/C++ extension includes it: "fatal error: Python.h: No such file or directory".

    Fix: install the Python development headers (the python3.X-dev or python3-devel package).
    """
    why, _, _ = _ready(facts, matrix)
    if need(facts, "python.headers"):
        return []
    version = minor_of(str(facts.python.get("version") or ""))
    return [
        Verdict(
            Severity.ERROR,
            "Python.h is missing: C/C++ extensions cannot be built",
            evidence={"building": why, "python": facts.python.get("version")},
            fixes=(fb.python_headers(version),),
        )
    ]
