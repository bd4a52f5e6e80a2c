"""Native Windows facts from a fake registry (a winreg stand-in at the host) and fake C:\\ roots:
the build and edition, the DLL search path and the CUDA DLLs on it, each GPU's driver model."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dldoctor.document.schema import allow_unknown
from dldoctor.facts.host import Host
from dldoctor.facts.nvml import Nvml
from dldoctor.facts.nvml_facts import nvml_facts
from dldoctor.facts.system import gather_system
from dldoctor.facts.windows import CURRENT_VERSION_KEY, dll_search, windows_version
from tests.fakes.fake_nvml import FakeNvml, load_description


def _schema(part: str) -> dict[str, Any]:
    text = resources.files("dldoctor.document").joinpath(f"schema/facts-{part}.json").read_text()
    return allow_unknown(json.loads(text))


WINDOWS_11 = {
    "CurrentBuild": "22631",
    "CurrentBuildNumber": "22631",
    "UBR": 3737,
    "EditionID": "Professional",
    "DisplayVersion": "23H2",
    "ProductName": "Windows 10 Pro",  # what Windows 11 really writes there
    "InstallationType": "Client",
}


class FakeWinreg:
    """winreg's OpenKey/QueryValueEx/CloseKey over {key path: {value name: value}}."""

    HKEY_LOCAL_MACHINE = 0x80000002

    def __init__(self, keys: dict[str, dict[str, Any]]) -> None:
        self.keys = keys
        self.opened: list[str] = []
        self.closed = 0

    def OpenKey(self, root: int, path: str) -> dict[str, Any]:
        assert root == self.HKEY_LOCAL_MACHINE
        if path not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        self.opened.append(path)
        return self.keys[path]

    def QueryValueEx(self, key: dict[str, Any], name: str) -> tuple[Any, int]:
        if name not in key:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return key[name], 1

    def CloseKey(self, key: dict[str, Any]) -> None:
        self.closed += 1


def test_the_build_and_edition_come_from_the_registry(tmp_path):
    registry = FakeWinreg({CURRENT_VERSION_KEY: WINDOWS_11})
    facts = gather_system(Host(root=tmp_path, env={}, winreg=registry), os_name="Windows")
    jsonschema.validate(facts, _schema("system"))
    assert facts["windows"] == {
        "version": None,  # platform.win32_ver is this process's own: not asked of a fake root
        "build": "22631",
        "update_build_revision": 3737,
        "edition": "Professional",
        "display_version": "23H2",
        "product_name": "Windows 10 Pro",
        "installation_type": "Client",
    }
    assert registry.opened == [CURRENT_VERSION_KEY] and registry.closed == 1
    assert not any(k.startswith("windows") for k in facts["errors"])


def test_an_older_windows_has_its_release_id_and_no_display_version():
    values = {"CurrentBuildNumber": "19041", "ReleaseId": "2004", "EditionID": "Core"}
    facts, errors = windows_version(FakeWinreg({CURRENT_VERSION_KEY: values}), live=False)
    assert facts["build"] == "19041" and facts["display_version"] == "2004"
    assert facts["update_build_revision"] is None and errors == {}


def test_an_unreadable_registry_leaves_the_build_unknown_with_the_reason():
    facts, errors = windows_version(FakeWinreg({}), live=False)
    assert facts["build"] is None and facts["edition"] is None
    assert "CurrentVersion" in errors["registry"] and set(errors) == {"registry"}


def test_registry_values_are_bounded_and_cleaned():
    hostile = {"CurrentBuild": "2263\x1b[31m1", "EditionID": "P" * 5000, "UBR": "3737"}
    facts, _ = windows_version(FakeWinreg({CURRENT_VERSION_KEY: hostile}), live=False)
    assert facts["build"] is None  # not a build number once the escape is taken out: "2263[31m1"
    assert facts["edition"] == "P" * 100
    assert facts["update_build_revision"] is None  # a string where Windows writes a DWORD


def test_off_windows_there_are_no_windows_facts(tmp_path):
    registry = FakeWinreg({CURRENT_VERSION_KEY: WINDOWS_11})
    facts = gather_system(Host(root=tmp_path, env={}, winreg=registry), os_name="Linux")
    assert facts["windows"] is False and registry.opened == []


# A machine laid out like C:\ : the CUDA 12.4 toolkit, a stray cuDNN 8 in a tools folder that
# PATH names first, a conda env, System32.
TOOLKIT = r"C:\Program Files\NVIDIA GPU Computing Toolkit\CUDA\v12.4"
STRAY = r"C:\tools\cudnn\bin"
PREFIX = r"C:\Users\ana\miniconda3\envs\ml"
FILES = {
    TOOLKIT + r"\bin": ["cudart64_12.dll", "cublas64_12.dll", "cublasLt64_12.dll", "nvcc.exe"],
    STRAY: ["cudnn64_8.dll", "cudnn_ops_infer64_8.dll", "readme.txt"],
    PREFIX + r"\Library\bin": ["cudart64_110.dll", "cudnn64_8.dll", "CUBLAS64_11.DLL"],
    r"C:\Windows\System32": ["kernel32.dll", "nvcuda.dll", "nvml.dll"],
    r"C:\old\cuda10": ["cudart64_101.dll", "cublas64_10.dll", "cudart64_92.dll", "cudnn64_7.dll"],
}


def windows_root(root: Path) -> None:
    for directory, names in FILES.items():
        folder = root.joinpath("C", *directory.split("\\")[1:])
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).write_bytes(b"MZ")


def test_the_dll_search_path_in_path_order_with_the_cuda_dlls_each_directory_holds(tmp_path):
    windows_root(tmp_path)
    env = {
        "Path": ";".join(
            [STRAY, r"C:\Windows\System32", TOOLKIT + r"\bin", r"c:\TOOLS\cudnn\bin\\"]
        ),
        "CUDA_PATH": TOOLKIT,
        "CUDA_PATH_V12_4": TOOLKIT,
        "CUDA_PATH_V11_8": r"C:\Program Files\NVIDIA GPU Computing Toolkit\CUDA\v11.8",
    }
    found = dll_search(Host(root=tmp_path, env=env), PREFIX)
    jsonschema.validate(found, _schema("cuda")["properties"]["dll_search"])
    paths = [d["path"] for d in found["directories"]]
    assert paths == [
        STRAY,
        r"C:\Windows\System32",
        TOOLKIT + r"\bin",  # PATH, CUDA_PATH and CUDA_PATH_V12_4 name it: one entry
        r"C:\Program Files\NVIDIA GPU Computing Toolkit\CUDA\v11.8\bin",
        PREFIX + r"\Library\bin",
    ]
    stray, system32, toolkit, v118, conda = found["directories"]
    assert stray["sources"] == ["PATH"]  # named twice, in two spellings: the same directory
    assert toolkit["sources"] == ["PATH", "CUDA_PATH", "CUDA_PATH_V12_4"]
    assert v118["exists"] is False and v118["on_path"] is False and v118["libraries"] == []
    assert system32["libraries"] == []  # the driver's own DLLs are not CUDA runtime libraries
    assert [(x["file"], x["library"], x["major"]) for x in stray["libraries"]] == [
        ("cudnn64_8.dll", "cudnn", 8),
        ("cudnn_ops_infer64_8.dll", "cudnn_ops_infer", 8),
    ]
    assert [(x["library"], x["version"], x["major"]) for x in conda["libraries"]] == [
        ("cublas", "11", 11),
        ("cudart", "110", 11),
        ("cudnn", "8", 8),
    ]
    assert conda["on_path"] is False and conda["sources"] == ["conda Library\\bin"]
    assert found["first_on_path"] == {
        "cudnn64_8.dll": STRAY,  # the copy a plain LoadLibrary("cudnn64_8.dll") finds
        "cudnn_ops_infer64_8.dll": STRAY,
        "cudart64_12.dll": TOOLKIT + r"\bin",
        "cublas64_12.dll": TOOLKIT + r"\bin",
        "cublaslt64_12.dll": TOOLKIT + r"\bin",
    }
    assert found["cuda_path"]["CUDA_PATH"] == TOOLKIT and found["conda_library_bin"].endswith("bin")


def test_old_cuda_dll_names_carry_their_major_version(tmp_path):
    windows_root(tmp_path)
    found = dll_search(Host(root=tmp_path, env={"PATH": r"C:\old\cuda10"}), None)
    (old,) = found["directories"]
    majors = {x["file"]: x["major"] for x in old["libraries"]}
    assert majors == {
        "cudart64_101.dll": 10,
        "cublas64_10.dll": 10,
        "cudart64_92.dll": 9,
        "cudnn64_7.dll": 7,
    }
    assert found["cuda_path"] is False and found["conda_library_bin"] is False


def test_nothing_on_the_search_path_is_an_empty_search_not_unknown(tmp_path):
    found = dll_search(Host(root=tmp_path, env={}), None)
    assert found == {
        "directories": [],
        "cuda_path": False,
        "conda_library_bin": False,
        "first_on_path": {},
    }


def _gpus(description: dict[str, Any], windows: bool) -> list[dict[str, Any]]:
    return nvml_facts(Nvml(FakeNvml(description)), windows=windows)["gpus"]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ([0, 0], {"current": "WDDM", "pending": "WDDM"}),
        ([1, 0], {"current": "TCC", "pending": "WDDM"}),  # nvidia-smi -dm 0 waits for a reboot
        ([2, 2], {"current": "MCDM", "pending": "MCDM"}),
    ],
)
def test_each_gpu_driver_model_on_windows(model, expected):
    description = load_description("rtx5090")
    description["gpus"][0]["driver_model"] = model
    (gpu,) = _gpus(description, windows=True)
    assert gpu["driver_model"] == expected and "driver_model" not in gpu["errors"]


def test_a_driver_model_nvml_cannot_tell_is_unknown_and_off_windows_there_is_none():
    description = load_description("rtx5090")  # no driver_model: NVML says Not Supported
    (gpu,) = _gpus(description, windows=True)
    assert gpu["driver_model"] is None and gpu["errors"]["driver_model"] == "Not Supported"
    (gpu,) = _gpus(description, windows=False)
    assert gpu["driver_model"] is False and "driver_model" not in gpu["errors"]
