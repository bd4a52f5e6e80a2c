"""The matrix data (compat_matrix/ at the repository root) is found by an editable install, a
wheel install and a pipx install alike: real installs of this checkout into new environments."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA_FILES = sorted(p.name for p in (REPO / "compat_matrix").glob("*.toml"))
# What the new environment prints: where its dldoctor is, where it found the data, and that the
# data loads (the loader needs packaging, which these bare environments borrow; see _borrow).
PROBE = (
    "import json, dldoctor, dldoctor.matrix as m; d = m.data_dir(); m.load();"
    "print(json.dumps([dldoctor.__file__, str(d), sorted(p.name for p in d.glob('*.toml'))]))"
)


def _pip(*args: str) -> None:
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True, env=env)


def _site_packages(env_dir: Path) -> Path:
    found = list(env_dir.glob("lib/python3*/site-packages")) or [env_dir / "Lib" / "site-packages"]
    return found[0]


def _borrow(env_dir: Path) -> None:
    """Let a bare environment import dldoctor's dependencies from the test environment's
    site-packages, after its own (a .pth line appends a directory to sys.path)."""
    (_site_packages(env_dir) / "zz_test_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )


def _probe(python: Path) -> tuple[Path, Path, list[str]]:
    out = subprocess.run(
        [str(python), "-I", "-c", PROBE], capture_output=True, text=True, check=True, cwd="/"
    ).stdout
    import json

    module, data, names = json.loads(out)
    return Path(module), Path(data), names


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO))
    (built,) = out.glob("dldoctor-*.whl")
    return built


def _new_env(path: Path) -> Path:
    venv.create(path, with_pip=False)
    _borrow(path)
    return path / "bin" / "python"


def test_wheel_install_finds_the_data_inside_the_package(tmp_path, wheel):
    python = _new_env(tmp_path / "env")
    _pip("--python", str(python), "install", "--no-deps", str(wheel))
    module, data, names = _probe(python)
    assert module.is_relative_to(tmp_path / "env")
    assert data == module.parent / "compat_matrix"
    assert names == DATA_FILES


def test_editable_install_reads_the_checkouts_files(tmp_path):
    python = _new_env(tmp_path / "env")
    _pip("--python", str(python), "install", "--no-deps", "--no-build-isolation", "-e", str(REPO))
    module, data, names = _probe(python)
    assert module == REPO / "dldoctor" / "__init__.py"
    assert data == REPO / "compat_matrix"  # an edit to the data shows without reinstalling
    assert names == DATA_FILES


def test_pipx_install_finds_the_data_inside_the_package(tmp_path, wheel):
    home, bin_dir = tmp_path / "pipx", tmp_path / "bin"
    env = {
        **os.environ,
        "PIPX_HOME": str(home),
        "PIPX_BIN_DIR": str(bin_dir),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    # As for a user: pipx brings its own pip and dldoctor's dependencies from the package index;
    # dldoctor itself comes from the wheel.
    pipx = [sys.executable, "-m", "pipx"]
    subprocess.run(
        [*pipx, "install", str(wheel)],
        check=True,
        env=env,
        capture_output=True,
    )
    app_env = home / "venvs" / "dldoctor"
    assert (bin_dir / "dldoctor").exists()
    module, data, names = _probe(app_env / "bin" / "python")
    assert module.is_relative_to(app_env)
    assert data == module.parent / "compat_matrix"
    assert names == DATA_FILES
    # The installed command runs and reads the shipped data.
    shown = subprocess.run(
        [str(bin_dir / "dldoctor"), "matrix", "cuda"], capture_output=True, text=True, env=env
    )
    assert shown.returncode == 0, shown.stderr
    assert str(data) in shown.stdout.replace("\n", "")
