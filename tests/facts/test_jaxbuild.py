"""JAX build facts from jaxlib's own files (the real jaxlib installed here) and a plugin's pins."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from dldoctor.facts.host import Host
from dldoctor.facts.jaxbuild import PJRT_UNKNOWN, jax_build_facts, jaxlib_build
from tests.fakes.fsroot import write

SITE = "/env/lib/python3.11/site-packages"


def test_real_jaxlib_version_and_xla_client_version() -> None:
    site = sysconfig.get_paths()["purelib"]
    if not Path(site, "jaxlib", "version.py").is_file():
        pytest.skip("jaxlib is not installed in this interpreter")
    import importlib.metadata

    build = jaxlib_build(Host(), site)
    assert build["version"] == importlib.metadata.version("jaxlib")
    assert build["git_hash"] and len(build["git_hash"]) == 40
    assert isinstance(build["xla_client_version"], int) and build["xla_client_version"] > 0


def test_cuda_plugin_pins_and_pjrt_library(tmp_path: Path) -> None:
    write(
        tmp_path,
        f"{SITE}/jaxlib/version.py",
        '_version = "0.6.0"\n_release_version: str = "0.6.0"\n',
    )
    write(tmp_path, f"{SITE}/jax_plugins/xla_cuda12/xla_cuda_plugin.so", "\x7fELF")
    distributions = [
        {"name": "jaxlib", "version": "0.6.0", "location": SITE, "requires": []},
        {
            "name": "jax-cuda12-plugin",
            "version": "0.6.0",
            "location": SITE,
            "requires": [
                "jax-cuda12-pjrt==0.6.0",
                'nvidia-cudnn-cu12<10.0,>=9.8; extra == "with-cuda"',
                'nvidia-cuda-runtime-cu12>=12.1.105; extra == "with-cuda"',
            ],
        },
        {"name": "jax_cuda12_pjrt", "version": "0.6.0", "location": SITE, "requires": []},
        {
            "name": "jax-cuda12-plugin",
            "version": "0.5.0",
            "location": "/home/u/.local",
            "requires": [],
        },
    ]
    facts = jax_build_facts(Host(root=tmp_path, env={}), distributions)
    assert facts is not None
    assert facts["jaxlib"] == {
        "version": "0.6.0",
        "git_hash": None,
        "xla_client_version": None,
        "error": None,
    }
    plugin, pjrt = facts["plugins"]  # the shadowed copy in ~/.local is not the one that imports
    assert plugin["built_for"] == {"cudnn": "<10.0,>=9.8", "cuda-runtime": ">=12.1.105"}
    assert plugin["pjrt_library"] is False  # a -plugin distribution has none
    assert pjrt["pjrt_library"] == f"{SITE}/jax_plugins/xla_cuda12/xla_cuda_plugin.so"
    assert (pjrt["pjrt_c_api_version"], pjrt["pjrt_c_api_note"]) == (None, PJRT_UNKNOWN)


def test_broken_version_file_and_no_jaxlib(tmp_path: Path) -> None:
    write(tmp_path, f"{SITE}/jaxlib/version.py", "def (:\n")
    facts = jax_build_facts(Host(root=tmp_path, env={}), [{"name": "jaxlib", "location": SITE}])
    assert facts is not None and facts["jaxlib"]["version"] is None
    assert (
        jax_build_facts(Host(root=tmp_path, env={}), [{"name": "jax", "location": SITE}]) is False
    )
