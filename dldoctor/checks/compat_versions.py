"""Version compatibility between Python packages: JAX's trio, NumPy 2, Python, Keras, retirees."""

from __future__ import annotations

from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dldoctor.checks.registry import NotApplicable, Unjudged, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import Unknown, need, need_value
from dldoctor.facts.model import Facts
from dldoctor.fixes import runtime as fixes_runtime
from dldoctor.fixes.installers import Install
from dldoctor.fixes.intents import fix
from dldoctor.fixes.runtime import jax_pieces
from dldoctor.matrix import Matrix, minor_of
from dldoctor.model import Area, Fix, Intent, Severity


def _version(facts: Facts, name: str) -> Version | None:
    """The installed version; None when not installed; Unknown when installed but unknown."""
    dist = q.installed(facts, name)
    if dist is None:
        return None
    return need_value(q.version_of(dist.get("version")), f"the version of {name}")


def _public(version: Version) -> Version:
    return q.public_of(str(version)) or version


def _written(facts: Facts, name: str) -> str:
    """An installed distribution's version as its metadata writes it (shown, never re-rendered)."""
    return str((q.installed(facts, name) or {}).get("version") or "")


@check(
    "DD506",
    "jax-version-mismatch",
    "jax, jaxlib and the CUDA plugin versions do not fit together",
    Area.FRAMEWORKS,
)
def jax_version_mismatch(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: jaxlib is newer than jax, or a CUDA plugin (jax-cudaNN-plugin/-pjrt) has another
    version than jaxlib.

    Why: JAX refuses to start ("jaxlib version X is newer than and incompatible with jax
    version Y") or silently ignores the plugin and runs on the CPU.

    Fix: install jax with its CUDA extra at one version: every piece follows.
    """
    jax, jaxlib = _version(facts, "jax"), _version(facts, "jaxlib")
    if jax is None or jaxlib is None:
        raise NotApplicable("jax or jaxlib not installed")
    # A local label ("+cuda11.cudnn86") names the build, not the release: never compared.
    jax, jaxlib = _public(jax), _public(jaxlib)
    verdicts: list[Verdict | Unjudged] = []
    problems = []
    if jaxlib > jax:
        problems.append(
            f"jaxlib {_written(facts, 'jaxlib')} is newer than jax {_written(facts, 'jax')}"
        )
    plugins = ((q.framework(facts, "jax") or {}).get("build") or {}).get("plugins") or []
    for plugin in plugins:
        version = q.public_of(plugin.get("version"))
        if plugin.get("backend") == "cuda" and version is None:
            verdicts.append(Unjudged(str(plugin.get("name")), "its version"))
        elif plugin.get("backend") == "cuda" and version != jaxlib:
            problems.append(
                f"{plugin['name']} {plugin['version']} differs from jaxlib {_written(facts, 'jaxlib')}"
            )
    if not problems:
        return verdicts
    majors = sorted(
        {p.get("major") for p in plugins if p.get("backend") == "cuda" and p.get("major")}
    )
    extra = f"[cuda{majors[-1]}]" if majors else ""
    # Without a plugin, `pip install jax==V` leaves jaxlib as it is: jaxlib itself is pinned.
    remedy = (
        fix(
            f"Reinstall jax{extra} at one version.",
            Install((f"jax{extra}=={_written(facts, 'jax')}",)),
            facts=facts,
        )
        if majors
        else jax_pieces(facts)
    )
    return [
        *verdicts,
        Verdict(
            Severity.ERROR,
            "JAX's pieces do not match: " + "; ".join(problems),
            evidence={
                "jax": _written(facts, "jax"),
                "jaxlib": _written(facts, "jaxlib"),
                "plugins": plugins,
                "rule": matrix.tables["jax"]["versioning_source"],
            },
            fixes=(remedy,) if remedy else (),
        ),
    ]


_NUMPY2 = (  # (distribution, matrix table, label)
    ("torch", "pytorch", "PyTorch"),
    ("tensorflow", "tensorflow", "TensorFlow"),
    ("tensorflow-cpu", "tensorflow", "TensorFlow"),
    ("jaxlib", "jax", "jaxlib"),
    ("onnxruntime", "onnxruntime", "ONNX Runtime"),
    ("onnxruntime-gpu", "onnxruntime", "ONNX Runtime"),
)


@check(
    "DD507",
    "numpy2-with-numpy1-build",
    "NumPy 2 is installed beside a framework built against NumPy 1",
    Area.PACKAGES,
)
def numpy2_with_numpy1_build(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: NumPy 2 is installed and a framework release compiled against NumPy 1 is too.

    Why: importing it prints "A module that was compiled using NumPy 1.x cannot be run in
    NumPy 2.x" and fails with "_ARRAY_API not found" or crashes.

    Fix: install "numpy<2", or upgrade the framework to a release built for NumPy 2.
    """
    numpy = _version(facts, "numpy")
    if numpy is None or numpy.major < 2:
        raise NotApplicable("NumPy 2 is not installed")
    verdicts: list[Verdict | Unjudged] = []
    for name, table, label in _NUMPY2:
        try:
            version = _version(facts, name)
        except Unknown as unknown:
            verdicts.append(Unjudged(name, unknown.path))
            continue
        doc = matrix.torch if table == "pytorch" else matrix.tables[table]
        since = q.version_of(doc.get("numpy2_since"))
        if version is None or since is None or version >= since:
            continue
        verdicts.append(
            _numpy_verdict(
                facts,
                label,
                name,
                _written(facts, name),
                _written(facts, "numpy"),
                str(doc["numpy2_since"]),
                doc.get("numpy2_source", ""),
            )
        )
    for row in matrix.tables["retired"].get("framework", []):
        dist = q.installed(facts, row["distribution"])
        if dist and "numpy" in row.get("note", "").lower() and dist.get("version"):
            verdicts.append(
                _numpy_verdict(
                    facts,
                    row["distribution"],
                    row["distribution"],
                    dist["version"],
                    _written(facts, "numpy"),
                    None,
                    row["source"],
                )
            )
    return verdicts


def _numpy_verdict(
    facts: Facts, label: str, name: str, version: str, numpy: str, since: str | None, source: str
) -> Verdict:
    fixes = [
        fix("Keep NumPy 1 for this framework.", Install(("numpy<2",)), facts=facts, automatic=True)
    ]
    if since:
        fixes.append(
            fix(
                f"Or upgrade {name} to {since} or newer (built for NumPy 2).",
                Install((f"{name}>={since}",)),
                facts=facts,
                automatic=False,
            )
        )
    return Verdict(
        Severity.ERROR,
        f"{label} {version} was built against NumPy 1 but NumPy {numpy} is installed: its import fails "
        'with "_ARRAY_API not found"',
        evidence={
            "distribution": name,
            "version": version,
            "numpy": numpy,
            "numpy2_since": since,
            "source": source,
        },
        fixes=tuple(fixes),
    )


# (distributions, matrix table, whether its rows are version ranges rather than release lines)
_RELEASE_TABLES = (
    (("tensorflow", "tensorflow-cpu"), "tensorflow", False),
    (("jax",), "jax", True),
    (("paddlepaddle", "paddlepaddle-gpu"), "paddle", False),
)


def _python_ranges(facts: Facts, matrix: Matrix) -> list[tuple[str, str, SpecifierSet, str]]:
    """(label, version, supported Python range, matrix row) for each installed framework release."""
    found: list[tuple[str, str, SpecifierSet, str]] = []
    torch = q.installed(facts, "torch")
    release = matrix.torch_release(torch["version"]) if torch else None
    if torch and release:
        found.append(
            ("torch", torch["version"], release.python, f"pytorch.toml release {release.torch}")
        )
    for names, table, ranged in _RELEASE_TABLES:
        for name in names:
            dist = q.installed(facts, name)
            if not dist:
                continue
            lookup = matrix.rows_matching if ranged else matrix.row_for
            row = lookup(table, table, dist["version"])
            if row:
                python = SpecifierSet(row["python"])
                found.append((name, dist["version"], python, f"{table}.toml release {row[table]}"))
    return found


@check(
    "DD508",
    "python-unsupported",
    "The Python version is outside what a framework release supports",
    Area.PYTHON,
)
def python_unsupported(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: a framework release is installed under a Python version its maintainers do not
    build or test for.

    Why: no official wheel exists for it, so what is installed was built elsewhere or forced in;
    imports and extensions fail in ways nobody else reproduces.

    Fix: use a Python the release supports (a new environment), or a release that supports this
    Python.
    """
    written = str(facts.python.get("version") or "")
    version = need_value(q.version_of(written), "python.version")
    verdicts = []
    for label, release, supported, row in _python_ranges(facts, matrix):
        if supported.contains(version, prereleases=True):
            continue
        verdicts.append(
            Verdict(
                Severity.WARNING,
                f"{label} {release} supports Python {supported}, not Python {written}",
                evidence={
                    "distribution": label,
                    "version": release,
                    "python": written,
                    "supported": str(supported),
                    "matrix_row": row,
                },
                fixes=(
                    Fix(
                        f"Create an environment with a Python in {supported} for {label} {release}, "
                        f"or install a {label} release that supports Python {version.major}.{version.minor}."
                    ),
                ),
            )
        )
    return verdicts


def _tf(facts: Facts) -> dict[str, Any] | None:
    return q.installed(facts, "tensorflow") or q.installed(facts, "tensorflow-cpu")


@check(
    "DD509",
    "keras-mismatch",
    "Keras 3, tf-keras and the backend do not fit together",
    Area.FRAMEWORKS,
)
def keras_mismatch(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: TF_USE_LEGACY_KERAS=1 without tf-keras installed; tf-keras of another minor than
    TensorFlow; or Keras 3 with a backend older than it supports.

    Why: from TensorFlow 2.16, tf.keras is Keras 3 unless tf-keras is installed and enabled;
    code written for Keras 2 breaks, and a mismatched tf-keras fails at import.

    Fix: install tf-keras of TensorFlow's minor version (and set TF_USE_LEGACY_KERAS=1), or
    upgrade the Keras backend.
    """
    verdicts: list[Verdict | Unjudged] = []
    tf = _tf(facts)
    tf_keras = q.installed(facts, "tf-keras")
    legacy = (facts.env.get("variables") or {}).get("TF_USE_LEGACY_KERAS") in ("1", "true", "True")
    keras_rules = matrix.tables["keras"]
    if tf and not tf.get("version"):
        return [Unjudged("tensorflow", "its version")]
    if tf:
        tf_minor = minor_of(tf["version"])
        pin = f"tf-keras~={tf_minor}.0"
        if legacy and not tf_keras:
            verdicts.append(
                Verdict(
                    Severity.ERROR,
                    f"TF_USE_LEGACY_KERAS=1 asks TensorFlow {tf['version']} for Keras 2, but tf-keras is not installed",
                    evidence={
                        "tensorflow": tf["version"],
                        "source": keras_rules["tf_keras_source"],
                    },
                    fixes=(
                        fix(
                            f"Install tf-keras {tf_minor}.",
                            Install((pin,)),
                            facts=facts,
                            automatic=True,
                        ),
                    ),
                )
            )
        if tf_keras and minor_of(tf_keras["version"]) != tf_minor:
            verdicts.append(
                Verdict(
                    Severity.ERROR,
                    f"tf-keras {tf_keras['version']} does not match TensorFlow {tf['version']} (their minor versions must agree)",
                    evidence={
                        "tensorflow": tf["version"],
                        "tf_keras": tf_keras["version"],
                        "source": keras_rules["tf_keras_source"],
                    },
                    fixes=(
                        fix(
                            f"Install tf-keras {tf_minor}.",
                            Install((pin,)),
                            facts=facts,
                            automatic=True,
                        ),
                    ),
                )
            )
    keras = q.version_of((q.installed(facts, "keras") or {}).get("version"))
    if keras is not None and keras.major >= 3:
        backend = (facts.env.get("variables") or {}).get("KERAS_BACKEND", "tensorflow")
        rule = next((b for b in keras_rules.get("backends", []) if b["backend"] == backend), None)
        dist = (
            (
                q.installed(facts, "tensorflow-cpu")
                if backend == "tensorflow" and not q.installed(facts, "tensorflow")
                else q.installed(facts, rule["distribution"])
            )
            if rule
            else None
        )
        have = q.version_of((dist or {}).get("version"))
        if rule and have is not None and have < Version(rule["min"]):
            verdicts.append(
                Verdict(
                    Severity.ERROR,
                    f"Keras {_written(facts, 'keras')} needs {rule['distribution']} {rule['min']} or newer as its "
                    f"{backend} backend; {(dist or {}).get('version')} is installed",
                    evidence={
                        "keras": _written(facts, "keras"),
                        "backend": backend,
                        "backend_distribution": (dist or {}).get("name"),
                        "installed": (dist or {}).get("version"),
                        "minimum": rule["min"],
                        "source": keras_rules["source"],
                    },
                    fixes=(
                        fix(
                            f"Upgrade {rule['distribution']}.",
                            Install((f"{rule['distribution']}>={rule['min']}",)),
                            facts=facts,
                            automatic=True,
                        ),
                    ),
                )
            )
    return verdicts


@check(
    "DD510", "retired-framework", "A retired, unmaintained framework is installed", Area.FRAMEWORKS
)
def retired_framework(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: MXNet, CNTK, Theano or Caffe is installed.

    Why: they get no builds for new CUDA releases, GPUs, Python or NumPy 2; what works today
    breaks with the next upgrade of anything around them.

    Fix: a maintained alternative per use (MXNet: GluonTS's PyTorch models, AutoGluon 1.0, the
    model exported to ONNX for ONNX Runtime, training code ported to PyTorch); pin everything
    around it meanwhile.
    """
    need(facts, "packages.distributions")
    verdicts = []
    for row in matrix.tables["retired"].get("framework", []):
        dist = q.installed(facts, row["distribution"]) or _variant(facts, row["distribution"])
        if dist:
            verdicts.append(
                Verdict(
                    Severity.WARNING,
                    f"{dist['name']} {dist.get('version') or '(version unknown)'} is retired: "
                    f"{row['note']}",
                    evidence={
                        "distribution": dist["name"],
                        "version": dist["version"],
                        "source": row["source"],
                    },
                    fixes=_meanwhile(facts, row)
                    + _alternatives(facts, matrix, row["distribution"]),
                )
            )
    return verdicts


_NUMPY_BELOW = {"1.24": fixes_runtime.numpy_below_1_24, "2": fixes_runtime.numpy_below_2}


def _meanwhile(facts: Facts, row: dict) -> tuple[Fix, ...]:
    """What keeps the retired framework importable until the move: the NumPy below which its
    last release still runs (retired.toml ``numpy_below``), where the installed one is not."""
    below = row.get("numpy_below")
    numpy = q.version_of((q.installed(facts, "numpy") or {}).get("version"))
    # A pre-release of the bound (1.24.0rc1) already lacks the aliases: "<1.24" excludes it.
    if not below or numpy is None or SpecifierSet(f"<{below}").contains(numpy, prereleases=True):
        return ()
    return (_NUMPY_BELOW[str(below)](facts),)


def _alternatives(facts: Facts, matrix: Matrix, key: str) -> tuple[Fix, ...]:
    """What to move to, per use (retired.toml's alternatives): the rows whose ``when``
    distribution is installed, and those for every installation."""
    rows = [r for r in matrix.tables["retired"].get("alternative", []) if r["framework"] == key]
    chosen = [r for r in rows if not r.get("when") or q.installed(facts, r["when"])]
    meanwhile = Fix(
        "Until then, pin the packages around it (NumPy, CUDA) to the versions it was built with."
    )
    if not chosen:
        return (
            Fix(
                "Move to a maintained framework (PyTorch, JAX, TensorFlow); until then pin the "
                "packages around it (NumPy, CUDA) to versions it was built with."
            ),
        )
    moves = [
        fix(
            f"{row['use'][0].upper()}{row['use'][1:]}: {row['advice']}",
            *(Intent.from_dict(i) for i in row.get("intents", [])),
            facts=facts,
            automatic=False,  # a move to another framework is the user's decision
            notes=f"Source: {row['source']}",
        )
        for row in chosen
    ]
    return (*moves, meanwhile)


def _variant(facts: Facts, key: str) -> dict | None:
    """The first installed distribution of framework ``key`` (mxnet-cu117 for mxnet), or None."""
    frame = q.framework(facts, key) or {}
    found = [d for d in frame.get("distributions") or [] if isinstance(d, dict) and d.get("name")]
    return found[0] if found else None
