"""Driver and extension-build fixes as a user reads and types them: Ubuntu's installer and a
reboot (never run for you), WSL's host driver, DKMS, and the build's environment settings."""

from __future__ import annotations

import pytest

from dldoctor.fixes import build, driver
from dldoctor.fixes.commands import shown
from dldoctor.model import Intent
from tests.checks.scenarios import make_facts


def machine(distribution_id: str = "ubuntu", wsl: bool = False, **os: object) -> object:
    return make_facts(
        {
            "system": {
                "os": {"distribution_id": distribution_id, **os},
                "wsl": {"is_wsl": wsl, "version": 2 if wsl else False},
            }
        }
    )


def lines(fix) -> list[str]:
    return [shown(c) for c in fix.commands]


# -- the driver -------------------------------------------------------------------------------


@pytest.mark.parametrize("distro", ["ubuntu", "Ubuntu", "UBUNTU"])
def test_ubuntu_gets_its_driver_installer_then_a_reboot(distro):
    assert driver.commands(machine(distro)) == (
        ("sudo", "ubuntu-drivers", "install"),
        ("sudo", "reboot"),
    )


@pytest.mark.parametrize("distro", ["debian", "fedora", "rhel", "arch", "", None])
def test_other_distributions_get_words_only(distro):
    assert driver.commands(machine(distro)) == ()


def test_wsl_never_gets_a_linux_driver_even_on_ubuntu():
    assert driver.commands(machine("ubuntu", wsl=True)) == ()


def test_the_driver_install_on_ubuntu_names_the_minimum_and_is_never_automatic():
    fix = driver.install_driver(machine("ubuntu"), "580.65.06", "torch 2.13's CUDA 13.0 build")
    assert fix.summary == (
        "Install the NVIDIA driver 580.65.06 or newer (torch 2.13's CUDA 13.0 build), then reboot."
    )
    assert lines(fix) == ["sudo ubuntu-drivers install", "sudo reboot"]
    assert fix.intents == (Intent(action="driver", driver="580.65.06"),)
    assert fix.notes == ""  # the commands say how
    assert not fix.automatic


def test_the_driver_install_elsewhere_says_where_drivers_come_from():
    fix = driver.install_driver(machine("fedora"), None, "no driver is loaded")
    assert fix.summary == "Install the NVIDIA driver (no driver is loaded), then reboot."
    assert fix.commands == ()
    assert fix.notes == (
        "Use your distribution's NVIDIA driver packages or https://www.nvidia.com/en-us/drivers/"
    )
    assert fix.intents == (Intent(action="driver", driver=None),)
    assert not fix.automatic


def test_the_driver_install_in_wsl_is_the_windows_hosts():
    fix = driver.install_driver(machine("ubuntu", wsl=True), "581.42", "CUDA 13.0")
    assert fix.summary == (
        "Install the NVIDIA Windows driver 581.42 or newer on the Windows host (CUDA 13.0); "
        "WSL uses the host's driver, never a Linux one."
    )
    assert fix.commands == ()
    assert fix.notes == "https://www.nvidia.com/en-us/drivers/"
    assert not fix.automatic
    no_minimum = driver.install_driver(machine("ubuntu", wsl=True), None, "why")
    assert no_minimum.summary.startswith(
        "Install the NVIDIA Windows driver on the Windows host (why)"
    )


def test_a_container_is_told_to_be_started_with_the_gpu_not_to_install_a_driver():
    fix = driver.container_gpu_access()
    assert fix.summary.startswith(
        "This is a container: the host's NVIDIA driver reaches it only when it is started with "
        "the GPU (`docker run --gpus all`, or the nvidia runtime,"
    )
    assert fix.summary.endswith("Do not install a driver inside the container.")
    assert fix.commands == () and not fix.automatic
    assert fix.notes.startswith(
        "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/"
    )


def test_the_kernel_module_is_rebuilt_with_dkms_then_a_reboot():
    fix = driver.rebuild_kernel_module(machine("ubuntu", kernel="6.8.0-90-generic"))
    assert fix.summary.startswith(
        "The NVIDIA driver is installed but its kernel module is not loaded for 6.8.0-90-generic "
        "(a kernel update"
    )
    assert lines(fix) == ["sudo dkms autoinstall", "sudo reboot"]
    assert fix.intents == (
        Intent(action="rebuild-module", names=("nvidia",)),
        Intent(action="reboot"),
    )
    assert not fix.automatic
    assert fix.notes.startswith("Installing dkms before kernel updates")
    unknown = driver.rebuild_kernel_module(machine("ubuntu", kernel=None))
    assert "not loaded for the running kernel (" in unknown.summary


def test_in_wsl_no_module_rebuild_means_no_half_fix():
    fix = driver.rebuild_kernel_module(machine("ubuntu", wsl=True, kernel="5.15"))
    assert fix.commands == ()  # a reboot without the rebuild before it would be worse


def test_modules_reloaded_by_hand_in_reverse_order():
    fix = driver.reload_modules(
        machine("ubuntu"), ("nvidia_uvm", "nvidia"), "Reload the modules.", notes="Stop X first."
    )
    assert fix.summary == "Reload the modules."
    assert lines(fix) == ["sudo rmmod nvidia_uvm nvidia", "sudo modprobe -a nvidia nvidia_uvm"]
    assert fix.notes == "Stop X first."
    assert fix.intents == (Intent(action="reload-module", names=("nvidia_uvm", "nvidia")),)
    assert not fix.automatic


# -- building extensions ----------------------------------------------------------------------


def toolkits(*found: dict) -> object:
    return make_facts({"cuda": {"toolkits": list(found)}})


def tk(version: str, path: str, nvcc: bool = True) -> dict:
    return {"version": version, "path": path, "nvcc": f"{path}/bin/nvcc" if nvcc else None}


def test_cuda_home_at_the_toolkit_of_torchs_cuda_minor():
    facts = toolkits(tk("12.4", "/usr/local/cuda-12.4"), tk("12.8", "/usr/local/cuda-12.8"))
    fix = build.toolkit_for(facts, "12.8")
    assert lines(fix) == [
        "export CUDA_HOME=/usr/local/cuda-12.8",
        "export 'PATH=/usr/local/cuda-12.8/bin:$PATH'",
    ]
    assert fix.summary == (
        "Build with the CUDA 12.8 toolkit at /usr/local/cuda-12.8: set CUDA_HOME to it and put "
        "its bin/ first on PATH."
    )
    assert fix.intents == (
        Intent(action="set", variable="CUDA_HOME", value="/usr/local/cuda-12.8"),
    )
    assert fix.notes == "Run these in the shell that builds (they are not run for you)."
    assert not fix.automatic


def test_the_same_minor_wins_wherever_it_is_listed():
    facts = toolkits(tk("12.8", "/opt/cuda-12.8"), tk("12.4", "/opt/cuda-12.4"))
    assert lines(build.toolkit_for(facts, "12.8"))[0] == "export CUDA_HOME=/opt/cuda-12.8"


def test_else_a_toolkit_of_the_same_major():
    facts = toolkits(
        tk("11.8", "/opt/cuda-11.8"), tk("12.4", "/opt/cuda-12.4"), tk("13.0", "/opt/cuda-13.0")
    )
    assert lines(build.toolkit_for(facts, "12.8"))[0] == "export CUDA_HOME=/opt/cuda-12.4"
    first = toolkits(tk("12.2", "/opt/cuda-12.2"), tk("12.4", "/opt/cuda-12.4"))
    assert lines(build.toolkit_for(first, "12.8"))[0] == "export CUDA_HOME=/opt/cuda-12.2"


@pytest.mark.parametrize(
    "found",
    [
        [],
        [tk("13.0", "/usr/local/cuda-13.0")],  # another major: its nvcc refuses torch's CUDA
        [tk("11.8", "/usr/local/cuda-11.8")],
        [tk("12.8", "/usr/local/cuda-12.8", nvcc=False)],  # headers without nvcc
        [tk("unknown", "/usr/local/cuda")],
        [tk("12.8", "/usr/local/cuda-12.8; rm -rf ~")],  # never shown: not plainly a path
        [tk("12.8", "relative/cuda-12.8")],
        [tk("12.8", "")],
        ["not a record"],
    ],
)
def test_without_a_usable_toolkit_it_says_which_to_install(found):
    fix = build.toolkit_for(make_facts({"cuda": {"toolkits": found}}), "12.8")
    assert (
        fix.summary == "Install the CUDA 12.8 toolkit (nvcc and headers), then set CUDA_HOME to it."
    )
    assert fix.commands == () and fix.intents == ()
    assert fix.notes == (
        "NVIDIA's installers: https://developer.nvidia.com/cuda-toolkit-archive; in conda: the "
        "cuda-toolkit package of version 12.8 from the nvidia channel."
    )


def test_an_unknown_wanted_cuda_picks_no_toolkit():
    fix = build.toolkit_for(toolkits(tk("12.8", "/usr/local/cuda-12.8")), "unknown")
    assert fix.commands == ()


def test_the_host_compiler_nvcc_accepts():
    fix = build.compiler(make_facts(), 13)
    assert lines(fix) == ["export CC=gcc-13", "export CXX=g++-13"]
    assert fix.intents == (
        Intent(action="set", variable="CC", value="gcc-13"),
        Intent(action="set", variable="CXX", value="g++-13"),
    )
    assert fix.summary == (
        "Build with GCC 13 (or older): install it and set CC (and CXX) to it for the build."
    )
    assert fix.notes.startswith("Debian/Ubuntu: the gcc-13 and g++-13 packages. nvcc's")
    assert "-allow-unsupported-compiler (in NVCC_APPEND_FLAGS)" in fix.notes


def test_no_host_compiler_at_all():
    fix = build.compiler(make_facts(), None)
    assert fix.summary == "Install a C/C++ compiler (gcc and g++): nvcc needs a host compiler."
    assert fix.commands == ()
    assert fix.notes == "Debian/Ubuntu: build-essential; RHEL/Fedora: gcc-c++."


def test_ninja_into_the_judged_environment():
    fix = build.ninja(make_facts())
    assert fix.summary == (
        "Install ninja into this environment (and keep the environment's bin/ on PATH)."
    )
    assert lines(fix) == ["/env/bin/python -m pip install ninja"]
    assert fix.automatic


def test_python_headers_by_version():
    fix = build.python_headers("3.12")
    assert fix.summary == "Install Python 3.12's development headers (Python.h)."
    assert fix.notes.startswith("Debian/Ubuntu: python3.12-dev; RHEL/Fedora: python3.12-devel;")
    unknown = build.python_headers("")
    assert unknown.summary == "Install Python 3's development headers (Python.h)."
    assert unknown.notes.startswith("Debian/Ubuntu: python3-dev; RHEL/Fedora: python3-devel;")


def test_max_jobs_and_nvcc_threads():
    fix = build.max_jobs(3, "12 GiB free")
    assert fix.summary == "Limit the build to 3 parallel compile jobs (12 GiB free)."
    assert lines(fix) == ["export MAX_JOBS=3"]
    assert fix.intents == (Intent(action="set", variable="MAX_JOBS", value="3"),)
    assert fix.notes == "Run it in the shell that builds (it is not run for you)."
    threads = build.nvcc_threads(2, "4 GiB free")
    assert threads.summary == "Build one job at a time with 2 nvcc thread(s) (4 GiB free)."
    assert lines(threads) == ["export NVCC_THREADS=2", "export MAX_JOBS=1"]
    assert threads.intents == (
        Intent(action="set", variable="NVCC_THREADS", value="2"),
        Intent(action="set", variable="MAX_JOBS", value="1"),
    )
    assert threads.notes == "Run them in the shell that builds (they are not run for you)."


def test_exact_words_of_the_module_rebuild_and_a_reload_without_notes():
    fix = driver.rebuild_kernel_module(machine("ubuntu", kernel="6.8.0"))
    assert fix.summary == (
        "The NVIDIA driver is installed but its kernel module is not loaded for 6.8.0 (a kernel "
        "update without a module built for it): rebuild it with DKMS (or reinstall your "
        "distribution's nvidia-dkms package), then reboot."
    )
    plain = driver.reload_modules(machine("ubuntu"), ("nvidia",), "Reload it.")
    assert plain.notes == ""


def test_exact_notes_of_the_compiler_and_the_headers():
    assert build.compiler(make_facts(), 12).notes == (
        "Debian/Ubuntu: the gcc-12 and g++-12 packages. nvcc's -allow-unsupported-compiler "
        "(in NVCC_APPEND_FLAGS) skips the check at your own risk."
    )
    assert build.python_headers("3.11").notes == (
        "Debian/Ubuntu: python3.11-dev; RHEL/Fedora: python3.11-devel; pyenv and conda Pythons "
        "ship them (reinstall that Python)."
    )


def test_toolkit_versions_with_a_patch_level_match_by_major_and_minor():
    facts = toolkits(tk("12.4.131", "/opt/cuda-12.4"), tk("12.8.93", "/opt/cuda-12.8"))
    assert lines(build.toolkit_for(facts, "12.8"))[0] == "export CUDA_HOME=/opt/cuda-12.8"
    assert lines(build.toolkit_for(facts, "12.8.1"))[0] == "export CUDA_HOME=/opt/cuda-12.8"
    assert lines(build.toolkit_for(facts, "12.6"))[0] == "export CUDA_HOME=/opt/cuda-12.4"
