"""Local version labels are build facts, never versions compared: a jaxlib 0.4.7+cuda11.cudnn86
is the CUDA 11 build of jaxlib 0.4.7, not a jaxlib newer than jax 0.4.7, and not "no plugin"."""

from __future__ import annotations

import pytest

from dldoctor.checks import builds, compat_versions
from dldoctor.checks.cuda_builds import cuda_builds
from dldoctor.checks.registry import Verdict
from dldoctor.facts import queries as q
from dldoctor.matrix import load
from dldoctor.report.summary import framework_lines
from tests.checks.bounds import machine
from tests.checks.scenarios import dist, make_facts, with_packages

MATRIX = load()


@pytest.mark.parametrize(
    ("version", "public", "built"),
    [
        ("0.4.7+cuda11.cudnn86", "0.4.7", ("11", "8.6")),  # 0.4: the CUDA major and cuDNN
        ("0.3.25+cuda11.cudnn805", "0.3.25", ("11", "8.0.5")),
        ("0.1.69+cuda101", "0.1.69", ("10.1", None)),  # before: major and minor, no cuDNN
        ("0.1.57+cuda92", "0.1.57", ("9.2", None)),
        ("0.1.75+cuda110", "0.1.75", ("11.0", None)),
        ("0.4.30", "0.4.30", None),  # a plugin-era jaxlib: no label, no CUDA in it
        ("2.5.1+cu121", "2.5.1", None),  # torch's labels are not jaxlib's
        ("2.5.2.post120", "2.5.2.post120", None),  # a post release stays one
        (None, None, None),
        ("not a version", None, None),
    ],
)
def test_a_local_label_is_read_as_the_build_it_names(version, public, built):
    assert str(q.public_of(version)) == str(public) if public else q.public_of(version) is None
    assert q.local_cuda(version) == built


def jax_pair(jaxlib: str, *plugins: str) -> dict:
    names = ["jax", "jaxlib", *plugins]
    versions = {"jax": "0.4.7", "jaxlib": jaxlib}
    frame = {
        "distributions": [{"name": n, "version": versions.get(n, "0.4.7")} for n in names],
        "build": {"plugins": []},
    }
    return with_packages(
        *(dist(n, versions.get(n, "0.4.7")) for n in names), frameworks={"jax": frame}
    )


@pytest.mark.parametrize(
    ("jaxlib", "newer"),
    [
        ("0.4.7+cuda11.cudnn86", False),  # the same release: its label orders nothing
        ("0.4.6+cuda11.cudnn86", False),
        ("0.4.8+cuda11.cudnn86", True),
        ("0.4.8", True),
    ],
)
def test_jaxlib_beside_jax_is_compared_by_release_only(jaxlib, newer):
    verdicts = compat_versions.jax_version_mismatch(make_facts(jax_pair(jaxlib)), MATRIX)
    assert bool(verdicts) is newer
    if newer:  # shown as written, label and all
        assert f"jaxlib {jaxlib} is newer than jax 0.4.7" in verdicts[0].title


@pytest.mark.parametrize(
    ("jaxlib", "plugins", "cpu_only"),
    [
        ("0.4.7+cuda11.cudnn86", (), False),  # before the plugins, jaxlib was the CUDA build
        ("0.1.69+cuda101", (), False),
        ("0.4.7", (), True),  # an unlabelled jaxlib with no plugin: the CPU build
        ("0.4.7", ("jax-cuda12-plugin",), False),
    ],
)
def test_a_labelled_jaxlib_is_a_cuda_build_not_a_missing_plugin(jaxlib, plugins, cpu_only):
    facts = make_facts(jax_pair(jaxlib, *plugins), machine("535.104.05", "12.2"))
    verdicts = [v for v in builds.cpu_only_build_on_gpu(facts, MATRIX) if isinstance(v, Verdict)]
    assert bool(verdicts) is cpu_only
    jax_builds = [b for b in cuda_builds(facts, MATRIX) if b.framework == "jax"]
    if not plugins and not cpu_only:
        (build,) = jax_builds
        assert (build.distribution, build.cuda) == ("jaxlib", q.local_cuda(jaxlib)[0])


def test_the_summary_calls_a_labelled_jaxlib_a_cuda_build():
    (line,) = framework_lines(make_facts(jax_pair("0.4.7+cuda11.cudnn86")))
    assert line.endswith("jaxlib built for CUDA 11 / cuDNN 8.6")
    (line,) = framework_lines(make_facts(jax_pair("0.4.7")))
    assert line.endswith("CPU only (no CUDA plugin)")


def _pieces(jax: str, jaxlib: str, *plugins: str, required: str | None = None):
    from dldoctor.fixes.runtime import jax_pieces
    from tests.checks.scenarios import shown_all

    names = {"jax": jax, "jaxlib": jaxlib, **{p: jaxlib for p in plugins}}
    frame = {"distributions": [{"name": n, "version": v} for n, v in names.items()]}
    packages = with_packages(*(dist(n, v) for n, v in names.items()), frameworks={"jax": frame})
    fix = jax_pieces(make_facts(packages), required)
    assert fix is not None
    return fix, shown_all(fix)


def test_without_a_plugin_jaxlib_itself_is_pinned_to_fit_jax():
    # `pip install jax==0.4.20` would leave jaxlib 0.4.31 in place: jaxlib is what moves
    _, commands = _pieces("0.4.20", "0.4.31")
    assert commands == ("/env/bin/python -m pip install 'jaxlib<=0.4.20'",)
    # before 0.4, jax and jaxlib had their own versions: the range jax said, up to jax's own
    _, commands = _pieces("0.2.26", "0.1.69", required="0.1.74")
    assert commands == ("/env/bin/python -m pip install 'jaxlib>=0.1.74,<=0.2.26'",)


def test_with_a_plugin_the_extra_pins_every_piece():
    _, commands = _pieces("0.4.38", "0.4.36", "jax-cuda12-plugin")
    assert commands == ("/env/bin/python -m pip install 'jax[cuda12]==0.4.38'",)


def test_a_pre_plugin_cuda_jaxlib_is_never_replaced_by_pypis_cpu_one():
    fix, commands = _pieces("0.2.26", "0.1.69+cuda101", required="0.1.74")
    assert commands == ()  # PyPI's jaxlib of that time has no CUDA
    assert "jaxlib>=0.1.74,<=0.2.26 built for CUDA 10.1" in fix.summary
