"""MindSpore's build facts, read from its files without importing it: 1.x and 2.x layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.facts.test_interpreter import gather_on, make_dist, validate


def _mindspore(monkeypatch: pytest.MonkeyPatch, site: Path, files: dict[str, str | bytes]) -> dict:
    make_dist(site, "mindspore", "2.10.0", files={"mindspore/__init__.py": "", **files})
    result = gather_on(monkeypatch, site)
    validate(result)
    return result["packages"]["frameworks"]["mindspore"]["build"]


def test_a_2x_wheel_names_every_device_plugin_and_each_cuda_it_was_built_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = "mindspore/lib/plugin/"
    build = _mindspore(
        monkeypatch,
        tmp_path,
        {
            "mindspore/default_config.py": "__backend__ = 'ms'\n__package_name__ = 'mindspore'\n",
            plugin + "libmindspore_gpu.so.11.6": b"\x7fELF",
            plugin + "libmindspore_gpu.so.11.1": b"\x7fELF",
            plugin + "libmindspore_gpu.so": b"\x7fELF",  # no CUDA in the name: not a build
            plugin + "libmindspore_gpu.so.11.1.bak": b"",
            plugin + "libmindspore_ascend.so.2": b"\x7fELF",
            plugin + "libmindspore_ops_cpu.so": b"\x7fELF",
        },
    )
    assert build["source"] == "mindspore/default_config.py"
    assert (build["backend"], build["package_name"]) == ("ms", "mindspore")
    assert build["device_plugins"] == {"cpu": True, "gpu_cuda": ["11.1", "11.6"], "ascend": True}


def test_a_cpu_only_plugin_set_has_no_gpu_and_no_ascend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = _mindspore(
        monkeypatch,
        tmp_path,
        {
            "mindspore/default_config.py": "__package_name__ = 'mindspore'\n",
            "mindspore/lib/plugin/cpu/libakg.so": b"\x7fELF",
        },
    )
    assert build["device_plugins"] == {"cpu": True, "gpu_cuda": [], "ascend": False}


def test_a_1x_wheel_has_its_one_device_target_and_cuda_in_default_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = "__device_target__ = 'GPU'\n__cuda_version__ = '10.1'\n__version__ = '1.8.1'\n"
    build = _mindspore(monkeypatch, tmp_path, {"mindspore/default_config.py": config})
    assert (build["device_target"], build["cuda_version"]) == ("GPU", "10.1")
    assert build["device_plugins"] is False  # known: this layout has none


def test_a_broken_config_is_an_error_and_the_plugins_are_still_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = _mindspore(
        monkeypatch,
        tmp_path,
        {
            "mindspore/default_config.py": "__backend__ = (\n",
            "mindspore/lib/plugin/libmindspore_gpu.so.12.4": b"\x7fELF",
        },
    )
    assert build["error"].startswith("SyntaxError")
    assert build["device_plugins"]["gpu_cuda"] == ["12.4"]
