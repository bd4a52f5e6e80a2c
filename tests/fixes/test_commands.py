"""Commands as argument vectors: the judged interpreter by absolute path, what `fix --apply` may
run (only what names the judged environment), how each is shown, and which names are plain."""

from __future__ import annotations

import pytest

from dldoctor.fixes.commands import (
    acts_on,
    environment_prefix,
    interpreter,
    rerun,
    safe_name,
    safe_requirement,
    shown,
)
from tests.checks.scenarios import make_facts


def py(**python: object) -> object:
    return make_facts({"python": python})


def test_the_interpreter_is_the_python_path_given_else_the_reports_executable():
    assert interpreter(py(command="/envs/a/bin/python", executable="/envs/b/bin/python")) == (
        "/envs/a/bin/python"
    )
    assert (
        interpreter(py(command="python", executable="/envs/b/bin/python")) == "/envs/b/bin/python"
    )
    assert (
        interpreter(py(command="python3", executable="/envs/b/bin/python")) == "/envs/b/bin/python"
    )
    assert interpreter(py(command=None, executable="/envs/b/bin/python")) == "/envs/b/bin/python"


@pytest.mark.parametrize("executable", ["python", "bin/python", None, 3, ""])
def test_without_an_absolute_path_only_a_name_for_a_person(executable):
    assert interpreter(py(command="python", executable=executable)) == "python"
    assert interpreter(py(command="envs/a/bin/python", executable=executable)) == "python"


def test_the_prefix_only_when_absolute():
    assert environment_prefix(py(prefix="/opt/conda/envs/a")) == "/opt/conda/envs/a"
    for prefix in ("envs/a", None, 1, ""):
        assert environment_prefix(py(prefix=prefix)) is None


JUDGED = py(command="python", executable="/env/bin/python", prefix="/env")


@pytest.mark.parametrize(
    "command",
    [
        ("/env/bin/python", "-m", "pip", "install", "numpy<2"),
        ("/env/bin/python", "-m", "pip", "uninstall", "-y", "numpy"),
        ("uv", "pip", "install", "--python", "/env/bin/python", "numpy<2"),
        ("uv", "pip", "uninstall", "--python", "/env/bin/python", "numpy"),
        ("conda", "remove", "--prefix", "/env", "--force", "-y", "pytorch"),
        ("mamba", "install", "--prefix", "/env", "-y", "cudnn"),
    ],
)
def test_apply_runs_what_names_the_judged_environment(command):
    assert acts_on(command, JUDGED)


@pytest.mark.parametrize(
    "command",
    [
        ("/env/bin/python", "script.py"),  # the interpreter, but not pip
        ("/env/bin/python", "-m", "venv", "x"),
        ("/env/bin/python", "-c", "pip"),
        ("/other/bin/python", "-m", "pip", "install", "numpy"),
        ("python", "-m", "pip", "install", "numpy"),  # whatever PATH finds first
        ("uv", "pip", "install", "numpy"),  # uv would guess the environment
        ("uv", "pip", "install", "--python", "/other/bin/python", "numpy"),
        ("uv", "pip", "install", "numpy", "--python"),  # the flag without its value
        ("uv", "add", "--python", "/env/bin/python", "numpy"),
        ("conda", "install", "-y", "cudnn"),  # the active environment, whichever it is
        ("conda", "install", "--prefix", "/other", "-y", "cudnn"),
        ("micromamba", "install", "--prefix", "/env", "-y", "cudnn"),
        ("poetry", "add", "numpy"),  # the project in the working directory
        ("sudo", "reboot"),
        ("export", "CUDA_HOME=/usr/local/cuda"),
        (),
    ],
)
def test_apply_never_runs_what_could_change_another_environment(command):
    assert not acts_on(command, JUDGED)


def test_nothing_is_run_for_a_report_without_an_absolute_interpreter():
    facts = py(command="python", executable="python", prefix="/env")
    assert not acts_on(("python", "-m", "pip", "install", "numpy"), facts)
    assert not acts_on(("conda", "install", "--prefix", "/env", "-y", "cudnn"), facts)


def test_conda_is_never_run_without_a_known_prefix():
    facts = py(command="python", executable="/env/bin/python", prefix=None)
    assert not acts_on(("conda", "install", "--prefix", "/env", "-y", "cudnn"), facts)
    assert acts_on(("/env/bin/python", "-m", "pip", "install", "numpy"), facts)


def test_a_command_is_shown_quoted_for_its_shell():
    assert shown(("/env/bin/python", "-m", "pip", "install", "numpy<2")) == (
        "/env/bin/python -m pip install 'numpy<2'"
    )
    assert shown(("export", "PATH=/x/bin:$PATH")) == "export 'PATH=/x/bin:$PATH'"
    assert shown(("Set-Item", "Env:CUDA_PATH", "C:\\CUDA\\v12.8")) == (
        "Set-Item Env:CUDA_PATH C:\\CUDA\\v12.8"
    )
    assert shown(("Set-Item", "Env:PATH", "C:\\a b;it's")) == "Set-Item Env:PATH 'C:\\a b;it''s'"
    assert shown(("Remove-Item", "Env:LD_LIBRARY_PATH")) == "Remove-Item Env:LD_LIBRARY_PATH"
    assert shown(()) == ""
    # A POSIX command whose argument looks like PowerShell's is still quoted for sh.
    assert shown(("echo", "Set-Item", "it's")) == "echo Set-Item 'it'\"'\"'s'"


@pytest.mark.parametrize(
    "plain",
    [
        "torch==2.13.0+cu130",
        "jax[cuda13]==0.10.2",
        "numpy<2",
        "a",
        "tf-keras~=2.21.0",
        "x[a,b]>=1,<2",
        "onnxruntime-gpu===1.20.0",
        "torch!=2.0.*",
    ],
)
def test_plain_requirements(plain):
    assert safe_requirement(plain)


@pytest.mark.parametrize(
    "hostile",
    [
        "-r/etc/passwd",
        "--index-url=https://evil.example",
        "numpy; os_name=='nt'",
        "numpy @ https://evil.example/n.whl",
        "numpy==1.0 --pre",
        "numpy\n",
        "numpy-",
        ".numpy",
        "",
        "numpy[",
        "numpy==",
    ],
)
def test_hostile_requirements(hostile):
    assert not safe_requirement(hostile)


def test_plain_names():
    for name in ("tensorflow-cpu", "a", "nvidia-cudnn-cu12", "zope.interface", "A_b"):
        assert safe_name(name)
    for name in ("-y", "--all", "numpy==1", "numpy<2", "", "a b", "numpy\n", "numpy-"):
        assert not safe_name(name)


def test_rerun_keeps_the_python_path_that_was_judged():
    assert rerun(py(command="/envs/a/bin/python")) == (
        "dldoctor",
        "check",
        "--python",
        "/envs/a/bin/python",
    )
    assert rerun(py(command="/envs/a/bin/python"), "--quick", "--json") == (
        "dldoctor",
        "check",
        "--python",
        "/envs/a/bin/python",
        "--quick",
        "--json",
    )
    assert rerun(py(command="python"), "--quick") == ("dldoctor", "check", "--quick")
    assert rerun(py(command=None)) == ("dldoctor", "check")
