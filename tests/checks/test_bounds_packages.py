"""DD301-DD303 at their edges: every copy's version in the title, which clashing distribution is
kept for a GPU machine, none and unknown, and an unmet requirement's evidence."""

from __future__ import annotations

import pytest

from dldoctor.checks import packages
from dldoctor.checks.registry import Unjudged
from dldoctor.matrix import load
from dldoctor.model import Severity
from tests.checks.scenarios import dist, make_facts, with_packages

MATRIX = load()


def duplicates(*versions: str | None) -> dict:
    copies = [
        {"version": v, "location": f"/site-{n}/lib/python3.11/site-packages"}
        for n, v in enumerate(versions)
    ]
    return {"packages": {"duplicates": [{"name": "numpy", "copies": copies}]}}


@pytest.mark.parametrize(
    ("versions", "listed"),
    [
        (("1.26.4", "2.4.6"), "1.26.4, 2.4.6"),
        (("2.4.6", "1.26.4"), "1.26.4, 2.4.6"),  # sorted, whatever Python imports
        (("2.4.6", None), "2.4.6, version unknown"),
        (("2.4.6", "2.4.6", "2.4.6"), "2.4.6"),  # one version, said once
    ],
)
def test_dd301_names_every_copys_version(versions, listed):
    (verdict,) = packages.duplicate_distribution(make_facts(duplicates(*versions)), MATRIX)
    assert verdict.title == (
        f"numpy is installed {len(versions)} times ({listed}); Python imports {versions[0]} "
        "from /site-0/lib/python3.11/site-packages"
    )


@pytest.mark.parametrize(
    ("names", "gpu", "kept"),
    [
        (["onnxruntime-gpu", "onnxruntime"], True, "onnxruntime-gpu"),
        (["onnxruntime-gpu", "onnxruntime"], None, "onnxruntime"),  # unknown: the plain one
        (["onnxruntime-gpu", "onnxruntime"], False, "onnxruntime"),
        (["tensorflow", "tensorflow-cpu"], False, "tensorflow-cpu"),
        (["tensorflow", "tensorflow-cpu"], None, "tensorflow"),
        (["opencv-python-headless", "opencv-python"], False, "opencv-python-headless"),
        (["paddlepaddle-gpu"], None, "paddlepaddle-gpu"),  # nothing else to keep
    ],
)
def test_dd302_keeps_the_gpu_flavour_on_a_gpu_machine_else_the_plain_one(names, gpu, kept):
    assert packages._choose(names, gpu) == kept


def test_dd303_evidence_is_the_unmet_requirement_as_read():
    item = {
        "distribution": "rich",
        "version": "15.0.0",
        "requirement": "pygments<3.0.0,>=2.13.0",
        "installed": None,
        "problem": "missing",
    }
    facts = make_facts({"packages": {"unsatisfied": [item]}})
    (verdict,) = packages.unsatisfied_requirements(facts, MATRIX)
    assert verdict.evidence == item


def unmet(owner: str, requirement: str, torch_version: str = "2.13.0+cpu"):
    item = {
        "distribution": owner,
        "version": "0.1.0",
        "requirement": requirement,
        "installed": torch_version,
        "problem": "version",
    }
    facts = make_facts(
        with_packages(dist("torch", torch_version), dist(owner, "0.1.0")),
        {"packages": {"unsatisfied": [item]}},
    )
    (verdict,) = packages.unsatisfied_requirements(facts, MATRIX)
    (fix,) = verdict.fixes
    return fix


@pytest.mark.parametrize("owner", ["torchvision", "torchaudio", "TorchVision"])
@pytest.mark.parametrize("local", ["+cpu", "+cu130", ""])
def test_dd303_a_companion_gets_the_release_paired_with_torch_from_torchs_index(owner, local):
    torch_version = f"2.13.0{local}"
    fix = unmet(owner, "torch==2.8.0", torch_version)
    name = owner.lower()
    release = MATRIX.torch_release(torch_version)
    paired = release.torchvision if name == "torchvision" else release.torchaudio
    assert fix.summary == (
        f"Install the {name} release paired with the installed torch {torch_version}."
    )
    (intent,) = fix.intents
    assert intent.requirements == (f"{name}=={paired}.*",)
    index = MATRIX.torch_index_url.format(variant=local[1:]) if local else None
    assert intent.index_url == index and fix.automatic is True


def test_dd303_a_companion_of_a_torch_the_matrix_lacks_gets_what_it_declares():
    fix = unmet("torchvision", "torch==2.8.0", "0.0.1+cpu")
    assert fix.summary == "Install torch==2.8.0 (what torchvision declares)."
    assert fix.intents[0].requirements == ("torch==2.8.0",) and fix.automatic is True


def test_dd303_another_owner_of_a_torch_requirement_gets_what_it_declares():
    fix = unmet("lightning", "torch>=2.1")
    assert fix.summary == "Install torch>=2.1 (what lightning declares)."
    assert fix.intents[0].index_url is None


def test_dd303_a_malformed_requirement_asks_to_reinstall_its_owner():
    fix = unmet("rich", "pygments (((")
    assert fix.summary == "rich's requirement 'pygments (((' is malformed: reinstall rich."
    assert fix.commands == () and fix.intents == ()


@pytest.mark.parametrize(
    ("versions", "requirement"),
    [
        (("1.26.4", "2.4.6"), "numpy==1.26.4"),  # the one Python imports
        ((None, "1.26.4", "2.4.6"), "numpy==2.4.6"),  # that one unknown: the newest known
        ((None, None), "numpy"),  # none known: no pin ("numpy==version unknown" is no pin)
    ],
)
def test_dd301_reinstalls_the_imported_version_else_the_newest_known_else_unpinned(
    versions, requirement
):
    (verdict,) = packages.duplicate_distribution(make_facts(duplicates(*versions)), MATRIX)
    (fix,) = verdict.fixes
    assert fix.summary == "Remove every copy, then install one." and fix.automatic is False
    (intent,) = fix.intents
    assert intent.requirements == (requirement,)
    assert intent.remove_first == ("numpy",) and intent.copies == len(versions)
    assert verdict.evidence == {
        "copies": duplicates(*versions)["packages"]["duplicates"][0]["copies"]
    }


def test_dd301_an_unnamed_duplicate_is_unjudged_and_the_next_still_judged():
    named = duplicates("1.26.4", "2.4.6")["packages"]["duplicates"][0]
    facts = make_facts({"packages": {"duplicates": [{"name": None, "copies": []}, named]}})
    unjudged, verdict = packages.duplicate_distribution(facts, MATRIX)
    assert unjudged == Unjudged("a distribution found twice", "its name")
    assert verdict.title.startswith("numpy is installed 2 times")


@pytest.mark.parametrize(
    ("name", "versions", "severity"),
    [
        ("numpy", ("1.26.4", "2.4.6"), Severity.ERROR),  # a library frameworks load, two versions
        ("numpy", ("2.4.6", "2.4.6"), Severity.WARNING),  # the same version twice
        ("numpy", ("2.4.6", None), Severity.WARNING),  # not known to differ
        ("rich", ("13.0.0", "14.0.0"), Severity.WARNING),  # not one the matrix follows
    ],
)
def test_dd301_is_an_error_only_for_two_known_versions_of_a_followed_package(
    name, versions, severity
):
    dup = duplicates(*versions)
    dup["packages"]["duplicates"][0]["name"] = name
    (verdict,) = packages.duplicate_distribution(make_facts(dup), MATRIX)
    assert verdict.severity is severity


def test_dd302_says_which_clash_and_keeps_one():
    conflict = {"module": "cv2", "distributions": ["opencv-python", "opencv-python-headless"]}
    facts = make_facts(
        with_packages(dist("opencv-python", "4.10.0.84"), dist("opencv-python-headless", "4.9.0")),
        {"packages": {"module_conflicts": [conflict]}},
    )
    (verdict,) = packages.clashing_distributions(facts, MATRIX)
    assert verdict.title == (
        "opencv-python and opencv-python-headless both install the module 'cv2' and overwrite "
        "each other's files"
    )
    assert verdict.evidence == conflict
    (fix,) = verdict.fixes
    # no GPU here: the headless (CPU) flavour is kept, at its installed release
    assert fix.summary == "Keep only opencv-python-headless (reinstalled cleanly)."
    assert fix.intents[0].requirements == ("opencv-python-headless==4.9.0",)


@pytest.mark.parametrize(
    ("installed", "state"),
    [("2.13.0+cpu", "2.13.0+cpu is installed"), (None, "it is not installed")],
)
def test_dd303_title_names_the_owner_its_version_and_what_is_installed(installed, state):
    item = {
        "distribution": "torchvision",
        "version": "0.23.0",
        "requirement": "torch==2.8.0",
        "installed": installed,
        "problem": "version" if installed else "missing",
    }
    (verdict,) = packages.unsatisfied_requirements(
        make_facts({"packages": {"unsatisfied": [item]}}), MATRIX
    )
    assert verdict.title == f"torchvision 0.23.0 requires torch==2.8.0, but {state}"


def test_dd301_the_newest_known_version_by_version_order_not_text():
    (verdict,) = packages.duplicate_distribution(
        make_facts(duplicates(None, "junk", "10.0.0", "9.0.0")), MATRIX
    )
    assert verdict.fixes[0].intents[0].requirements == ("numpy==10.0.0",)


def test_dd303_a_companions_other_requirement_gets_what_it_declares():
    fix = unmet("torchvision", "pillow")  # not torch: no pairing
    assert fix.summary == "Install pillow (what torchvision declares)."
    assert fix.intents[0].requirements == ("pillow",) and fix.intents[0].index_url is None


def test_dd302_keeps_a_distribution_of_unknown_version_unpinned():
    conflict = {"module": "tensorflow", "distributions": ["tensorflow", "tensorflow-cpu"]}
    facts = make_facts(
        with_packages(dist("tensorflow", "2.21.0")),  # tensorflow-cpu is not listed installed
        {"packages": {"module_conflicts": [conflict]}},
    )
    (verdict,) = packages.clashing_distributions(facts, MATRIX)
    assert verdict.fixes[0].intents[0].requirements == ("tensorflow-cpu",)


def test_dd301_leaves_a_conda_and_pip_pair_to_dd304_and_judges_the_next_duplicate():
    site = "/env/lib/python3.11/site-packages"
    user = "/home/u/.local/lib/python3.11/site-packages"
    pair = [{"version": "1.26.4", "location": site}, {"version": "2.4.6", "location": user}]
    other = [{"version": "1.13.0", "location": site}, {"version": "1.14.1", "location": user}]
    facts = make_facts(
        with_packages(dist("numpy", "1.26.4", installer="conda"), dist("scipy", "1.13.0")),
        {
            "packages": {
                "conda": {"packages": [{"name": "numpy", "version": "1.26.4"}]},
                "duplicates": [
                    {"name": "numpy", "copies": pair},
                    {"name": "scipy", "copies": other},
                ],
            }
        },
    )
    (verdict,) = packages.duplicate_distribution(facts, MATRIX)
    assert verdict.title.startswith("scipy is installed 2 times")
