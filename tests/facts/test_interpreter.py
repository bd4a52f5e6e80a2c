"""Interpreter facts: this venv's real frameworks, hostile site dirs, other Pythons via `-c`."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import sysconfig
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from packaging.markers import default_environment

from dldoctor.facts import bootstrap, interpreter, interpreter_arguments
from dldoctor.matrix import load
from tests.machine import fresh_venv, other_pythons

ARGS = interpreter_arguments(load())
SOURCE = Path(interpreter.__file__).read_text(encoding="utf-8")
# The oldest and newest other Pythons here (3.6, the oldest --python supports, is the
# compatibility proof where present: dldoctor/facts/bootstrap.py), found by globbing; else
# a fresh venv of this one.
OTHER_PYTHONS = list(other_pythons("3.6")) or ["venv"]


def interpreter_for(python: str, tmp_path: Path) -> str:
    return fresh_venv(tmp_path / "venv") if python == "venv" else python


def schema(part: str) -> dict[str, Any]:
    """A facts part, validated as dldoctor.document.schema embeds it: under $defs."""
    text = resources.files("dldoctor.document").joinpath(f"schema/facts-{part}.json").read_text()
    sub = json.loads(text)
    return {
        "$schema": sub.pop("$schema"),
        "$defs": {f"facts-{part}": sub},
        "$ref": f"#/$defs/facts-{part}",
    }


def validate(result: dict[str, Any]) -> None:
    jsonschema.validate(result["python"], schema("python"))
    jsonschema.validate(result["packages"], schema("packages"))


def make_dist(
    site: Path,
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    files: Mapping[str, str | bytes] | None = None,
    metadata: str | bytes | None = "",
    top_level: str | None = None,
    installer: str | None = "pip",
) -> Path:
    """A .dist-info as pip leaves it: METADATA, INSTALLER, RECORD listing ``files`` (written too).

    ``metadata=""`` writes a good METADATA; None writes none; other text/bytes is written as is.
    """
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    if metadata == "":
        metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
        metadata += "\nA description: whose lines look like headers.\nName: not-this\n"
    if metadata is not None:
        write(info / "METADATA", metadata)
    if installer is not None:
        write(info / "INSTALLER", installer + "\n")
    if top_level is not None:
        write(info / "top_level.txt", top_level)
    record = []
    for path, content in (files or {}).items():
        write(site / path, content)
        record.append(f'"{path}",,' if "," in path else f"{path},sha256=x,1")
    record.append(f"{info.name}/RECORD,,")
    write(info / "RECORD", "\n".join(record) + "\n")
    return info


def write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def gather_on(monkeypatch: pytest.MonkeyPatch, *sites: Path | str) -> dict[str, Any]:
    """gather() in process with only the given directories on sys.path."""
    monkeypatch.setattr(sys, "path", [str(s) for s in sites])
    return interpreter.gather(**ARGS)


def by_name(result: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [d for d in result["packages"]["distributions"] if d["name"] == name]


def run_source(python: str, cwd: Path, pythonpath: str | None = None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    proc = subprocess.run(  # as dldoctor runs it: the version check first, then the source
        bootstrap.command(python, SOURCE, json.dumps(ARGS)),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.fixture(scope="module")
def real() -> dict[str, Any]:
    """gather() over this venv, in process."""
    return interpreter.gather(**ARGS)


# ---- this venv: real frameworks ---------------------------------------------------------------


def test_real_torch_build_facts_say_cpu_build(real: dict[str, Any]) -> None:
    torch = real["packages"]["frameworks"]["torch"]
    assert {"name": "torch", "version": "2.13.0+cpu"} in torch["distributions"]
    build = torch["build"]
    assert build["source"] == "torch/version.py"
    assert build["__version__"] == "2.13.0+cpu"
    # version.py says cuda = None: written False ("none"), since null would be unknown.
    assert build["cuda"] is False and build["hip"] is False
    assert build["debug"] is False
    assert len(build["git_version"]) == 40
    assert "error" not in build


def test_real_tensorflow_cpu_build_info_is_not_cuda(real: dict[str, Any]) -> None:
    tf = real["packages"]["frameworks"]["tensorflow"]
    assert tf["distributions"] == [{"name": "tensorflow_cpu", "version": "2.21.0"}]
    assert tf["build"]["source"] == "tensorflow/python/platform/build_info.py"
    assert tf["build"]["is_cuda_build"] is False
    assert tf["build"]["is_rocm_build"] is False


def test_real_paddle_version_file_says_no_cuda(real: dict[str, Any]) -> None:
    build = real["packages"]["frameworks"]["paddle"]["build"]
    assert build["full_version"] == "3.3.1"
    assert build["cuda_version"] == "False"  # paddle writes the string 'False' on CPU builds
    assert build["cudnn_version"] == "False"
    assert build["with_mkl"] == "ON"
    assert not any("\n" in str(v) for v in build.values())  # its docstring constants are not facts


def test_real_jax_keras_onnxruntime_present(real: dict[str, Any]) -> None:
    frameworks = real["packages"]["frameworks"]
    assert frameworks["jax"]["build"] == {"jaxlib": "0.10.2", "plugins": []}
    assert frameworks["keras"]["distributions"] == [{"name": "keras", "version": "3.15.1"}]
    ort = frameworks["onnxruntime"]["build"]
    assert ort["package_name"] == "onnxruntime" and ort["__version__"] == "1.32.0"
    assert "cuda_version" not in ort


def test_real_venv_is_clean_and_fits_the_schema(real: dict[str, Any]) -> None:
    validate(real)
    packages = real["packages"]
    assert packages["errors"] == [] and real["python"]["errors"] == []
    assert packages["duplicates"] == [] and packages["module_conflicts"] == []
    assert packages["nvidia_wheels"] == []  # a CPU venv: only tensorflow's and-cuda extra pins
    assert all(d["metadata_error"] is None for d in packages["distributions"])


def test_real_venv_lists_what_importlib_finds(real: dict[str, Any]) -> None:
    path = interpreter._search_path(sys.path)
    expected = [d.metadata["Name"] for d in importlib.metadata.distributions(path=path)]
    # The same distributions as the stdlib's own discovery (which lists in directory order).
    assert sorted(d["name"] for d in real["packages"]["distributions"]) == sorted(expected)
    assert real["python"]["pip_version"] == importlib.metadata.version("pip")


def test_real_top_level_from_record_when_no_top_level_txt(real: dict[str, Any]) -> None:
    (numpy,) = [d for d in real["packages"]["distributions"] if d["name"] == "numpy"]
    assert numpy["top_level"] == ["numpy"]  # meson-built: RECORD only
    (torch,) = [d for d in real["packages"]["distributions"] if d["name"] == "torch"]
    assert torch["top_level"] == ["functorch", "torch", "torchgen"]  # top_level.txt


def test_python_section_describes_this_interpreter(real: dict[str, Any]) -> None:
    python = real["python"]
    assert python["version"] == platform.python_version()
    assert python["executable"] == sys.executable
    assert python["prefix"] == sys.prefix and python["base_prefix"] == sys.base_prefix
    assert python["bits"] == 64
    assert python["marker_environment"] == default_environment()
    assert "" not in python["sys_path"] and os.getcwd() not in python["sys_path"]
    include = sysconfig.get_paths()["include"]
    assert python["headers"] == (include if Path(include, "Python.h").is_file() else False)


# ---- other interpreters, as `PYTHON -c <source> <json>` -------------------------------------


@pytest.mark.parametrize("python", OTHER_PYTHONS)
def test_source_runs_under_other_pythons(python: str, tmp_path: Path) -> None:
    # This venv's site-packages on PYTHONPATH: the real torch/tensorflow files, read by 3.6+.
    python = interpreter_for(python, tmp_path)
    site = sysconfig.get_paths()["purelib"]
    result = run_source(python, tmp_path, pythonpath=site)
    validate(result)
    version = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert result["python"]["version"] == version
    headers = result["python"]["headers"]  # Python.h, read by 3.6+ as well
    assert headers is False or Path(headers, "Python.h").is_file()
    if "/.pyenv/versions/" in python:
        assert result["python"]["environment"]["manager"] == "pyenv"
    elif python.startswith(str(tmp_path)):
        assert result["python"]["environment"]["manager"] == "venv"
    frameworks = result["packages"]["frameworks"]
    assert frameworks["torch"]["build"]["cuda"] is False
    assert frameworks["tensorflow"]["build"]["is_cuda_build"] is False
    assert any(d["location"] == site for d in result["packages"]["duplicates"][0]["copies"])


@pytest.mark.parametrize("python", OTHER_PYTHONS)
def test_hostile_site_under_other_pythons(python: str, tmp_path: Path) -> None:
    python = interpreter_for(python, tmp_path)
    site = tmp_path / "site"
    make_dist(site, "ghost", "1.2", metadata=None)
    make_dist(site, "junk", "0.1", metadata=b"\xff\xfe\x00\x81garbage")
    files = {"tensorflow/__init__.py": "", "tensorflow/x.py": ""}
    broken = {**files, "tensorflow/python/platform/build_info.py": "build_info = {\n"}
    make_dist(site, "tensorflow", "2.17.0", files=broken)
    make_dist(site, "tensorflow-cpu", "2.17.0", files=files)
    result = run_source(python, tmp_path, pythonpath=str(site))
    validate(result)
    packages = result["packages"]
    errors = {d["name"]: d["metadata_error"] for d in packages["distributions"]}
    assert errors["ghost"] == "no METADATA or PKG-INFO file"
    assert errors["junk"].startswith("METADATA is not UTF-8 text")
    assert packages["frameworks"]["tensorflow"]["build"]["error"].startswith("SyntaxError")
    assert [c["module"] for c in packages["module_conflicts"]] == ["tensorflow"]


def test_project_dir_cannot_shadow_the_stdlib(tmp_path: Path) -> None:
    for name in ("json.py", "ast.py", "re.py", "email/__init__.py"):
        write(tmp_path / name, "raise SystemExit('shadowed by the project dir')\n")
    make_dist(tmp_path, "project-local", "1.0")
    result = run_source(interpreter_for(OTHER_PYTHONS[0], tmp_path / "interpreter"), tmp_path)
    assert not any(d["name"] == "project-local" for d in result["packages"]["distributions"])
    assert str(tmp_path) not in result["python"]["sys_path"]


def test_bad_arguments_still_print_a_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert interpreter.main(["{not json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["packages"]["errors"][-1].startswith("arguments: JSONDecodeError")
    assert result["packages"]["frameworks"] == {}  # no interesting list given


# ---- hostile distributions --------------------------------------------------------------------


def test_dist_info_without_metadata_is_listed_with_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dist(tmp_path, "ghost", "1.2", metadata=None, files={"ghost/__init__.py": ""})
    result = gather_on(monkeypatch, tmp_path)
    (ghost,) = result["packages"]["distributions"]
    assert ghost["name"] == "ghost" and ghost["version"] == "1.2"  # from the directory name
    assert ghost["metadata_error"] == "no METADATA or PKG-INFO file"
    assert ghost["top_level"] == ["ghost"]
    validate(result)


def test_binary_junk_metadata_is_listed_with_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dist(tmp_path, "junk", "0.1", metadata=b"\xff\xfe\x00\x81garbage\x00\xc3")
    result = gather_on(monkeypatch, tmp_path)
    (junk,) = result["packages"]["distributions"]
    assert junk["name"] == "junk"
    assert junk["metadata_error"].startswith("METADATA is not UTF-8 text")
    validate(result)


def test_metadata_without_name_is_listed_with_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dist(tmp_path, "nameless", "2.0", metadata="Metadata-Version: 2.1\nSummary: x\n")
    result = gather_on(monkeypatch, tmp_path)
    (dist,) = result["packages"]["distributions"]
    assert dist["metadata_error"] == "METADATA has no Name or Version field"
    assert (dist["name"], dist["version"]) == ("nameless", "2.0")


def test_nameless_metadata_dir_does_not_break_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "-.dist-info").mkdir()
    make_dist(tmp_path, "torch", "2.5.1", files={"torch/version.py": "cuda = '12.4'\n"})
    result = gather_on(monkeypatch, tmp_path)
    names = sorted(str(d["name"]) for d in result["packages"]["distributions"])
    assert names == ["None", "torch"]
    assert result["packages"]["frameworks"]["torch"]["build"]["cuda"] == "12.4"
    assert result["packages"]["errors"] == []
    validate(result)


def test_syntactically_broken_build_info_is_an_error_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "tensorflow/__init__.py": "",
        "tensorflow/python/platform/build_info.py": "build_info = {'is_cuda_build': True,\n",
    }
    make_dist(tmp_path, "tensorflow", "2.17.0", files=files)
    result = gather_on(monkeypatch, tmp_path)
    build = result["packages"]["frameworks"]["tensorflow"]["build"]
    assert build["source"] == "tensorflow/python/platform/build_info.py"
    assert build["error"].startswith("SyntaxError")
    assert "is_cuda_build" not in build
    validate(result)


def test_build_file_missing_or_provider_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dist(tmp_path, "torch", "2.5.0", files={"torch/__init__.py": ""})
    make_dist(tmp_path, "paddlepaddle-gpu", "3.0.0", files={"paddle/__init__.py": ""})
    make_dist(tmp_path, "onnxruntime-gpu", "1.20.0", files={"onnxruntime/__init__.py": ""})
    (tmp_path / "onnxruntime" / "capi").mkdir()
    write(tmp_path / "onnxruntime/capi/build_and_package_info.py", "cuda_version = '12.4'\0\n")
    result = gather_on(monkeypatch, tmp_path)
    frameworks = result["packages"]["frameworks"]
    assert frameworks["torch"]["build"] == {
        "source": False,
        "error": "torch/version.py not found in torch 2.5.0",
    }
    assert frameworks["paddle"]["build"]["error"].startswith("paddle/version/__init__.py not found")
    assert "null bytes" in frameworks["onnxruntime"]["build"]["error"]


def test_companion_without_its_framework(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist(tmp_path, "torchvision", "0.20.0", files={"torchvision/__init__.py": ""})
    result = gather_on(monkeypatch, tmp_path)
    torch = result["packages"]["frameworks"]["torch"]
    assert torch["distributions"] == [{"name": "torchvision", "version": "0.20.0"}]
    assert torch["build"]["error"] == "no installed distribution provides 'torch'"


def test_two_copies_in_two_dirs_are_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, venv = tmp_path / "user", tmp_path / "venv"
    make_dist(user, "numpy", "1.26.4", files={"numpy/__init__.py": "# old"})
    make_dist(venv, "numpy", "2.1.0", files={"numpy/__init__.py": "# new"})
    result = gather_on(monkeypatch, user, venv)
    assert result["packages"]["duplicates"] == [
        {
            "name": "numpy",
            "copies": [
                {"version": "1.26.4", "location": str(user)},
                {"version": "2.1.0", "location": str(venv)},
            ],
        }
    ]
    assert result["packages"]["module_conflicts"] == []  # one distribution, not two
    validate(result)


def test_same_directory_twice_on_sys_path_is_one_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dist(tmp_path, "numpy", "2.1.0")
    result = gather_on(monkeypatch, tmp_path, str(tmp_path) + "/", tmp_path / "." / "")
    assert len(result["packages"]["distributions"]) == 1
    assert result["packages"]["duplicates"] == []


def test_leftover_dist_info_in_one_dir_is_a_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dist(tmp_path, "protobuf", "4.25.0")
    make_dist(tmp_path, "protobuf", "5.28.0")
    result = gather_on(monkeypatch, tmp_path)
    (dup,) = result["packages"]["duplicates"]
    assert sorted(c["version"] for c in dup["copies"]) == ["4.25.0", "5.28.0"]


def test_tensorflow_and_tensorflow_cpu_are_a_module_conflict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"tensorflow/__init__.py": "", "tensorflow/python/ops.py": ""}
    make_dist(tmp_path, "tensorflow", "2.17.0", files=files)
    make_dist(tmp_path, "tensorflow-cpu", "2.16.1", files=files, top_level="tensorflow\n")
    result = gather_on(monkeypatch, tmp_path)
    (conflict,) = result["packages"]["module_conflicts"]
    assert conflict["module"] == "tensorflow"
    assert sorted(conflict["distributions"]) == ["tensorflow", "tensorflow-cpu"]
    assert conflict["shared_files"] == 1  # ops.py; the __init__.py alone would not count
    tf = result["packages"]["frameworks"]["tensorflow"]
    assert len(tf["distributions"]) == 2
    validate(result)


def test_nvidia_namespace_wheels_are_not_a_conflict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cublas = {"nvidia/__init__.py": "", "nvidia/cublas/lib/libcublas.so.12": ""}
    cudnn = {"nvidia/__init__.py": "", "nvidia/cudnn/lib/libcudnn.so.9": ""}
    make_dist(tmp_path, "nvidia-cublas-cu12", "12.6.4.1", files=cublas)
    make_dist(tmp_path, "nvidia-cudnn-cu12", "9.5.1.17", files=cudnn)
    make_dist(tmp_path, "nvidia-cublas", "13.0.0.19", files={"nvidia/cu13/lib/libcublas.so.13": ""})
    make_dist(tmp_path, "nvidia-ml-py", "12.560.30", files={"pynvml.py": ""})
    result = gather_on(monkeypatch, tmp_path)
    assert result["packages"]["module_conflicts"] == []
    wheels = sorted(result["packages"]["nvidia_wheels"], key=lambda w: w["name"])
    assert wheels == [
        {
            "name": "nvidia-cublas",
            "version": "13.0.0.19",
            "cuda_major": False,
            "component": "cublas",
        },
        {
            "name": "nvidia-cublas-cu12",
            "version": "12.6.4.1",
            "cuda_major": 12,
            "component": "cublas",
        },
        {
            "name": "nvidia-cudnn-cu12",
            "version": "9.5.1.17",
            "cuda_major": 12,
            "component": "cudnn",
        },
    ]


def test_same_nvidia_library_for_two_cuda_majors_is_a_conflict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"nvidia/__init__.py": "", "nvidia/cublas/lib/libcublas.so": ""}
    make_dist(tmp_path, "nvidia-cublas-cu11", "11.11.3.6", files=files)
    make_dist(tmp_path, "nvidia-cublas-cu12", "12.6.4.1", files=files)
    result = gather_on(monkeypatch, tmp_path)
    (conflict,) = result["packages"]["module_conflicts"]
    assert conflict["module"] == "nvidia" and conflict["shared_files"] == 1


def test_shared_test_dirs_are_not_conflicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dist(tmp_path, "a", "1", files={"a.py": "", "tests/test_x.py": ""})
    make_dist(tmp_path, "b", "1", files={"b.py": "", "tests/test_x.py": ""})
    result = gather_on(monkeypatch, tmp_path)
    assert result["packages"]["module_conflicts"] == []


def test_nvidia_pins_are_the_requirements_naming_nvidia_wheels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requires = [
        "filelock",
        'nvidia-cudnn-cu12==9.1.0.70; platform_system == "Linux"',
        "nvidia-ml-py>=12",
        "Nvidia_NCCL_cu12==2.21.5",
    ]
    make_dist(tmp_path, "torch", "2.5.1", requires=requires)
    result = gather_on(monkeypatch, tmp_path)
    assert result["packages"]["nvidia_pins"] == {"torch": [requires[1], requires[3]]}
    (torch,) = by_name(result, "torch")
    assert torch["requires"] == requires


def test_jax_cuda_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist(tmp_path, "jax", "0.4.35")
    make_dist(tmp_path, "jaxlib", "0.4.35")
    make_dist(tmp_path, "jax-cuda12-plugin", "0.4.35")
    make_dist(tmp_path, "jax-cuda12-pjrt", "0.4.35")
    result = gather_on(monkeypatch, tmp_path)
    build = result["packages"]["frameworks"]["jax"]["build"]
    assert build["jaxlib"] == "0.4.35"
    assert sorted((p["name"], p["backend"], p["major"]) for p in build["plugins"]) == [
        ("jax-cuda12-pjrt", "cuda", 12),
        ("jax-cuda12-plugin", "cuda", 12),
    ]


def test_record_paths_give_top_level_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "pkg/__init__.py": "",
        "single.py": "",
        "_native.cpython-311-x86_64-linux-gnu.so": "",
        "__pycache__/single.cpython-311.pyc": "",
        "odd,name/__init__.py": "",
        "multi.pth": "",
    }
    make_dist(tmp_path, "pkg", "1.0", files=files)
    result = gather_on(monkeypatch, tmp_path)
    (pkg,) = result["packages"]["distributions"]
    assert pkg["top_level"] == ["_native", "pkg", "single"]


def test_egg_info_reads_pkg_info_and_requires_txt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    egg = tmp_path / "legacy-0.9-py3.11.egg-info"
    write(egg / "PKG-INFO", "Metadata-Version: 1.1\nName: legacy\nVersion: 0.9\n")
    write(egg / "requires.txt", "six>=1.10\n\n[cuda]\ncupy\n")
    write(egg / "installed-files.txt", "../legacy/__init__.py\nPKG-INFO\n")
    result = gather_on(monkeypatch, tmp_path)
    (legacy,) = result["packages"]["distributions"]
    assert (legacy["name"], legacy["version"], legacy["installer"]) == ("legacy", "0.9", None)
    assert legacy["requires"][0] == "six>=1.10"
    assert 'extra == "cuda"' in legacy["requires"][1]
    assert legacy["top_level"] == ["legacy"]


def test_conda_meta_marks_installer_conda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "lib/python3.11/site-packages"
    make_dist(site, "numpy", "1.26.4", installer="pip")
    make_dist(site, "torch", "2.5.1", installer="pip")
    record = {
        "name": "numpy",
        "files": ["lib/python3.11/site-packages/numpy-1.26.4.dist-info/METADATA"],
    }
    write(tmp_path / "conda-meta/numpy-1.26.4-py311h.json", json.dumps(record))
    write(
        tmp_path / "conda-meta/history", "==> 2024 <==\n# cmd: /opt/conda/bin/conda create -n ml\n"
    )
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setenv("CONDA_PREFIX", str(tmp_path))
    monkeypatch.setenv("CONDA_DEFAULT_ENV", "ml")
    monkeypatch.delenv("MAMBA_ROOT_PREFIX", raising=False)
    result = gather_on(monkeypatch, site)
    assert by_name(result, "numpy")[0]["installer"] == "conda"
    assert by_name(result, "torch")[0]["installer"] == "pip"
    assert result["python"]["environment"] == {
        "manager": "conda",
        "name": "ml",
        "evidence": "conda-meta/ in prefix",
    }


# ---- environment managers ---------------------------------------------------------------------


ENVIRONMENTS = [
    # manager expected, prefix under tmp_path, a file there, its text, environment variables
    ("uv", "p/.venv", "pyvenv.cfg", "home = /usr/bin\nuv = 0.4.1", {}),
    ("virtualenv", "envs/ml", "pyvenv.cfg", "virtualenv = 20.26.0", {}),
    ("venv", "envs/ml", "pyvenv.cfg", "home = /usr/bin", {}),
    ("poetry", ".cache/pypoetry/virtualenvs/p-x-py3.11", "pyvenv.cfg", "virtualenv = 20", {}),
    ("poetry", "p/.venv", "pyvenv.cfg", "virtualenv = 20", {"POETRY_ACTIVE": "1"}),
    ("pipenv", ".local/share/virtualenvs/p-AbCd", "pyvenv.cfg", "virtualenv = 20", {}),
    ("pipenv", "p/.venv", "pyvenv.cfg", "virtualenv = 20", {"PIPENV_ACTIVE": "1"}),
    ("mamba", "envs/x", "conda-meta/history", "# cmd: /opt/mf/bin/mamba create -n x", {}),
    ("conda", "envs/x", "conda-meta/history", "# cmd: /opt/conda/bin/conda create -n x", {}),
    ("pyenv", ".pyenv/versions/3.12.4", "bin/python", "", {}),
    ("uv", ".local/share/uv/python/cpython-3.12.4-linux-x86_64-gnu", "bin/python", "", {}),
    ("system", "usr", "bin/python", "", {}),
]


@pytest.mark.parametrize(("manager", "where", "path", "text", "environ"), ENVIRONMENTS)
def test_environment_manager_from_evidence(
    tmp_path: Path, manager: str, where: str, path: str, text: str, environ: dict[str, str]
) -> None:
    prefix = tmp_path / where
    write(prefix / path, text + "\n")
    if environ:  # the *_ACTIVE variables count only for the environment that is active
        assert interpreter.environment(str(prefix), environ)["manager"] == "virtualenv"
        environ = {**environ, "VIRTUAL_ENV": str(prefix)}
    found = interpreter.environment(str(prefix), environ)
    assert found["manager"] == manager
    assert found["evidence"]


def test_environment_evidence_quotes_pyvenv_cfg(tmp_path: Path) -> None:
    write(tmp_path / "pyvenv.cfg", "home = /usr/bin\nuv = 0.4.1\n")
    assert interpreter.environment(str(tmp_path), {})["evidence"] == "pyvenv.cfg: uv = 0.4.1"


def test_environment_name_prefers_prompt_and_pyenv_version(tmp_path: Path) -> None:
    write(tmp_path / "v/pyvenv.cfg", "prompt = my-project\nuv = 0.5\n")
    assert interpreter.environment(str(tmp_path / "v"), {})["name"] == "my-project"
    write(tmp_path / ".pyenv/versions/3.10.13/bin/python", "")
    assert (
        interpreter.environment(str(tmp_path / ".pyenv/versions/3.10.13"), {})["name"] == "3.10.13"
    )


def test_mamba_root_prefix_means_mamba(tmp_path: Path) -> None:
    write(tmp_path / "mamba/envs/x/conda-meta/history", "")
    env = {"MAMBA_ROOT_PREFIX": str(tmp_path / "mamba")}
    assert interpreter.environment(str(tmp_path / "mamba/envs/x"), env)["manager"] == "mamba"


# ---- build file readers -----------------------------------------------------------------------


def test_tensorflow_build_info_formats() -> None:
    gpu = (
        "import collections\n"
        "build_info = collections.OrderedDict([('cuda_compute_capabilities',"
        " ['sm_60', 'compute_90']), ('cuda_version', '12.5.1'), ('cudnn_version', '9'),"
        " ('is_cuda_build', True)])\n"
    )
    assert interpreter.tensorflow_build_info(ast.parse(gpu)) == {
        "cuda_compute_capabilities": ["sm_60", "compute_90"],
        "cuda_version": "12.5.1",
        "cudnn_version": "9",
        "is_cuda_build": True,
    }
    plain = "build_info = {'is_rocm_build': True, 'rocm_version': (6, 1)}\n"
    assert interpreter.tensorflow_build_info(ast.parse(plain)) == {
        "is_rocm_build": True,
        "rocm_version": [6, 1],
    }
    old = "is_cuda_build = True\ncuda_version_number = '10.1'\n"
    assert interpreter.tensorflow_build_info(ast.parse(old))["cuda_version_number"] == "10.1"
    computed = "import os\nbuild_info = load(os.environ['X'])\n"
    with pytest.raises(ValueError, match="not a literal dict"):
        interpreter.tensorflow_build_info(ast.parse(computed))


def test_module_literals_skip_computed_values() -> None:
    tree = ast.parse(
        "from typing import Optional\n"
        "__all__ = ['cuda']\n"
        "__version__ = '2.5.1+cu124'\n"
        "cuda: Optional[str] = '12.4'\n"
        "hip = None\n"
        "git_version = get_git()\n"
        "archs = {'sm_90'}\n"
    )
    assert interpreter.module_literals(tree) == {
        "__version__": "2.5.1+cu124",
        "cuda": "12.4",
        "hip": None,
        "archs": ["sm_90"],
    }
