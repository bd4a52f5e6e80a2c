"""JAX imported in passing by TensorFlow's (or Keras') child: left to JAX's own child when it
imported fine there, imported for real when it failed there, so a JAX that breaks the user's
`import tensorflow` breaks it in the probe too. Real children, stand-in packages."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from dldoctor.matrix import load
from dldoctor.probes import deferral
from dldoctor.probes.child import defer
from dldoctor.probes.probe import ProbeOptions, run_probes
from tests.probes.test_schedule import facts_with, fake_site

WAIT_S = 60.0  # a bound on waiting for a child, never a measured duration
# What TensorFlow 2.21's tensorflow/lite/python/util.py does, then a verdict the test can read.
TENSORFLOW = """
try:
    from jax import jit
except ImportError as exc:
    raise ImportError("tensorflow saw no jax: %s" % exc)
raise ImportError("tensorflow imported jax %s" % jit.__module__)
"""
JAX_FINE = "def jit(f):\n    return f\n"
JAX_BROKEN = "raise RuntimeError('jaxlib version 0.4.1 is older than jax requires')\n"


@pytest.fixture(scope="module")
def matrix() -> Any:
    return load()


def probe(tmp_path: Path, matrix: Any, jax: str, *frameworks: str) -> dict[str, Any]:
    env = fake_site(tmp_path, {"tensorflow": TENSORFLOW, "jax": jax})
    options = ProbeOptions(python=sys.executable, frameworks=frameworks, timeout_s=WAIT_S, env=env)
    section = run_probes(facts_with("tensorflow", "jax"), matrix, options)
    return dict(section["frameworks"])


def error(record: dict[str, Any]) -> tuple[str, str]:
    said = record["import"]["error"]
    return said["type"], said["message"]


def test_a_jax_that_imports_in_its_own_child_is_not_imported_again_in_tensorflows(tmp_path, matrix):
    records = probe(tmp_path, matrix, JAX_FINE, "tensorflow", "jax")
    assert records["jax"]["import"]["ok"] is True
    kind, message = error(records["tensorflow"])
    assert kind == "ImportError"
    assert message.startswith("tensorflow saw no jax: No module named 'jax'")
    assert records["tensorflow"]["info"]["imported_elsewhere"] == ["jax"]


def test_a_jax_whose_import_fails_breaks_tensorflows_import_as_it_would_the_users(tmp_path, matrix):
    records = probe(tmp_path, matrix, JAX_BROKEN, "tensorflow", "jax")
    assert error(records["jax"]) == (
        "RuntimeError",
        "jaxlib version 0.4.1 is older than jax requires",
    )
    assert error(records["tensorflow"]) == error(records["jax"])
    assert "imported_elsewhere" not in records["tensorflow"]["info"]


def test_without_jax_probed_tensorflows_child_imports_it_itself(tmp_path, matrix):
    records = probe(tmp_path, matrix, JAX_FINE, "tensorflow")
    assert list(records) == ["tensorflow"]
    assert error(records["tensorflow"]) == ("ImportError", "tensorflow imported jax jax")
    assert "imported_elsewhere" not in records["tensorflow"]["info"]


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ((("tensorflow", "keras"), ("jax",)), {("tensorflow", "keras"): ("jax",)}),
        ((("tensorflow",), ("jax", "keras")), {("tensorflow",): ("jax",)}),  # Keras on JAX
        ((("torch", "keras"), ("jax",)), {("torch", "keras"): ("jax",)}),
        (
            (("keras",), ("jax",), ("tensorflow",)),
            {("keras",): ("jax",), ("tensorflow",): ("jax",)},
        ),
        ((("tensorflow", "keras"), ("torch",)), {}),  # JAX not probed: imported where asked
        ((("jax",), ("torch",)), {}),
    ],
)
def test_which_child_leaves_which_module_to_another(groups, expected):
    assert deferral.deferred(groups) == expected


def test_a_verdict_is_written_once_and_close_answers_every_unanswered_one(tmp_path):
    verdicts = deferral.Verdicts(str(tmp_path), ("jax", "keras"))
    path = Path(deferral.verdict_path(str(tmp_path), "jax"))
    ok = {"type": "import", "framework": "jax", "module": "jax", "ok": True}
    verdicts.feed({**ok, "module": "jax.numpy"})  # not the framework's own import
    verdicts.feed({**ok, "companion": True})
    verdicts.feed({**ok, "type": "info"})
    assert not path.exists()
    verdicts.feed(ok)
    verdicts.feed({**ok, "ok": False})  # a later message changes nothing
    verdicts.close()
    assert json.loads(path.read_text()) == {"ok": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imported-jax.json"]

    dead = deferral.Verdicts(str(tmp_path / "other"), ("jax",))
    (tmp_path / "other").mkdir()
    dead.close()  # the child died before its import said anything
    assert json.loads((tmp_path / "other" / "imported-jax.json").read_text()) == {"ok": False}


@pytest.mark.parametrize(
    ("written", "fine"),
    [('{"ok": true}', True), ('{"ok": false}', False), ('{"ok": "yes"}', False), ("[1]", False)],
)
def test_the_child_reads_the_verdict_as_written(tmp_path, written, fine):
    path = tmp_path / "imported-jax.json"
    path.write_text(written)
    assert defer.imported_fine(str(path), wait_s=0.0) is fine


def test_no_verdict_in_time_means_the_import_happens_here(tmp_path):
    finder = defer.Deferred({"jax": str(tmp_path / "never-written.json")}, wait_s=0.05)
    assert finder.find_spec("jax") is None  # the ordinary finders import it
    assert finder.find_spec("jax.numpy") is None and finder.take() == []


def test_a_module_imported_fine_elsewhere_reads_as_not_installed(tmp_path):
    path = tmp_path / "imported-jax.json"
    path.write_text('{"ok": true}')
    finder = defer.Deferred({"jax": str(path)}, wait_s=0.0)
    for _ in range(2):  # TensorFlow's import asks, then Keras' does
        with pytest.raises(ModuleNotFoundError) as raised:
            finder.find_spec("jax")
        assert raised.value.name == "jax"
    assert finder.take() == ["jax"] and finder.take() == []
    assert finder.find_spec("torch") is None


@pytest.mark.parametrize(("timeout_s", "wait_s"), [(40.0, 10.0), (80.0, 20.0), (120.0, 20.0)])
def test_a_child_waits_a_quarter_of_its_timeout_at_most(tmp_path, timeout_s, wait_s):
    options = deferral.child_options(str(tmp_path), ("jax",), timeout_s)
    assert options["wait_s"] == wait_s
    assert options["modules"] == {"jax": deferral.verdict_path(str(tmp_path), "jax")}
    assert options["helper"]["source"] == Path(defer.__file__).read_text(encoding="utf-8")


@pytest.mark.parametrize(("given", "bound"), [(3.5, 3.5), (0, 0.0), (None, 20.0), (-1, 20.0)])
def test_the_childs_bound_is_the_parents_when_it_gives_one(tmp_path, given, bound):
    finder = defer.install({"jax": str(tmp_path / "v.json")}, given)
    try:
        assert finder.wait_s == bound
    finally:
        sys.meta_path.remove(finder)
