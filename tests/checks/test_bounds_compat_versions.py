"""DD506-DD510 (compat_versions) as a user reads them: titles, evidence and fixes for JAX's
pieces, NumPy 2 beside a NumPy 1 build, an unsupported Python, Keras and its backends, and a
retired framework, each from its matrix row."""

from __future__ import annotations

import pytest

from dldoctor.checks import compat_versions as cv
from dldoctor.checks.registry import NotApplicable, Unjudged
from dldoctor.matrix import load
from tests.checks.scenarios import dist, make_facts, shown_all, with_packages

MATRIX = load()
KERAS = MATRIX.tables["keras"]


def _jax(jax: str, jaxlib: str, plugins: list[dict] | None = None):
    frame = {"distributions": [], "build": {"plugins": plugins or []}}
    return make_facts(
        with_packages(dist("jax", jax), dist("jaxlib", jaxlib), frameworks={"jax": frame})
    )


def test_dd506_jaxlib_newer_than_jax_is_the_finding_with_the_versioning_rule():
    (verdict,) = cv.jax_version_mismatch(_jax("0.4.30", "0.4.31"), MATRIX)
    assert verdict.title == "JAX's pieces do not match: jaxlib 0.4.31 is newer than jax 0.4.30"
    assert verdict.evidence == {
        "jax": "0.4.30",
        "jaxlib": "0.4.31",
        "plugins": [],
        "rule": MATRIX.tables["jax"]["versioning_source"],
    }


def test_dd506_a_plugin_of_another_version_reinstalls_jax_with_its_cuda_extra():
    plugin = {"name": "jax-cuda12-plugin", "version": "0.4.31", "backend": "cuda", "major": "12"}
    unknown = {"name": "jax-cuda12-pjrt", "version": None, "backend": "cuda", "major": "12"}
    found = cv.jax_version_mismatch(_jax("0.4.30", "0.4.30", [unknown, plugin]), MATRIX)
    unjudged, verdict = found
    assert isinstance(unjudged, Unjudged)
    assert (unjudged.what, unjudged.path) == ("jax-cuda12-pjrt", "its version")
    assert verdict.title == (
        "JAX's pieces do not match: jax-cuda12-plugin 0.4.31 differs from jaxlib 0.4.30"
    )
    assert verdict.evidence["plugins"] == [unknown, plugin]
    (remedy,) = verdict.fixes
    assert remedy.summary == "Reinstall jax[cuda12] at one version."
    assert shown_all(remedy) == ("/env/bin/python -m pip install 'jax[cuda12]==0.4.30'",)


def test_dd506_without_jax_and_jaxlib_says_so():
    with pytest.raises(NotApplicable, match=r"^jax or jaxlib not installed$"):
        cv.jax_version_mismatch(make_facts(with_packages(dist("jax", "0.4.30"))), MATRIX)


def test_dd507_names_the_framework_by_its_label_with_both_fixes():
    facts = make_facts(with_packages(dist("numpy", "2.1.0"), dist("torch", "2.2.2")))
    (verdict,) = cv.numpy2_with_numpy1_build(facts, MATRIX)
    assert verdict.title == (
        "PyTorch 2.2.2 was built against NumPy 1 but NumPy 2.1.0 is installed: its import fails "
        'with "_ARRAY_API not found"'
    )
    keep, upgrade = verdict.fixes
    assert shown_all(keep) == ("/env/bin/python -m pip install 'numpy<2'",) and keep.automatic
    assert upgrade.summary == "Or upgrade torch to 2.3 or newer (built for NumPy 2)."
    assert not upgrade.automatic


def test_dd508_an_unsupported_python_names_the_range_and_both_ways_out():
    facts = make_facts({"python": {"version": "3.8.18"}}, with_packages(dist("jax", "0.4.30")))
    (verdict,) = cv.python_unsupported(facts, MATRIX)
    assert verdict.title == "jax 0.4.30 supports Python >=3.9, not Python 3.8.18"
    assert verdict.evidence == {
        "distribution": "jax",
        "version": "0.4.30",
        "python": "3.8.18",
        "supported": ">=3.9",
        "matrix_row": "jax.toml release >=0.4.30,<0.4.31",
    }
    assert verdict.fixes[0].summary == (
        "Create an environment with a Python in >=3.9 for jax 0.4.30, or install a jax release "
        "that supports Python 3.8."
    )


def _keras(*dists, env: dict | None = None):
    return make_facts(with_packages(*dists), {"env": {"variables": env or {}}})


def test_dd509_legacy_keras_without_tf_keras_installs_it_automatically():
    facts = _keras(dist("tensorflow-cpu", "2.17.0"), env={"TF_USE_LEGACY_KERAS": "1"})
    (verdict,) = cv.keras_mismatch(facts, MATRIX)
    assert verdict.evidence == {"tensorflow": "2.17.0", "source": KERAS["tf_keras_source"]}
    (remedy,) = verdict.fixes
    assert remedy.summary == "Install tf-keras 2.17." and remedy.automatic
    assert shown_all(remedy) == ("/env/bin/python -m pip install 'tf-keras~=2.17.0'",)


def test_dd509_tf_keras_of_another_minor_is_replaced_automatically():
    facts = _keras(dist("tensorflow", "2.17.0"), dist("tf-keras", "2.16.0"))
    (verdict,) = cv.keras_mismatch(facts, MATRIX)
    assert verdict.evidence == {
        "tensorflow": "2.17.0",
        "tf_keras": "2.16.0",
        "source": KERAS["tf_keras_source"],
    }
    assert verdict.fixes[0].automatic


def test_dd509_keras_3_with_an_old_tensorflow_cpu_backend_upgrades_it():
    facts = _keras(dist("keras", "3.6.0"), dist("tensorflow-cpu", "2.15.1"))
    (verdict,) = cv.keras_mismatch(facts, MATRIX)
    assert verdict.title == (
        "Keras 3.6.0 needs tensorflow 2.16.1 or newer as its tensorflow backend; 2.15.1 is installed"
    )
    assert verdict.evidence == {
        "keras": "3.6.0",
        "backend": "tensorflow",
        "backend_distribution": "tensorflow-cpu",
        "installed": "2.15.1",
        "minimum": "2.16.1",
        "source": KERAS["source"],
    }
    (remedy,) = verdict.fixes
    assert remedy.summary == "Upgrade tensorflow." and remedy.automatic is True


@pytest.mark.parametrize("name", ["cntk", "theano", "caffe"])
def test_dd510_a_retired_framework_without_a_listed_alternative_gets_the_general_move(name):
    row = next(r for r in MATRIX.tables["retired"]["framework"] if r["distribution"] == name)
    (verdict,) = cv.retired_framework(make_facts(with_packages(dist(name, "1.0"))), MATRIX)
    assert verdict.title == f"{name} 1.0 is retired: {row['note']}"
    assert verdict.evidence == {"distribution": name, "version": "1.0", "source": row["source"]}
    (move,) = verdict.fixes
    assert move.summary == (
        "Move to a maintained framework (PyTorch, JAX, TensorFlow); until then pin the packages "
        "around it (NumPy, CUDA) to versions it was built with."
    )
