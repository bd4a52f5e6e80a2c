"""The cuDNN a build needs and who brings it (DD504): a TensorFlow build's own record or its
release's row, Paddle built with pip CUDA libraries, the JAX plugin's unsuffixed wheels."""

from __future__ import annotations

import copy

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from dldoctor.checks import compat_libs
from dldoctor.checks.cuda_builds import cuda_builds
from dldoctor.checks.registry import NotApplicable
from dldoctor.matrix import load
from dldoctor.model import Severity
from tests.checks.bounds import jax_plugin, machine, tensorflow_gpu
from tests.checks.scenarios import dist, make_facts, with_packages
from tests.checks.test_runtime import TORCH_CU121

MATRIX = load()
TF = "2.16.1"
ROW = MATRIX.row_for("tensorflow", "tensorflow", TF)["cudnn"]


def needed(version: str, recorded: str | None) -> Version | None:
    (build,) = cuda_builds(make_facts(tensorflow_gpu(version, "12.3", recorded)), MATRIX)  # type: ignore[arg-type]
    return compat_libs.needed_cudnn(build, MATRIX)


@pytest.mark.parametrize(
    ("recorded", "expected"), [("8.6.0", "8.6.0"), ("8", ROW), (None, ROW), ("", ROW)]
)
def test_a_tensorflow_build_needs_its_recorded_cudnn_else_its_release_row(recorded, expected):
    """A full version recorded by the build is what it was compiled with; a major alone (or
    nothing) says less than the release's row."""
    assert needed(TF, recorded) == Version(expected)


def test_a_tensorflow_release_the_matrix_lacks_keeps_what_it_recorded():
    version = "2.99.0"
    assert MATRIX.row_for("tensorflow", "tensorflow", version) is None
    assert needed(version, "8") == Version("8")
    assert needed(version, "9.3.0") == Version("9.3.0")


def paddle(flag: str | None) -> dict:
    build = {"cuda_version": "12.6", "cudnn_version": "9.5.1"}
    if flag is not None:
        build["with_pip_cuda_libraries"] = flag
    return with_packages(
        dist("paddlepaddle-gpu", "3.0.0"),
        frameworks={"paddle": {"distributions": [{"name": "paddlepaddle-gpu"}], "build": build}},
    )


@pytest.mark.parametrize(("flag", "judged"), [("ON", True), ("OFF", False), (None, False)])
def test_paddle_built_with_pip_cuda_libraries_needs_a_cudnn_beside_it(flag, judged):
    """Built "with pip CUDA libraries", Paddle loads the nvidia-cudnn wheel installed beside it:
    none of its major is an error. Otherwise it brings its own (nothing for this check)."""
    facts = make_facts(paddle(flag), machine("580.65.06", "13.0"))
    if not judged:
        with pytest.raises(NotApplicable):
            compat_libs.cudnn_mismatch(facts, MATRIX)
        return
    (verdict,) = compat_libs.cudnn_mismatch(facts, MATRIX)
    assert verdict.severity is Severity.ERROR
    assert verdict.title == ("PaddlePaddle 3.0.0 needs cuDNN 9.5.1, but no cuDNN 9 is installed")
    assert verdict.evidence["framework"] == "paddle"


PLUGIN = next(p for p in MATRIX.tables["jax"]["plugin"] if p["cuda"] == "12")


def wheel(name: str, version: str, major: int | bool) -> dict:
    return {"name": name, "version": version, "cuda_major": major, "component": "cudnn"}


def jax_verdicts(*wheels: dict) -> list:
    facts = make_facts(
        jax_plugin("12"),
        machine("580.65.06", "13.0"),
        {"packages": {"nvidia_wheels": list(wheels)}},
    )
    return compat_libs.cudnn_mismatch(facts, MATRIX)


def below_range() -> str:
    """A cuDNN version under the range the cuda12 plugin accepts."""
    low = next(s.version for s in SpecifierSet(PLUGIN["cudnn"]) if s.operator == ">=")
    major, minor = Version(low).release[:2]
    older = f"{major}.{minor - 1}.0" if minor else f"{major - 1}.9.0"
    assert not SpecifierSet(PLUGIN["cudnn"]).contains(older)
    return older


def test_an_unsuffixed_cudnn_wheel_serves_any_cuda_and_is_judged_by_the_plugin():
    (verdict,) = jax_verdicts(wheel("nvidia-cudnn", below_range(), False))
    assert verdict.severity is Severity.ERROR
    assert verdict.evidence == {
        "plugin": "jax-cuda12-plugin",
        "cudnn": below_range(),
        "accepted": str(SpecifierSet(PLUGIN["cudnn"])),
        "matrix_row": "jax.toml plugin cuda12",
    }


def test_every_wheel_is_judged_after_one_for_another_cuda():
    verdicts = jax_verdicts(
        wheel("nvidia-cudnn-cu11", "8.9.0", 11), wheel("nvidia-cudnn-cu12", below_range(), 12)
    )
    assert [v.evidence["cudnn"] for v in verdicts] == [below_range()]


def loaded(version: str, kind: str, via: str) -> dict:
    """The library map's one cuDNN candidate for TensorFlow: what the loader would pick."""
    copy = {
        "path": f"/opt/c/lib/libcudnn.so.{version.split('.')[0]}",
        "real": "r",
        "soname": f"libcudnn.so.{version.split('.')[0]}",
        "version": version,
        "kind": kind,
        "via": via,
    }
    entry = {"search": ["/opt/c/lib"], "libraries": {"cudnn": {"candidates": [copy]}}}
    library_map = {"copies": {}, "frameworks": {"tensorflow": entry}, "errors": {}}
    variables = {"LD_LIBRARY_PATH": "/opt/c/lib"} if via == "LD_LIBRARY_PATH" else {}
    listed = {"version": version, "path": copy["path"], "source": via}  # as the scan lists it
    cuda = {"library_map": library_map, "libraries": {"cudnn": [listed]}}
    return {"cuda": cuda, "env": {"variables": variables}}


OLDER = f"{Version(ROW).major}.{Version(ROW).minor - 1}.0"  # one minor under the row


def loader_verdicts(version: str, kind: str, via: str) -> list:
    facts = make_facts(
        tensorflow_gpu(TF, "12.3", "8"), machine("580.65.06", "13.0"), loaded(version, kind, via)
    )
    return [v for v in compat_libs.cudnn_mismatch(facts, MATRIX) if "dynamic loader" in v.title]


@pytest.mark.parametrize(
    ("kind", "via", "manager", "automatic"),
    [
        ("conda-env", "runpath", "conda", False),
        ("pip-wheel", "runpath", None, True),
        ("system", "ldconfig", None, False),
    ],
)
def test_an_older_copy_the_loader_picks_is_replaced_where_it_lives(kind, via, manager, automatic):
    (verdict,) = loader_verdicts(OLDER, kind, via)
    assert verdict.severity is Severity.ERROR
    assert verdict.title == (
        f"TensorFlow {TF} needs cuDNN {ROW}, but the dynamic loader would give it cuDNN {OLDER} "
        f"from /opt/c/lib (found by {via})"
    )
    (remedy,) = verdict.fixes
    assert remedy.automatic is automatic
    (intent,) = remedy.intents
    assert intent.manager == manager
    wheel = "cudnn" if manager == "conda" else "nvidia-cudnn-cu12"
    assert intent.requirements == (f"{wheel}>={ROW}",)
    assert verdict.evidence == {
        "framework": "tensorflow",
        "cudnn_needed": ROW,
        "loads": loaded(OLDER, kind, via)["cuda"]["library_map"]["frameworks"]["tensorflow"][
            "libraries"
        ]["cudnn"]["candidates"][0],
        "search": ["/opt/c/lib"],
        "LD_LIBRARY_PATH": None,
    }


def test_an_older_copy_found_through_ld_library_path_is_taken_out_of_it():
    verdicts = [
        v
        for v in compat_libs.cudnn_mismatch(
            make_facts(
                tensorflow_gpu(TF, "12.3", "8"),
                machine("580.65.06", "13.0"),
                loaded(OLDER, "system", "LD_LIBRARY_PATH"),
            ),
            MATRIX,
        )
        if "dynamic loader" in v.title
    ]
    (verdict,) = verdicts
    assert verdict.evidence["LD_LIBRARY_PATH"] == "/opt/c/lib"
    (remedy,) = verdict.fixes
    assert remedy.summary == f"Take /opt/c/lib out of LD_LIBRARY_PATH (or put a cuDNN {ROW} first)."
    (intent,) = remedy.intents  # the only directory in it: the variable goes
    assert (intent.action, intent.variable) == ("unset", "LD_LIBRARY_PATH")


@pytest.mark.parametrize("version", [ROW, f"{Version(ROW).major}", f"{Version(ROW).major}.99.0"])
def test_a_copy_at_the_needed_version_or_of_major_precision_only_is_not_older(version):
    assert loader_verdicts(version, "system", "ldconfig") == []


def test_dd505_a_wheel_one_framework_pins_alone_leaves_the_next_wheels_judged():
    """nvidia-cublas-cu12 (sorted first) has one owner; the cuDNN clash after it is found."""
    facts = make_facts(
        {
            "packages": {
                "nvidia_wheels": [
                    {"name": "nvidia-cublas-cu12", "version": "12.8.4.1"},
                    {"name": "nvidia-cudnn-cu12", "version": "9.10.2.21"},
                ],
                "nvidia_pins": {
                    "torch": ["nvidia-cublas-cu12==12.8.4.1", "nvidia-cudnn-cu12==9.10.2.21"],
                    "tensorflow": ["nvidia-cudnn-cu12<9.5,>=9.3.0.75"],
                },
            }
        }
    )
    (verdict,) = compat_libs.conflicting_nvidia_pins(facts, MATRIX)
    assert verdict.severity is Severity.ERROR
    assert verdict.evidence == {
        "owners": ["tensorflow", "torch"],
        "wheels": ["nvidia-cudnn-cu12"],
        "wheel": "nvidia-cudnn-cu12",
        "requirements": {
            "nvidia-cudnn-cu12": {
                "torch": "nvidia-cudnn-cu12==9.10.2.21",
                "tensorflow": "nvidia-cudnn-cu12<9.5,>=9.3.0.75",
            }
        },
    }
    assert verdict.fixes[0].summary == (
        "Install tensorflow and torch in separate virtual environments, or pick releases that "
        "pin the same nvidia-cudnn-cu12."
    )


# -- DD504 with several builds and copies: each build judged, every copy counted ------------------

TF_NEEDS = Version(ROW)


def _tf(*extra: dict, variables: dict | None = None) -> list:
    facts = make_facts(
        tensorflow_gpu(TF, "12.3", "8"),
        machine("580.65.06", "13.0"),
        {"env": {"variables": variables or {}}},
        *extra,
    )
    return compat_libs.cudnn_mismatch(facts, MATRIX)


def test_a_copy_of_unknown_version_leaves_the_build_unjudged_by_name():
    copy = {"path": "/opt/c/libcudnn.so", "version": None, "source": "ldconfig"}
    (unjudged,) = _tf({"cuda": {"libraries": {"cudnn": [copy]}}})
    assert isinstance(unjudged, compat_libs.Unjudged)
    assert (unjudged.what, unjudged.path) == ("TensorFlow", "the version of a cuDNN copy")


def test_a_copy_the_library_map_found_counts_as_installed():
    copy = {"path": "/opt/c/libcudnn.so.8", "version": ROW, "kind": "system"}
    facts = {"cuda": {"libraries": {"cudnn": []}, "library_map": {"copies": {"cudnn": [copy]}}}}
    assert not [v for v in _tf(facts) if "no cuDNN" in getattr(v, "title", "")]


def test_without_the_library_map_only_a_same_major_copy_on_ld_library_path_is_judged():
    """An LD_LIBRARY_PATH copy of another major is not what this build loads; the older copy of
    its major after it is, and the evidence names the variable."""
    older = f"{TF_NEEDS.major}.{TF_NEEDS.minor - 1}.0"
    copies = [
        {"path": "/usr/lib/libcudnn.so.8", "version": ROW, "source": "ldconfig"},
        {"path": "/opt/seven/libcudnn.so.7", "version": "7.6.5", "source": "LD_LIBRARY_PATH"},
        {"path": "/opt/old/libcudnn.so.8", "version": older, "source": "LD_LIBRARY_PATH"},
    ]
    found = _tf(
        {"cuda": {"libraries": {"cudnn": copies}}}, variables={"LD_LIBRARY_PATH": "/opt/old"}
    )
    (verdict,) = found
    assert verdict.title == (
        f"TensorFlow {TF} needs cuDNN {ROW}, but LD_LIBRARY_PATH makes it load cuDNN {older} from "
        "/opt/old"
    )
    assert verdict.evidence == {
        "framework": "tensorflow",
        "cudnn_needed": ROW,
        "loads": copies[2],
        "LD_LIBRARY_PATH": "/opt/old",
    }


def test_an_older_conda_copy_is_replaced_in_the_conda_environment():
    (verdict,) = loader_verdicts(OLDER, "conda-env", "runpath")
    assert verdict.fixes[0].summary == f"Install cuDNN {ROW} in the conda environment."


def test_tensorflow_with_no_cudnn_leaves_the_jax_plugin_judged_after_it():
    both = jax_plugin("12")  # one package list: scenarios replace lists, they do not join them
    tf = tensorflow_gpu(TF, "12.3", "8")["packages"]
    both["packages"]["distributions"] += tf["distributions"]
    both["packages"]["frameworks"].update(tf["frameworks"])
    facts = make_facts(
        both,
        machine("580.65.06", "13.0"),
        {"packages": {"nvidia_wheels": [wheel("nvidia-cudnn-cu12", below_range(), 12)]}},
    )
    found = compat_libs.cudnn_mismatch(facts, MATRIX)
    assert [v.evidence.get("framework") or v.evidence.get("plugin") for v in found] == [
        "tensorflow",
        "jax-cuda12-plugin",
    ]


def _pins_facts(pins: dict, installed: str = "9.10.2.21") -> dict:
    wheels = [{"name": "nvidia-cudnn-cu12", "version": installed}]
    return make_facts({"packages": {"nvidia_wheels": wheels, "nvidia_pins": pins}})


def test_dd505_a_pin_that_does_not_apply_or_does_not_parse_leaves_the_next_pins_judged():
    pins = {
        "torch": [
            "not a requirement !!",
            'nvidia-nccl-cu12==2.1.0; platform_system == "Windows"',
            "nvidia-cudnn-cu12==9.10.2.21",
        ],
        "tensorflow": ["nvidia-cudnn-cu12<9.5,>=9.3.0.75"],
    }
    (verdict,) = compat_libs.conflicting_nvidia_pins(_pins_facts(pins), MATRIX)
    assert verdict.evidence["wheels"] == ["nvidia-cudnn-cu12"]


def test_dd505_the_installed_version_can_be_the_one_that_satisfies_both():
    """No bound of either range fits both (all exclusive), but the installed 9.4 does."""
    pins = {"torch": ["nvidia-cudnn-cu12>9.1"], "tensorflow": ["nvidia-cudnn-cu12<9.5,>9.3"]}
    assert compat_libs.conflicting_nvidia_pins(_pins_facts(pins, "9.4.0"), MATRIX) == []
    (verdict,) = compat_libs.conflicting_nvidia_pins(_pins_facts(pins, "9.6.0"), MATRIX)
    assert verdict.evidence["owners"] == ["tensorflow", "torch"]


def _joined(*parts: dict) -> dict:
    """One package list from several scenario parts (scenarios replace lists, not join them)."""
    joined = {"packages": {"distributions": [], "frameworks": {}}}
    for part in parts:
        joined["packages"]["distributions"] += part["packages"]["distributions"]
        joined["packages"]["frameworks"].update(part["packages"]["frameworks"])
    return joined


def test_without_the_library_map_every_build_with_an_older_copy_first_is_a_finding():
    """TensorFlow needs cuDNN 8.9, Paddle (with pip CUDA libraries) 9.5.1: an older copy of
    each major on LD_LIBRARY_PATH is one finding each."""
    copies = [
        {"path": "/opt/eight/libcudnn.so.8", "version": "8.5.0", "source": "LD_LIBRARY_PATH"},
        {"path": "/opt/nine/libcudnn.so.9", "version": "9.0.0", "source": "LD_LIBRARY_PATH"},
    ]
    facts = make_facts(
        _joined(tensorflow_gpu(TF, "12.3", "8"), paddle("ON")),
        machine("580.65.06", "13.0"),
        {"cuda": {"libraries": {"cudnn": copies}}},
        {"env": {"variables": {"LD_LIBRARY_PATH": "/opt/eight:/opt/nine"}}},
    )
    found = compat_libs.cudnn_mismatch(facts, MATRIX)
    assert [(v.evidence["framework"], v.evidence["loads"]["version"]) for v in found] == [
        ("tensorflow", "8.5.0"),
        ("paddle", "9.0.0"),
    ]


def test_with_the_library_map_every_build_the_loader_gives_an_older_copy_is_a_finding():
    """torch and TensorFlow each get an older cuDNN from the loader: one finding each; a torch
    release the matrix does not know (no cuDNN it needs) is skipped, not the end of the list."""
    tf_map = loaded(OLDER, "system", "ldconfig")
    torch_entry = {
        "search": ["/opt/t/lib"],
        "libraries": {"cudnn": {"candidates": [dict(
            tf_map["cuda"]["library_map"]["frameworks"]["tensorflow"]["libraries"]["cudnn"]
            ["candidates"][0], path="/opt/t/lib/libcudnn.so.9", soname="libcudnn.so.9", version="9.0.0")]}},
    }  # fmt: skip
    tf_map["cuda"]["library_map"]["frameworks"]["torch"] = torch_entry
    for torch_version, expected in (
        ("2.5.1+cu121", ["torch", "tensorflow"]),
        ("9.9.0+cu121", ["tensorflow"]),
    ):
        torch = copy_torch(TORCH_CU121, torch_version)
        facts = make_facts(
            _joined(torch, tensorflow_gpu(TF, "12.3", "8")), machine("580.65.06", "13.0"), tf_map
        )
        found = [
            v for v in compat_libs.cudnn_mismatch(facts, MATRIX) if "dynamic loader" in v.title
        ]
        assert [v.evidence["framework"] for v in found] == expected, torch_version


def copy_torch(part: dict, version: str) -> dict:
    torch = copy.deepcopy(part)
    for d in torch["packages"]["distributions"]:
        if d["name"] == "torch":
            d["version"] = version
    torch["packages"]["frameworks"]["torch"]["distributions"][0]["version"] = version
    return torch
