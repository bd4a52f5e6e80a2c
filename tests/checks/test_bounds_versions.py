"""Version ranges at their edges (DD506-DD512, DD202), every bound read from the matrix row."""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dldoctor.checks import builds, compat_platform, compat_versions
from dldoctor.checks.registry import NotApplicable, Unjudged
from dldoctor.matrix import load
from dldoctor.model import Severity
from tests.checks.bounds import above, around, below, machine, spec_edges, windows
from tests.checks.scenarios import dist, make_facts, shown_all, with_packages

MATRIX = load()


def severities(verdicts) -> list[Severity]:
    return [v.severity for v in verdicts]


# DD506 jax, jaxlib and the plugin


def jax_trio(jax: str, jaxlib: str, plugin: str | None) -> dict:
    plugins = [{"name": "jax-cuda13-plugin", "version": plugin, "backend": "cuda", "major": 13}]
    return with_packages(
        dist("jax", jax),
        dist("jaxlib", jaxlib),
        frameworks={"jax": {"distributions": [], "build": {"plugins": plugins if plugin else []}}},
    )


@pytest.mark.parametrize("jaxlib", around("0.10.2"))
def test_jaxlib_is_judged_against_jax_at_below_and_above(jaxlib):
    verdicts = compat_versions.jax_version_mismatch(
        make_facts(jax_trio("0.10.2", jaxlib, None)), MATRIX
    )
    newer = Version(jaxlib) > Version("0.10.2")
    assert severities(verdicts) == ([Severity.ERROR] if newer else [])
    if newer:
        assert (
            verdicts[0].title
            == f"JAX's pieces do not match: jaxlib {jaxlib} is newer than jax 0.10.2"
        )


@pytest.mark.parametrize("plugin", around("0.10.2"))
def test_a_plugin_of_any_other_version_than_jaxlib_is_flagged(plugin):
    verdicts = compat_versions.jax_version_mismatch(
        make_facts(jax_trio("0.10.2", "0.10.2", plugin)), MATRIX
    )
    assert severities(verdicts) == ([] if plugin == "0.10.2" else [Severity.ERROR])
    if verdicts:
        assert f"jax-cuda13-plugin {plugin} differs from jaxlib 0.10.2" in verdicts[0].title
        assert shown_all(verdicts[0].fixes[0]) == (
            "/env/bin/python -m pip install 'jax[cuda13]==0.10.2'",
        )


def test_jax_versions_are_shown_as_written():
    (verdict,) = compat_versions.jax_version_mismatch(
        make_facts(jax_trio("0.4.30", "0.4.31", "0.04.30")), MATRIX
    )
    assert "jax-cuda13-plugin 0.04.30 differs from jaxlib 0.4.31" in verdict.title


# DD507 NumPy 2 beside a NumPy 1 build

NUMPY2 = [  # the distributions whose NumPy 2 rule lives in a matrix file
    ("torch", MATRIX.torch),
    ("tensorflow", MATRIX.tables["tensorflow"]),
    ("tensorflow-cpu", MATRIX.tables["tensorflow"]),
    ("jaxlib", MATRIX.tables["jax"]),
    ("onnxruntime", MATRIX.tables["onnxruntime"]),
    ("onnxruntime-gpu", MATRIX.tables["onnxruntime"]),
]


@pytest.mark.parametrize(("name", "doc"), NUMPY2, ids=[n for n, _ in NUMPY2])
def test_numpy2_rule_at_below_and_above_the_first_numpy2_release(name, doc):
    since = doc["numpy2_since"]
    for version in around(since):
        facts = make_facts(with_packages(dist("numpy", "2.0.0"), dist(name, version)))
        verdicts = compat_versions.numpy2_with_numpy1_build(facts, MATRIX)
        old = Version(version) < Version(since)
        assert severities(verdicts) == ([Severity.ERROR] if old else []), (name, version)
        for verdict in verdicts:
            assert verdict.evidence == {
                "distribution": name,
                "version": version,
                "numpy": "2.0.0",
                "numpy2_since": since,
                "source": doc["numpy2_source"],
            }
            assert verdict.title.endswith(
                f" {version} was built against NumPy 1 but NumPy 2.0.0 is installed: its import "
                'fails with "_ARRAY_API not found"'
            )
            keep, upgrade = verdict.fixes  # NumPy 1 may be applied; the upgrade is a choice
            assert (keep.summary, keep.automatic) == ("Keep NumPy 1 for this framework.", True)
            assert [i.requirements for i in keep.intents] == [("numpy<2",)]
            assert upgrade.summary == f"Or upgrade {name} to {since} or newer (built for NumPy 2)."
            assert upgrade.automatic is False
            assert [i.requirements for i in upgrade.intents] == [(f"{name}>={since}",)]


def test_numpy_just_below_2_is_not_judged():
    with pytest.raises(NotApplicable):
        compat_versions.numpy2_with_numpy1_build(
            make_facts(with_packages(dist("numpy", "1.26.4"), dist("torch", "2.2.0"))), MATRIX
        )


# DD508 Python outside a release's range


def python_cases():
    for release in MATRIX.torch_releases:
        yield "torch", f"{release.torch}.0", release.python
    for row in MATRIX.tables["tensorflow"]["release"]:
        for name in ("tensorflow", "tensorflow-cpu"):
            yield name, f"{row['tensorflow']}.0", SpecifierSet(row["python"])
    for row in MATRIX.tables["jax"]["release"]:
        lowest = min(
            (s.version for s in SpecifierSet(row["jax"]) if ">" in s.operator), key=Version
        )
        yield "jax", lowest, SpecifierSet(row["python"])
    for row in MATRIX.tables["paddle"]["release"]:
        for name in ("paddlepaddle", "paddlepaddle-gpu"):
            yield name, f"{row['paddle']}.0", SpecifierSet(row["python"])


CASES = list(python_cases())


@pytest.mark.parametrize(
    ("name", "version", "supported"), CASES, ids=[f"{n}-{v}" for n, v, _ in CASES]
)
def test_python_at_the_edges_of_each_releases_range(name, version, supported):
    for python in spec_edges(supported):
        facts = make_facts(with_packages(dist(name, version)), {"python": {"version": python}})
        verdicts = compat_versions.python_unsupported(facts, MATRIX)
        inside = supported.contains(Version(python), prereleases=True)
        assert severities(verdicts) == ([] if inside else [Severity.WARNING]), (
            name,
            version,
            python,
        )
        for verdict in verdicts:
            assert (
                verdict.title
                == f"{name} {version} supports Python {supported}, not Python {python}"
            )


# DD509 Keras 3 backends and tf-keras

BACKENDS = MATRIX.tables["keras"]["backends"]


@pytest.mark.parametrize("rule", BACKENDS, ids=[b["backend"] for b in BACKENDS])
def test_keras3_backend_at_below_and_above_its_minimum(rule):
    for version in around(rule["min"]):
        facts = make_facts(
            with_packages(dist("keras", "3.15.1"), dist(rule["distribution"], version)),
            {"env": {"variables": {"KERAS_BACKEND": rule["backend"]}}},
        )
        verdicts = compat_versions.keras_mismatch(facts, MATRIX)
        old = Version(version) < Version(rule["min"])
        assert severities(verdicts) == ([Severity.ERROR] if old else []), version
        for verdict in verdicts:
            assert verdict.title == (
                f"Keras 3.15.1 needs {rule['distribution']} {rule['min']} or newer as its "
                f"{rule['backend']} backend; {version} is installed"
            )


def test_keras2_has_no_backend_rule():
    facts = make_facts(with_packages(dist("keras", "2.15.0"), dist("tensorflow", "2.0.0")))
    assert compat_versions.keras_mismatch(facts, MATRIX) == []


@pytest.mark.parametrize("tf_keras", ["2.20.1", "2.21.0", "2.21.3", "2.22.0"])
def test_tf_keras_must_share_tensorflows_minor(tf_keras):
    for tf in ("tensorflow", "tensorflow-cpu"):
        facts = make_facts(with_packages(dist(tf, "2.21.0"), dist("tf-keras", tf_keras)))
        verdicts = compat_versions.keras_mismatch(facts, MATRIX)
        same = tf_keras.startswith("2.21.")
        assert severities(verdicts) == ([] if same else [Severity.ERROR]), (tf, tf_keras)


@pytest.mark.parametrize(
    ("value", "legacy"), [("1", True), ("true", True), ("True", True), ("0", False), ("", False)]
)
def test_legacy_keras_switch_values(value, legacy):
    facts = make_facts(
        with_packages(dist("tensorflow", "2.21.0")),
        {"env": {"variables": {"TF_USE_LEGACY_KERAS": value}}},
    )
    verdicts = compat_versions.keras_mismatch(facts, MATRIX)
    assert severities(verdicts) == ([Severity.ERROR] if legacy else [])


# DD511 TensorFlow on native Windows

LAST = MATRIX.tables["tensorflow"]["windows_native_gpu_last"]


@pytest.mark.parametrize("name", ["tensorflow", "tensorflow-intel"])
def test_windows_tensorflow_at_below_and_above_the_last_gpu_release(name):
    for version in [*around(LAST), f"{LAST}.1", f"{above(LAST)}.0"]:
        facts = make_facts(windows(), machine("560.94", "12.6"), with_packages(dist(name, version)))
        verdicts = compat_platform.windows_native_tensorflow_gpu(facts, MATRIX)
        after = Version(version).release[:2] > Version(LAST).release[:2]
        assert severities(verdicts) == ([Severity.ERROR] if after else []), version
        for verdict in verdicts:
            assert verdict.title.startswith(f"TensorFlow {version} on native Windows")


def test_windows_tensorflow_without_a_gpu_is_silent():
    facts = make_facts(windows(), with_packages(dist("tensorflow", above(LAST))))
    assert compat_platform.windows_native_tensorflow_gpu(facts, MATRIX) == []


# DD512 MPS needs a macOS per torch release

MPS = MATRIX.torch["mps"]


def mac(macos: str) -> dict:
    return {
        "accelerators": {
            "apple": {"is_macos": True, "hardware_arm64": True, "macos_version": macos}
        },
        "python": {"machine": "arm64"},
    }


def needed_macos(torch: str) -> str | None:
    rows = [r for r in MPS if Version(torch) >= Version(r["torch"])]
    return rows[-1]["macos"] if rows else None


@pytest.mark.parametrize("row", MPS, ids=[r["torch"] for r in MPS])
def test_macos_at_below_and_above_each_torch_releases_minimum(row):
    for torch in (below(row["torch"]), f"{row['torch']}.0"):
        need = needed_macos(torch)
        for macos in around(row["macos"]) + ([*around(need)] if need else []):
            facts = make_facts(mac(macos), with_packages(dist("torch", torch)))
            verdicts = compat_platform.mps_unavailable(facts, MATRIX)
            old = need is not None and Version(macos) < Version(need)
            assert severities(verdicts) == ([Severity.ERROR] if old else []), (torch, macos)
            for verdict in verdicts:
                assert verdict.title.endswith(f"this is macOS {macos}")


# DD202 CPU instructions, from the release that needs them


@pytest.mark.parametrize(
    "rule", MATRIX.cpu_rules, ids=[r.distributions[0] for r in MATRIX.cpu_rules]
)
def test_cpu_rule_from_its_first_release_on(rule):
    since = str(rule.since)
    for name in rule.distributions:
        for version in around(since):
            for flags, arch in (
                ([], rule.architecture),
                (list(rule.flags), rule.architecture),
                ([], "aarch64"),
            ):
                facts = make_facts(
                    with_packages(dist(name, version)),
                    {
                        "system": {
                            "architecture": arch,
                            "cpu": {"flags": flags, "flags_source": "/proc/cpuinfo"},
                        }
                    },
                )
                verdicts = builds.cpu_lacks_instructions(facts, MATRIX)
                fires = (
                    Version(version) >= rule.since
                    and not set(rule.flags) <= set(flags)
                    and arch == rule.architecture
                )
                assert severities(verdicts) == ([Severity.ERROR] if fires else []), (
                    name,
                    version,
                    flags,
                    arch,
                )


def test_numpy2_an_unreadable_version_is_unjudged_and_the_others_still_judged():
    facts = make_facts(
        with_packages(dist("numpy", "2.0.0"), dist("torch", "junk"), dist("jaxlib", "0.4.25"))
    )
    verdicts = compat_versions.numpy2_with_numpy1_build(facts, MATRIX)
    assert isinstance(verdicts[0], Unjudged) and verdicts[0].what == "torch"
    assert [v.evidence["distribution"] for v in verdicts[1:]] == ["jaxlib"]


RETIRED_NUMPY = [
    r for r in MATRIX.tables["retired"]["framework"] if "numpy" in r.get("note", "").lower()
]


@pytest.mark.parametrize("row", RETIRED_NUMPY, ids=[r["distribution"] for r in RETIRED_NUMPY])
def test_numpy2_a_retired_framework_built_for_numpy_1_can_only_keep_numpy_1(row):
    name = row["distribution"]
    facts = make_facts(with_packages(dist("numpy", "2.1.0"), dist(name, "1.9.1")))
    (verdict,) = compat_versions.numpy2_with_numpy1_build(facts, MATRIX)
    assert verdict.title.startswith(f"{name} 1.9.1 was built against NumPy 1 but NumPy 2.1.0")
    assert verdict.evidence == {
        "distribution": name,
        "version": "1.9.1",
        "numpy": "2.1.0",
        "numpy2_since": None,
        "source": row["source"],
    }
    (keep,) = verdict.fixes  # no release of it is built for NumPy 2
    assert [i.requirements for i in keep.intents] == [("numpy<2",)]


def test_the_matrix_has_a_retired_framework_that_names_numpy():
    assert RETIRED_NUMPY
