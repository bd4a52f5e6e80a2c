"""Which installer changes an environment, and each one's exact words, written from the rules:
the tool that manages the project, else the one that installed the distribution; the judged
interpreter by absolute path; conda's files removed by conda; nothing from a crafted argument."""

from __future__ import annotations

import pytest

from dldoctor.fixes.installers import (
    Install,
    Installer,
    build_options,
    conda_owned,
    conda_tool,
    index_options,
    installer_for,
    note,
    pdm,
    pip,
    pixi,
    poetry,
    render,
    source_name,
    uv,
)
from dldoctor.fixes.installers import conda as conda_words
from tests.checks.scenarios import dist, make_facts, with_packages

PY = "/env/bin/python"
CU130 = "https://download.pytorch.org/whl/cu130"
PYG = "https://data.pyg.org/whl/torch-2.13.0+cu130.html"


def env(manager: str = "venv", *dists: dict, prefix: str = "/env", **python: str) -> object:
    return make_facts(
        {"python": {"prefix": prefix, "environment": {"manager": manager}, **python}},
        with_packages(*dists),
    )


# -- which installer ------------------------------------------------------------------------


@pytest.mark.parametrize("manager", ["poetry", "pdm", "pixi", "Poetry", "PDM"])
def test_a_project_tool_managing_the_environment_wins_over_who_installed_it(manager):
    facts = env(manager, dist("torch", "2.13.0", installer="uv"))
    assert installer_for(facts, "torch") is Installer(manager.lower())
    assert installer_for(facts) is Installer(manager.lower())


@pytest.mark.parametrize("prefix", ["/proj/.pixi/envs/default", "/proj/.pixi/envs/cuda"])
def test_a_pixi_environment_is_known_by_where_it_lives(prefix):
    facts = env("conda", dist("torch", "2.13.0", installer="conda"), prefix=prefix)
    assert installer_for(facts, "torch") is Installer.PIXI


@pytest.mark.parametrize("prefix", ["/proj/pixi/envs/default", "/proj/.pixi/env/default", "/env"])
def test_a_prefix_that_only_looks_like_pixis_is_not(prefix):
    assert installer_for(env("venv", prefix=prefix)) is Installer.PIP


@pytest.mark.parametrize(
    ("recorded", "tool"),
    [
        ("uv", Installer.UV),
        ("pdm", Installer.PDM),
        ("pixi", Installer.PIXI),
        (" UV\n", Installer.UV),  # INSTALLER files end in a newline; case is not meaning
        ("pip", Installer.PIP),
        ("conda", Installer.PIP),  # inside conda, pip installs the frameworks' wheels
        ("poetry", Installer.PIP),  # poetry installs with pip's layout; no project manages it
        ("", Installer.PIP),
    ],
)
def test_the_installer_that_installed_the_distribution(recorded, tool):
    facts = env("venv", dist("torch", "2.13.0", installer=recorded))
    assert installer_for(facts, "torch") is tool


def test_a_uv_environment_uses_uv_unless_the_distribution_says_otherwise():
    facts = env(
        "uv",
        dist("torch", "2.13.0", installer=""),
        dist("numpy", "2.1.0", installer="pip"),
    )
    assert installer_for(facts, "torch") is Installer.UV  # no INSTALLER record: the env's
    assert installer_for(facts) is Installer.UV  # no distribution named: the env's
    assert installer_for(facts, "numpy") is Installer.PIP  # pip put it there: pip exists
    assert installer_for(facts, "not-installed") is Installer.UV


def test_conda_and_venv_environments_use_pip():
    assert installer_for(env("conda")) is Installer.PIP
    assert installer_for(env("mamba")) is Installer.PIP
    assert installer_for(env("venv")) is Installer.PIP
    assert installer_for(env("")) is Installer.PIP


def test_mamba_where_mamba_made_the_environment():
    assert conda_tool(env("mamba")) == "mamba"
    assert conda_tool(env("Mamba")) == "mamba"
    assert conda_tool(env("conda")) == "conda"
    assert conda_tool(env("venv")) == "conda"


def test_conda_owned_by_its_installer_file_or_its_conda_meta_record():
    facts = env(
        "conda",
        dist("a", "1", installer="conda"),
        dist("b", "1", installer=" Conda\n"),
        dist("c", "1", installer="pip", conda={"name": "c"}),
        dist("d", "1", installer="pip"),
        dist("e", "1", installer="pip", conda={}),
    )
    assert [n for n in "abcde" if conda_owned(facts, n)] == ["a", "b", "c"]
    assert not conda_owned(facts, "missing")


# -- pip and uv -----------------------------------------------------------------------------


def test_pip_by_the_judged_interpreters_absolute_path():
    facts = env("venv", command="/envs/train/bin/python")
    intent = Install(("numpy==2.1.0",), remove_first=("numpy",), copies=3, reinstall=True)
    assert render(intent, facts) == (
        *(("/envs/train/bin/python", "-m", "pip", "uninstall", "-y", "numpy"),) * 3,
        ("/envs/train/bin/python", "-m", "pip", "install", "--force-reinstall", "numpy==2.1.0"),
    )


def test_uv_names_the_interpreter_and_reinstalls_with_its_own_flag():
    facts = env("uv")
    intent = Install(("numpy==2.1.0",), remove_first=("numpy",), copies=2, reinstall=True)
    assert render(intent, facts) == (
        *(("uv", "pip", "uninstall", "--python", PY, "numpy"),) * 2,
        ("uv", "pip", "install", "--python", PY, "--reinstall", "numpy==2.1.0"),
    )


def test_a_removal_only_intent():
    intent = Install((), remove_first=("tensorflow-cpu", "keras"), copies=2)
    assert (
        render(intent, env("venv"))
        == ((PY, "-m", "pip", "uninstall", "-y", "tensorflow-cpu", "keras"),) * 2
    )
    assert (
        render(intent, env("uv"))
        == (("uv", "pip", "uninstall", "--python", PY, "tensorflow-cpu", "keras"),) * 2
    )
    assert render(Install((), remove_first=("x",)), env("poetry")) == (("poetry", "remove", "x"),)


def test_nothing_to_install_or_remove_renders_nothing():
    for manager in ("venv", "uv", "poetry", "pdm", "pixi"):
        assert render(Install(()), env(manager)) == ()


def test_index_options_in_pips_order_for_pip_and_uv():
    intent = Install(
        ("torch==2.13.0",),
        index_url=CU130,
        extra_index_url="https://pypi.example.org/simple",
        find_links=PYG,
    )
    assert index_options(intent) == (
        "--index-url",
        CU130,
        "--extra-index-url",
        "https://pypi.example.org/simple",
        "--find-links",
        PYG,
    )
    assert index_options(Install(("torch",), find_links=PYG)) == ("--find-links", PYG)
    assert index_options(Install(("torch",))) == ()
    (command,) = render(intent, env("uv"))
    assert command[-6:] == index_options(intent)


def test_a_build_against_the_installed_framework_has_no_isolation_and_no_cached_wheel():
    intent = Install(("flash-attn==2.8.3", "apex>=0.1"), reinstall=True, build=True)
    assert build_options(intent, "--no-cache-dir") == (
        "--no-build-isolation",
        "--no-cache-dir",
        "--no-binary",
        "flash-attn",
        "--no-binary",
        "apex",
    )
    assert build_options(Install(("flash-attn==2.8.3",)), "--no-cache-dir") == ()
    assert render(intent, env("venv")) == (
        (
            PY,
            "-m",
            "pip",
            "install",
            "--force-reinstall",
            "flash-attn==2.8.3",
            "apex>=0.1",
            "--no-build-isolation",
            "--no-cache-dir",
            "--no-binary",
            "flash-attn",
            "--no-binary",
            "apex",
        ),
    )
    (command,) = render(intent, env("uv"))
    assert command[-6:-4] == ("--no-build-isolation", "--no-cache")


@pytest.mark.parametrize(
    ("requirement", "name"),
    [
        ("torch==2.13.0+cu130", "torch"),
        ("jax[cuda13]==0.10.2", "jax"),
        ("numpy<2", "numpy"),
        ("numpy>1", "numpy"),
        ("numpy>=2", "numpy"),
        ("numpy<=2", "numpy"),
        ("numpy!=2.0.0", "numpy"),
        ("tf-keras~=2.21.0", "tf-keras"),
    ],
)
def test_a_build_names_each_requirements_distribution_for_no_binary(requirement, name):
    assert build_options(Install((requirement,), build=True), "--no-cache") == (
        "--no-build-isolation",
        "--no-cache",
        "--no-binary",
        name,
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://data.pyg.org/whl/torch-2.13.0+cu130.html",  # not https
        "https://data.pyg.org/whl/x.html?a=b",
        "https://data.pyg.org/whl/x y.html",
        "https://user@data.pyg.org/whl/",
        "https://data.pyg.org/whl/x.html\n",
        "file:///etc/passwd",
    ],
)
def test_a_wheel_page_that_is_not_a_plain_https_url_makes_no_command(url):
    for manager in ("venv", "uv"):
        assert render(Install(("torch-scatter",), find_links=url), env(manager)) == ()
        assert (
            render(Install(("torch-scatter==2.1",), build=True, find_links=url), env(manager)) == ()
        )


def test_a_plain_https_wheel_page_is_used():
    for url in (PYG, "https://data.pyg.org", "https://data.pyg.org/whl/torch-2.13.0%2Bcu130.html"):
        (command,) = render(Install(("torch-scatter",), find_links=url), env("venv"))
        assert command == (PY, "-m", "pip", "install", "torch-scatter", "--find-links", url)


@pytest.mark.parametrize("manager", ["poetry", "pdm", "pixi"])
def test_a_project_tool_has_no_words_for_a_build_or_a_wheel_page(manager):
    assert render(Install(("torch-scatter",), find_links=PYG), env(manager)) == ()
    assert render(Install(("flash-attn==2.8.3",), build=True), env(manager)) == ()
    assert render(Install(("flash-attn==2.8.3",)), env(manager)) != ()


# -- conda's files and conda packages ---------------------------------------------------------


def test_conda_installed_distributions_are_removed_by_conda_by_their_conda_names():
    facts = env(
        "conda",
        dist("torch", "2.3.0", installer="conda", conda={"name": "pytorch"}),
        dist("torchvision", "0.18.0", installer="conda"),
        dist("numpy", "1.26.4", installer="pip"),
    )
    intent = Install(
        ("torch==2.13.0+cu130",), remove_first=("torch", "torchvision", "numpy"), index_url=CU130
    )
    assert render(intent, facts) == (
        ("conda", "remove", "--prefix", "/env", "--force", "-y", "pytorch", "torchvision"),
        (PY, "-m", "pip", "uninstall", "-y", "numpy"),
        (PY, "-m", "pip", "install", "torch==2.13.0+cu130", "--index-url", CU130),
    )
    assert render(Install((), remove_first=("torch",)), facts) == (
        ("conda", "remove", "--prefix", "/env", "--force", "-y", "pytorch"),
    )


def test_a_crafted_conda_name_is_never_an_argument():
    facts = env("conda", dist("torch", "2.3.0", installer="conda", conda={"name": "--all"}))
    assert render(Install((), remove_first=("torch",)), facts) == (
        ("conda", "remove", "--prefix", "/env", "--force", "-y"),
    )


def test_mamba_removes_what_it_installed():
    facts = env("mamba", dist("torch", "2.3.0", installer="conda"))
    assert render(Install((), remove_first=("torch",)), facts)[0][:2] == ("mamba", "remove")


def test_conda_packages_by_conda_whoever_installed_the_rest():
    intent = Install(("cudatoolkit>=11.2,<12", "cudnn"), remove_first=("cpuonly",), manager="conda")
    assert render(intent, env("conda")) == (
        ("conda", "remove", "--prefix", "/env", "--force", "-y", "cpuonly"),
        ("conda", "install", "--prefix", "/env", "-y", "cudatoolkit>=11.2,<12", "cudnn"),
    )
    assert render(Install(("cudnn",), manager="conda"), env("uv")) == (
        ("conda", "install", "--prefix", "/env", "-y", "cudnn"),
    )
    assert render(Install((), remove_first=("cpuonly",), manager="conda"), env("mamba")) == (
        ("mamba", "remove", "--prefix", "/env", "--force", "-y", "cpuonly"),
    )


def test_conda_packages_in_a_pixi_environment_are_pixis_without_pypi():
    intent = Install(("cudnn",), remove_first=("cpuonly", "pytorch-mutex"), manager="conda")
    assert render(intent, env("pixi")) == (
        ("pixi", "remove", "cpuonly", "pytorch-mutex"),
        ("pixi", "add", "cudnn"),
    )
    assert render(Install(("cudnn",), manager="conda"), env("pixi")) == (("pixi", "add", "cudnn"),)
    assert render(Install((), remove_first=("cpuonly",), manager="conda"), env("pixi")) == (
        ("pixi", "remove", "cpuonly"),
    )


def test_conda_without_a_known_prefix_is_shown_without_one():
    facts = env("conda", prefix="relative/env")
    assert conda_words.remove(["cpuonly"], facts) == (
        ("conda", "remove", "--force", "-y", "cpuonly"),
    )
    assert conda_words.install(["cudnn"], facts) == (("conda", "install", "-y", "cudnn"),)


def test_conda_install_refuses_a_spec_that_is_not_plain():
    facts = env("conda")
    assert conda_words.install([], facts) == ()
    assert conda_words.install(["cudnn", "--override-channels"], facts) == ()
    assert conda_words.install(["cudnn; rm -rf /"], facts) == ()
    assert conda_words.install(["cudnn=9"], facts) == ()  # a conda "=" spec is not PEP 508
    assert conda_words.install(["cudnn>=9", "nccl"], facts) == (
        ("conda", "install", "--prefix", "/env", "-y", "cudnn>=9", "nccl"),
    )


# -- project tools ----------------------------------------------------------------------------


def test_source_name_is_the_indexs_last_path_part():
    assert source_name(CU130) == "wheels-cu130"
    assert source_name(CU130 + "/") == "wheels-cu130"
    assert source_name("https://www.paddlepaddle.org.cn/packages/stable/cu126/") == "wheels-cu126"


def test_poetry_words():
    intent = Install(("torch==2.13.0+cu130",), remove_first=("torch", "triton"), index_url=CU130)
    assert poetry.render(intent) == (
        ("poetry", "remove", "torch"),
        ("poetry", "remove", "triton"),
        ("poetry", "source", "add", "--priority=explicit", "wheels-cu130", CU130),
        ("poetry", "add", "torch==2.13.0+cu130", "--source", "wheels-cu130"),
    )
    assert poetry.render(Install(("numpy<2",))) == (("poetry", "add", "numpy<2"),)
    assert poetry.render(Install((), remove_first=("a", "b"))) == (
        ("poetry", "remove", "a"),
        ("poetry", "remove", "b"),
    )


def test_pdm_words():
    intent = Install(("torch==2.13.0+cu130",), remove_first=("torch",), index_url=CU130)
    assert pdm.render(intent) == (
        ("pdm", "remove", "torch"),
        ("pdm", "config", "--local", "pypi.wheels-cu130.url", CU130),
        ("pdm", "add", "torch==2.13.0+cu130"),
    )
    assert pdm.render(Install(("numpy<2", "scipy"))) == (("pdm", "add", "numpy<2", "scipy"),)
    assert pdm.render(Install((), remove_first=("a", "b"))) == (
        ("pdm", "remove", "a"),
        ("pdm", "remove", "b"),
    )
    assert render(intent, env("pdm")) == pdm.render(intent)


def test_pixi_words():
    facts = env(
        "pixi",
        dist("torch", "2.3.0", installer="conda"),
        dist("numpy", "1.26.4", installer="uv"),
    )
    intent = Install(("torch==2.13.0",), remove_first=("torch", "numpy"), index_url=CU130)
    assert pixi.render(intent, facts) == (
        ("pixi", "remove", "torch"),  # a conda package of the environment
        ("pixi", "remove", "--pypi", "numpy"),
        ("pixi", "add", "--pypi", "torch==2.13.0"),
    )
    assert pixi.render(Install((), remove_first=("numpy",)), facts) == (
        ("pixi", "remove", "--pypi", "numpy"),
    )
    assert render(intent, facts) == pixi.render(intent, facts)


def test_pixi_is_told_where_the_wheel_index_goes():
    said = f'First add extra-index-urls = ["{CU130}"] under [pypi-options] in pixi.toml.'
    intent = Install(("torch==2.13.0",), index_url=CU130)
    assert pixi.note(intent) == said
    assert pixi.note(Install(("torch==2.13.0",))) == ""
    assert pixi.note(Install((), remove_first=("torch",), index_url=CU130)) == ""
    facts = env("pixi", dist("torch", "2.3.0"))
    assert note(intent, facts) == said
    assert note(intent, facts, "Then run the check.") == f"{said} Then run the check."
    assert note(Install(("torch==2.13.0",)), facts, "kept") == "kept"
    for manager in ("venv", "uv", "poetry", "pdm"):
        assert note(intent, env(manager), "kept") == "kept"
    removal = Install(("torch==2.13.0",), remove_first=("torch",), index_url=CU130)
    assert note(removal, facts) == said


# -- the installers' own modules, called directly ---------------------------------------------


def test_pip_and_uv_modules_put_removals_before_the_install():
    facts = env("venv")
    intent = Install(("numpy==2.1.0",), copies=2, index_url=CU130)
    assert pip.render(intent, ("numpy",), facts) == (
        (PY, "-m", "pip", "uninstall", "-y", "numpy"),
        (PY, "-m", "pip", "uninstall", "-y", "numpy"),
        (PY, "-m", "pip", "install", "numpy==2.1.0", "--index-url", CU130),
    )
    assert pip.render(intent, (), facts) == (
        (PY, "-m", "pip", "install", "numpy==2.1.0", "--index-url", CU130),
    )
    assert uv.render(intent, ("numpy",), facts) == (
        ("uv", "pip", "uninstall", "--python", PY, "numpy"),
        ("uv", "pip", "uninstall", "--python", PY, "numpy"),
        ("uv", "pip", "install", "--python", PY, "numpy==2.1.0", "--index-url", CU130),
    )
    assert uv.render(intent, (), facts) == (
        ("uv", "pip", "install", "--python", PY, "numpy==2.1.0", "--index-url", CU130),
    )


# -- survivors of the mutation run, killed from the rule --------------------------------------


def test_the_distribution_a_requirement_names_is_its_name_before_every_specifier():
    intent = Install(("numpy!=1.0,!=2.0", "scipy<2,<1.5"), build=True)
    assert build_options(intent, "--no-cache") == (
        "--no-build-isolation",
        "--no-cache",
        "--no-binary",
        "numpy",
        "--no-binary",
        "scipy",
    )


def test_the_installer_is_the_one_that_installed_the_distribution_named_first():
    facts = env("venv", dist("torch", "2.13.0", installer="uv"), dist("numpy", "2.1.0"))
    assert render(Install(("torch==2.13.0",)), facts)[0][:3] == ("uv", "pip", "install")
    assert render(Install(("numpy<2",)), facts)[0][1:4] == ("-m", "pip", "install")
    removal = render(Install(("numpy<2",), remove_first=("torch",)), facts)
    assert removal[0][:3] == ("uv", "pip", "uninstall")  # the removed one decides


def test_pixis_note_follows_the_distribution_pixi_installed():
    facts = env("conda", dist("torch", "2.3.0", installer="pixi"), dist("numpy", "2.1.0"))
    said = f'First add extra-index-urls = ["{CU130}"] under [pypi-options] in pixi.toml.'
    assert note(Install(("torch==2.13.0",), index_url=CU130), facts) == said
    assert note(Install(("numpy<2",), index_url=CU130), facts) == ""
    assert note(Install(("numpy<2",), remove_first=("torch",), index_url=CU130), facts) == said
    assert note(Install(("torch==2.13.0",), remove_first=("numpy",), index_url=CU130), facts) == ""
    assert note(Install((), index_url=CU130), facts, "kept") == "kept"


def test_a_windows_pixi_prefix_is_read_with_its_own_separators(monkeypatch):
    import ntpath

    monkeypatch.setattr("os.path.isabs", ntpath.isabs)  # the judged machine is Windows
    facts = env("conda", prefix="C:\\work\\proj\\.pixi\\envs\\default")
    assert installer_for(facts) is Installer.PIXI
    assert installer_for(env("conda", prefix="C:\\work\\proj\\envs\\default")) is Installer.PIP


def test_source_name_strips_only_slashes():
    assert source_name("https://example.org/INDEX/") == "wheels-INDEX"
