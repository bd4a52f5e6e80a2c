"""Golden renderings of fix intents for each installer an environment can use."""

from __future__ import annotations

from dldoctor.fixes.commands import shown
from dldoctor.fixes.installers import Install, Installer, installer_for, render
from tests.checks.scenarios import dist, make_facts, with_packages


def shown_all(commands):
    return tuple(shown(c) for c in commands)


TORCH = Install(
    ("torch==2.13.0+cu130", "torchvision==0.28.0+cu130"),
    index_url="https://download.pytorch.org/whl/cu130",
)
TF = Install(("tensorflow[and-cuda]==2.21.0",), remove_first=("tensorflow-cpu",))


def env(manager: str, installer: str = "pip") -> object:
    return make_facts(
        {"python": {"environment": {"manager": manager}}},
        with_packages(
            dist("torch", "2.13.0+cpu", installer=installer),
            dist("tensorflow-cpu", "2.21.0", installer=installer),
        ),
    )


def test_pip_in_a_venv():
    facts = env("venv")
    assert installer_for(facts, "torch") is Installer.PIP
    assert shown_all(render(TORCH, facts)) == (
        "/env/bin/python -m pip install torch==2.13.0+cu130 torchvision==0.28.0+cu130 "
        "--index-url https://download.pytorch.org/whl/cu130",
    )
    assert shown_all(render(TF, facts)) == (
        "/env/bin/python -m pip uninstall -y tensorflow-cpu",
        "/env/bin/python -m pip install 'tensorflow[and-cuda]==2.21.0'",
    )


def test_uv_when_uv_installed_the_package():
    facts = env("uv", installer="uv")
    assert shown_all(render(TORCH, facts)) == (
        "uv pip install --python /env/bin/python torch==2.13.0+cu130 torchvision==0.28.0+cu130 "
        "--index-url https://download.pytorch.org/whl/cu130",
    )
    assert shown_all(render(TF, facts)) == (
        "uv pip uninstall --python /env/bin/python tensorflow-cpu",
        "uv pip install --python /env/bin/python 'tensorflow[and-cuda]==2.21.0'",
    )


def test_uv_targets_another_interpreter_explicitly():
    facts = make_facts(
        {"python": {"command": "/envs/train/bin/python", "environment": {"manager": "uv"}}},
        with_packages(dist("torch", "2.13.0+cpu", installer="uv")),
    )
    assert shown_all(render(TORCH, facts))[0].startswith(
        "uv pip install --python /envs/train/bin/python torch=="
    )


def test_poetry_adds_an_explicit_source_for_a_wheel_index():
    facts = env("poetry")
    assert shown_all(render(TORCH, facts)) == (
        "poetry source add --priority=explicit wheels-cu130 https://download.pytorch.org/whl/cu130",
        "poetry add torch==2.13.0+cu130 torchvision==0.28.0+cu130 --source wheels-cu130",
    )
    assert shown_all(render(TF, facts)) == (
        "poetry remove tensorflow-cpu",
        "poetry add 'tensorflow[and-cuda]==2.21.0'",
    )


def test_conda_owned_package_is_removed_with_conda_and_replaced_with_pip():
    facts = env("conda", installer="conda")
    assert shown_all(render(TF, facts)) == (
        "conda remove --prefix /env --force -y tensorflow-cpu",
        "/env/bin/python -m pip install 'tensorflow[and-cuda]==2.21.0'",
    )


def test_a_requirement_or_name_that_is_not_plain_pep_508_makes_no_command():
    facts = env("venv")
    for hostile in (
        "numpy; touch /tmp/x",
        "$(touch /tmp/x)",
        "evil @ https://evil.example/evil.whl",
        "--index-url=https://evil.example/simple",
        "-r/etc/passwd",
        "numpy==1.0 --pre",
        "numpy==1.0;python_version>'3'",
        "numpy\n==1.0",
        "numpy==1.0\n",
    ):
        assert render(Install((hostile,)), facts) == ()
        assert render(Install(("numpy<2",), remove_first=(hostile,)), facts) == ()
    for plain in ("numpy<2", "jax[cuda12]==0.10.2", "torch==2.13.0+cu130", "tf-keras~=2.21.0"):
        assert render(Install((plain,)), facts)[0][-1] == plain


def test_each_copy_of_a_duplicate_gets_its_own_uninstall():
    (*uninstalls, install) = render(
        Install(("numpy==2.1.0",), remove_first=("numpy",), copies=2), env("venv")
    )
    assert uninstalls == [("/env/bin/python", "-m", "pip", "uninstall", "-y", "numpy")] * 2
    assert install == ("/env/bin/python", "-m", "pip", "install", "numpy==2.1.0")
