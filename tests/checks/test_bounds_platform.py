"""DD511 and DD512 (compat_platform) from their rows: TensorFlow's last native-Windows GPU
release at, below and above it, for tensorflow and tensorflow-intel, with and without a GPU and
each Windows driver model; MPS under Rosetta and per torch release's macOS, as a user reads them."""

from __future__ import annotations

import pytest

from dldoctor.checks import compat_platform
from dldoctor.checks.registry import NotApplicable, Unjudged
from dldoctor.facts.known import Unknown
from dldoctor.matrix import load
from dldoctor.model import Severity
from tests.checks.bounds import windows
from tests.checks.scenarios import dist, gpu_machine, make_facts, shown_all, with_packages

MATRIX = load()
TF = MATRIX.tables["tensorflow"]
LAST = TF["windows_native_gpu_last"]
WDDM = MATRIX.tables["system"]["wsl_driver_model"][0]
NO_GPU = {
    "nvidia": {"nvml": {"status": "ok", "error": None}, "gpus": [], "gpu_count": 0},
    "accelerators": {"pci": {"nvidia": [], "dxg_present": False, "error": None}},
}


def _dd511(name: str, version: str, *machine):
    facts = make_facts(windows(), *machine, with_packages(dist(name, version)))
    return compat_platform.windows_native_tensorflow_gpu(facts, MATRIX)


@pytest.mark.parametrize("name", ["tensorflow", "tensorflow-intel"])
@pytest.mark.parametrize(
    ("version", "fires"),
    [(f"{LAST}.0", False), (f"{LAST}.1", False), (f"{LAST}.99", False), ("2.11.0", True),
     ("2.11.0rc1", True), ("2.9.3", False), ("2.16.1", True)],
)  # fmt: skip
def test_tensorflow_after_the_last_windows_gpu_release_runs_on_the_cpu(name, version, fires):
    verdicts = _dd511(name, version, gpu_machine())
    assert [v.severity for v in verdicts] == ([Severity.ERROR] if fires else [])
    for verdict in verdicts:
        assert verdict.title == (
            f"TensorFlow {version} on native Windows runs on the CPU only: GPU support ended "
            f"with {LAST}"
        )
        assert verdict.evidence == {"tensorflow": version, "source": TF["windows_source"]}
        wsl, pin = verdict.fixes
        assert wsl.summary == "Use WSL2 and install the CUDA build there."
        assert wsl.notes.endswith(
            "Then, in WSL2's Linux shell, create a virtual environment and install "
            "tensorflow[and-cuda] into it (TensorFlow's Linux pip instructions); `dldoctor check` "
            "run there judges the result."
        )
        assert pin.summary == f"Or keep native Windows with TensorFlow {LAST}."
        assert shown_all(pin) == (f"/env/bin/python -m pip install 'tensorflow=={LAST}.*'",)
        assert not pin.automatic  # a downgrade the user chooses


def test_without_a_gpu_the_cpu_is_all_there_is_and_unknown_gpus_are_not_judged():
    assert _dd511("tensorflow", "2.16.1", NO_GPU) == []
    unknown = {
        "nvidia": {"nvml": {"status": "unknown"}, "gpus": None},
        "accelerators": {"pci": None},
    }
    with pytest.raises(Unknown):
        _dd511("tensorflow", "2.16.1", unknown)


def test_linux_is_not_native_windows():
    facts = make_facts(gpu_machine(), with_packages(dist("tensorflow", "2.16.1")))
    with pytest.raises(NotApplicable, match=r"^not native Windows$"):
        compat_platform.windows_native_tensorflow_gpu(facts, MATRIX)


def test_with_every_gpu_in_tcc_mode_the_wsl_way_says_to_switch_one_first():
    machine = gpu_machine(2)
    for gpu in machine["nvidia"]["gpus"]:
        gpu["driver_model"] = {"current": "TCC", "pending": "TCC"}
    (verdict,) = _dd511("tensorflow", "2.16.1", machine)
    pin, wsl = verdict.fixes
    assert pin.summary == f"Keep native Windows with TensorFlow {LAST}."
    switch = WDDM["switch"].replace("INDEX", "0")
    assert wsl.summary == (
        f"Or switch a GPU to WDDM ({switch}, then reboot; where the board supports it) and use "
        "WSL2: WSL 2 reaches only GPUs in WDDM mode."
    )
    assert wsl.notes.startswith("This machine's GPUs are in TCC mode. ")
    assert wsl.notes.endswith("`dldoctor check` run there judges the result.")
    assert verdict.evidence["wsl_source"] == WDDM["source"]


# -- DD512 ----------------------------------------------------------------------------------------

MPS = MATRIX.torch["mps"]


def _mac(machine: str = "arm64", arm64: object = True, macos: str = "15.1", torch: str = "2.13.0"):
    apple = {"is_macos": True, "hardware_arm64": arm64, "macos_version": macos}
    facts = make_facts(
        {"accelerators": {"apple": apple}, "python": {"machine": machine}},
        with_packages(dist("torch", torch)),
    )
    return compat_platform.mps_unavailable(facts, MATRIX)


def test_an_x86_python_under_rosetta_on_apple_silicon_is_named_with_the_native_python_fix():
    (verdict,) = _mac(machine="x86_64")
    assert verdict.title == (
        "This Python is an x86-64 build running under Rosetta on Apple silicon: torch cannot use "
        "the GPU (MPS)"
    )
    assert verdict.evidence == {
        "python_machine": "x86_64",
        "hardware_arm64": True,
        "executable": "/env/bin/python",
    }
    (remedy,) = verdict.fixes
    assert remedy.summary == (
        "Install a native arm64 Python (python.org installer, or an arm64 conda/uv Python), "
        "create the environment with it and reinstall torch there."
    )
    assert (
        remedy.notes == '`python -c "import platform; print(platform.machine())"` must print arm64.'
    )


def test_an_x86_python_on_an_intel_mac_or_unknown_hardware():
    assert _mac(machine="x86_64", arm64=False) == []  # an Intel Mac: nothing under Rosetta
    (unjudged,) = _mac(machine="x86_64", arm64=None)
    assert isinstance(unjudged, Unjudged)
    assert (unjudged.what, unjudged.path) == ("Rosetta", "accelerators.apple.hardware_arm64")


def test_an_old_macos_names_the_release_that_needs_it_and_its_source():
    row = MPS[-1]
    (verdict,) = _mac(macos="13.6", torch=f"{row['torch']}.0")
    assert verdict.title == (
        f"torch {row['torch']}.0 needs macOS {row['macos']} or newer for the GPU (MPS); this is "
        "macOS 13.6"
    )
    assert verdict.evidence == {
        "macos": "13.6",
        "torch": f"{row['torch']}.0",
        "source": row["source"],
    }
    (remedy,) = verdict.fixes
    assert remedy.summary == (
        f"Update macOS to {row['macos']} or newer, or use a torch release older than {row['torch']}."
    )


def test_not_a_mac_or_no_torch_says_so():
    linux = make_facts(
        {"accelerators": {"apple": {"is_macos": False}}}, with_packages(dist("torch", "2.13.0"))
    )
    with pytest.raises(NotApplicable, match=r"^not macOS, or torch not installed$"):
        compat_platform.mps_unavailable(linux, MATRIX)
    no_torch = make_facts({"accelerators": {"apple": {"is_macos": True}}}, with_packages())
    with pytest.raises(NotApplicable, match=r"^not macOS, or torch not installed$"):
        compat_platform.mps_unavailable(no_torch, MATRIX)
