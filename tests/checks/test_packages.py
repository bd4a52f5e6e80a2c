"""DD301-DD303: duplicate copies, clashing distributions, unmet requirements."""

from __future__ import annotations

from dldoctor.checks import packages
from dldoctor.model import Severity
from tests.checks.scenarios import dist, gpu_machine, make_facts, shown_all, with_packages


def test_two_numpy_copies_with_different_versions_are_named_with_the_one_python_imports(matrix):
    facts = make_facts(
        {
            "packages": {
                "duplicates": [
                    {
                        "name": "numpy",
                        "copies": [
                            {
                                "version": "1.26.4",
                                "location": "/home/u/.local/lib/python3.11/site-packages",
                            },
                            {"version": "2.4.6", "location": "/env/lib/python3.11/site-packages"},
                        ],
                    }
                ]
            }
        }
    )
    (verdict,) = packages.duplicate_distribution(facts, matrix)
    assert verdict.severity is Severity.ERROR
    assert "imports 1.26.4 from /home/u/.local" in verdict.title
    assert shown_all(verdict.fixes[0])[-1] == "/env/bin/python -m pip install numpy==1.26.4"


def test_no_duplicates_is_silent(matrix):
    assert packages.duplicate_distribution(make_facts(), matrix) == []


def test_tensorflow_and_tensorflow_cpu_clash_keeps_the_cpu_one_without_gpu(matrix):
    facts = make_facts(
        with_packages(dist("tensorflow", "2.21.0"), dist("tensorflow-cpu", "2.21.0")),
        {
            "packages": {
                "module_conflicts": [
                    {"module": "tensorflow", "distributions": ["tensorflow", "tensorflow-cpu"]}
                ]
            }
        },
    )
    (verdict,) = packages.clashing_distributions(facts, matrix)
    assert verdict.severity is Severity.ERROR
    assert shown_all(verdict.fixes[0]) == (
        "/env/bin/python -m pip uninstall -y tensorflow tensorflow-cpu",
        "/env/bin/python -m pip install tensorflow-cpu==2.21.0",
    )


def test_opencv_clash_on_a_gpu_machine_is_a_warning(matrix):
    facts = make_facts(
        gpu_machine(),
        with_packages(dist("opencv-python", "4.10.0"), dist("opencv-python-headless", "4.10.0")),
        {
            "packages": {
                "module_conflicts": [
                    {"module": "cv2", "distributions": ["opencv-python", "opencv-python-headless"]}
                ]
            }
        },
    )
    (verdict,) = packages.clashing_distributions(facts, matrix)
    assert verdict.severity is Severity.WARNING


def test_torchvision_built_for_another_torch_gets_the_paired_release_from_the_same_index(matrix):
    facts = make_facts(
        with_packages(dist("torch", "2.13.0+cpu"), dist("torchvision", "0.23.0")),
        {
            "packages": {
                "unsatisfied": [
                    {
                        "distribution": "torchvision",
                        "version": "0.23.0",
                        "requirement": "torch==2.8.0",
                        "installed": "2.13.0+cpu",
                        "problem": "version",
                    }
                ]
            }
        },
    )
    (verdict,) = packages.unsatisfied_requirements(facts, matrix)
    assert verdict.severity is Severity.ERROR
    assert "requires torch==2.8.0, but 2.13.0+cpu is installed" in verdict.title
    assert shown_all(verdict.fixes[0]) == (
        "/env/bin/python -m pip install 'torchvision==0.28.*' --index-url https://download.pytorch.org/whl/cpu",
    )


def test_a_missing_dependency_of_an_unlisted_package_is_a_warning_with_its_install(matrix):
    facts = make_facts(
        {
            "packages": {
                "unsatisfied": [
                    {
                        "distribution": "rich",
                        "version": "15.0.0",
                        "requirement": "pygments<3.0.0,>=2.13.0",
                        "installed": None,
                        "problem": "missing",
                    }
                ]
            }
        }
    )
    (verdict,) = packages.unsatisfied_requirements(facts, matrix)
    assert verdict.severity is Severity.WARNING
    assert "it is not installed" in verdict.title
    assert shown_all(verdict.fixes[0]) == (
        "/env/bin/python -m pip install 'pygments<3.0.0,>=2.13.0'",
    )


def test_all_requirements_met_is_silent(matrix):
    assert packages.unsatisfied_requirements(make_facts(), matrix) == []
