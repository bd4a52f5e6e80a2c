"""NVML behind the wall: the real pynvml in a child, over fake libnvidia-ml.so.1 libraries built
here with the C compiler (one that works, one whose nvmlInit hangs, one that segfaults)."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dldoctor.facts import nvml_child
from dldoctor.facts.host import Host
from dldoctor.facts.ldcache import LdCache
from dldoctor.facts.nvidia import gather_nvidia
from tests.fakes import fake_libnvml
from tests.fakes.fake_nvml import load_fake
from tests.fakes.fsroot import script, write

pytestmark = pytest.mark.skipif(fake_libnvml.compiler() is None, reason="needs a C compiler")
SCHEMA = json.loads(
    resources.files("dldoctor.document").joinpath("schema/facts-nvidia.json").read_text()
)


@pytest.fixture(scope="module")
def libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("libnvml")
    return {b: fake_libnvml.build(root / b, b) for b in fake_libnvml.BEHAVIOURS}


def host_with(lib: Path, tmp_path: Path, timeout_s: float = 1.0) -> Host:
    """This machine (no driver), the fake library first on the loader's path, as a user's
    LD_LIBRARY_PATH would put it; PATH has no nvidia-smi."""
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(lib)}
    return Host(env=env, command_timeout_s=timeout_s, nvml_timeout_s=timeout_s)


def gather(host: Host) -> dict[str, Any]:
    section = gather_nvidia(host, LdCache(()))
    jsonschema.validate(section, SCHEMA)
    return section


def test_a_working_library_answers_through_the_real_pynvml(libs, tmp_path):
    section = gather(host_with(libs["ok"], tmp_path))
    assert section["nvml"] == {
        "status": "ok",
        "error": None,
        "error_code": None,
        "nvml_version": "13.580.65.06",
    }
    assert (section["driver_version"], section["cuda_driver_version"]) == ("580.65.06", "13.0")
    assert (section["gpu_count"], section["gpus"]) == (0, [])


def test_a_hanging_init_is_status_hung_after_the_bounded_timeout(libs, tmp_path):
    marker = tmp_path / "smi-ran"
    script(tmp_path / "bin", "nvidia-smi", f"touch {marker}\n")
    host = host_with(libs["hang"], tmp_path, timeout_s=0.1)
    host = dataclasses.replace(host, env={**host.env, "PATH": f"{tmp_path / 'bin'}:/bin"})
    section = gather(host)
    assert section["nvml"]["status"] == "hung"
    assert section["nvml"]["during"] == "nvmlInit"
    assert section["nvml"]["timeout_s"] == nvml_child.TIMEOUT_BOUNDS_S[0]  # 0.1 is too short
    assert section["nvml"]["error"] == (
        "NVML did not answer within 2 s in nvmlInit; its process was killed"
    )
    assert section["driver_version"] is None and section["gpus"] == []
    assert section["nvidia_smi"]["path"] is not None
    assert section["nvidia_smi"]["ran"] is False and not marker.exists()  # it hangs the same way


def test_a_segfaulting_init_is_status_crashed_with_the_signal(libs, tmp_path):
    section = gather(host_with(libs["segv"], tmp_path))
    assert section["nvml"]["status"] == "crashed"
    assert section["nvml"]["signal"] == "SIGSEGV"
    assert section["nvml"]["error"] == "NVML crashed (SIGSEGV) in nvmlInit"


@pytest.mark.parametrize(("given", "used"), [(0.1, 2.0), (2.0, 2.0), (5.0, 5.0), (10.0, 10.0),
                                             (60.0, 10.0)])  # fmt: skip
def test_the_timeout_follows_the_hosts_within_bounds(given, used):
    assert nvml_child.timeout_s(Host(nvml_timeout_s=given)) == used


def test_no_child_when_the_library_is_nowhere_the_loader_looks(tmp_path, monkeypatch):
    def no_child(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a child was started")

    monkeypatch.setattr(nvml_child, "run_command", no_child)
    write(tmp_path / "root", "/proc/modules", "")
    host = Host(root=tmp_path / "root", env={"PATH": "/bin", "LD_LIBRARY_PATH": str(tmp_path)})
    section = gather(host)
    assert section["nvml"]["status"] == "library_not_found"
    assert section["nvml"]["error"] == "NVML Shared Library Not Found"


@pytest.mark.parametrize(
    "cache",
    [LdCache((("libnvidia-ml.so.1", "/gone/libnvidia-ml.so.1"),)), LdCache((), "ldconfig: boom")],
    ids=["in-the-cache", "cache-unreadable"],
)
def test_a_library_the_loader_may_find_is_asked_in_the_child(tmp_path, cache):
    """The child decides (here the cached path is stale: the real pynvml finds nothing)."""
    host = Host(root=tmp_path, env={"PATH": "/bin"})
    section = nvml_child.query(host, cache)
    assert section["nvml"]["status"] == "library_not_found"


def test_the_fake_pynvml_travels_to_the_child_with_its_description(tmp_path):
    fake = load_fake("a100x8", errors={"nvmlSystemGetNVMLVersion": "NotSupported"})
    section = nvml_child.query(Host(root=tmp_path, env={}, nvml=fake), LdCache(()))
    assert section["gpu_count"] == 8
    assert section["nvml"]["nvml_version"] is None
    assert section["errors"] == {"nvml_version": "Not Supported"}
    assert fake.init_calls == 0  # asked in the child, never in this process


def test_a_stand_in_that_cannot_travel_is_refused():
    with pytest.raises(TypeError, match="dldoctor_recipe"):
        nvml_child.recipe_for(object())


def test_what_the_library_prints_cannot_pass_for_the_answer(tmp_path):
    """A stand-in module printing a fake answer on stdout: it lands on stderr, not the channel."""
    (tmp_path / "noisy_nvml.py").write_text(
        "import sys\n"
        "from tests.fakes.fake_nvml import load_fake\n"
        "def make():\n"
        "    fake = load_fake('h100')\n"
        "    real = fake.nvmlInit\n"
        "    def init():\n"
        '        print(\'{"facts": {"nvml": {"status": "ok"}, "gpus": []}}\', flush=True)\n'
        "        real()\n"
        "    fake.nvmlInit = init\n"
        "    return fake\n"
    )
    root = str(Path(__file__).resolve().parents[2])

    class Noisy:
        def dldoctor_recipe(self) -> dict[str, Any]:
            return {"import": "noisy_nvml", "call": "make", "path": [str(tmp_path), root]}

    section = nvml_child.query(Host(root=tmp_path, env={}, nvml=Noisy()), LdCache(()))
    assert section["gpu_count"] == 1 and section["nvml"]["status"] == "ok"


def test_the_child_runs_the_interpreter_dldoctor_runs_in_isolated_mode(tmp_path, monkeypatch):
    seen: list[list[str]] = []
    real = nvml_child.run_command

    def spy(argv: list[str], *args: Any, **kwargs: Any) -> Any:
        seen.append(list(argv))
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(nvml_child, "run_command", spy)
    nvml_child.query(Host(root=tmp_path, env=dict(os.environ), nvml=load_fake("h100")), LdCache(()))
    (argv,) = seen
    assert argv[:3] == [sys.executable, "-I", "-S"]
