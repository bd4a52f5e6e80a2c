"""The torch build a fix installs, as the user reads and runs it: the newest variant the driver
runs with code for every GPU, companions of the same build, a newer or older release when the
installed one has none, and the driver upgrade when only a newer driver unlocks one."""

from __future__ import annotations

import dataclasses

from dldoctor.fixes.commands import shown
from dldoctor.fixes.torch_builds import tag, torch_build
from dldoctor.model import Intent
from tests.checks.scenarios import dist, gpu_machine, make_facts, with_packages

PY = "/env/bin/python"
INDEX = "https://download.pytorch.org/whl/"


def machine(cc: str, driver: str, cuda: str, *dists: dict, **python: str) -> object:
    gpus = gpu_machine(driver=driver, cuda=cuda)
    gpus["nvidia"]["gpus"][0]["compute_capability"] = cc
    return make_facts(gpus, with_packages(*dists), {"python": python} if python else {})


def lines(fix) -> list[str]:
    return [shown(c) for c in fix.commands]


def test_tag():
    assert tag("13.0") == "cu130" and tag("12.6") == "cu126" and tag("11.8") == "cu118"


def test_the_default_variant_of_the_installed_release_with_its_companions(matrix):
    facts = machine(
        "9.0",
        "580.65.06",
        "13.0",
        dist("torch", "2.13.0+cpu"),
        dist("torchvision", "0.28.0+cpu"),
        dist("torchaudio", "2.13.0+cpu"),
    )
    fix = torch_build(facts, matrix, "the published build this driver and GPU run")
    assert fix.summary == (
        "Install the CUDA 13.0 build of torch 2.13.0 (the published build this driver and GPU run)."
    )
    assert lines(fix) == [
        f"{PY} -m pip install torch==2.13.0+cu130 torchvision==0.28.0+cu130 "
        f"torchaudio==2.13.0+cu130 --index-url {INDEX}cu130"
    ]
    (intent,) = fix.intents
    assert (intent.framework, intent.cuda, intent.driver) == ("torch", "13.0", "580.65.06")
    assert fix.automatic


def test_the_newest_variant_the_driver_runs_when_the_default_does_not(matrix):
    facts = machine("9.0", "570.86.15", "12.8", dist("torch", "2.13.0+cpu"))
    fix = torch_build(facts, matrix, "P")
    assert lines(fix) == [f"{PY} -m pip install torch==2.13.0+cu126 --index-url {INDEX}cu126"]
    assert fix.intents[0].driver == "560.28.03"  # CUDA 12.6's own driver


def test_a_newer_release_when_the_installed_one_has_no_code_for_the_gpu(matrix):
    facts = machine(
        "12.0",
        "580.65.06",
        "13.0",
        dist("torch", "2.6.0+cpu"),
        dist("torchvision", "0.21.0+cpu"),
        dist("torchaudio", "2.6.0+cpu"),
    )
    fix = torch_build(facts, matrix, "P")
    assert (
        fix.summary == "Upgrade to torch 2.7 built for CUDA 12.8: no build of torch 2.6.0 fits (P)."
    )
    assert fix.intents[0].requirements == (
        "torch==2.7.*",
        "torchvision==0.22.*",
        "torchaudio==2.7.*",
    )
    assert fix.intents[0].index_url == f"{INDEX}cu128"
    assert fix.intents[0].driver == "570.26"
    alone = torch_build(machine("12.0", "580.65.06", "13.0", dist("torch", "2.6.0")), matrix, "P")
    assert alone.intents[0].requirements == ("torch==2.7.*",)  # no companion it did not have


def test_an_older_release_for_gpus_the_installed_one_dropped(matrix):
    facts = machine("3.7", "580.65.06", "13.0", dist("torch", "2.13.0+cpu"))
    fix = torch_build(facts, matrix, "P")
    assert (
        fix.summary
        == "Go back to torch 2.7 built for CUDA 11.8: no build of torch 2.13.0 fits (P)."
    )
    assert lines(fix) == [f"{PY} -m pip install 'torch==2.7.*' --index-url {INDEX}cu118"]
    assert fix.intents[0].driver == "520.61.05"


def test_an_older_release_that_needs_a_newer_driver_too(matrix):
    facts = machine("3.7", "470.82.01", "11.4", dist("torch", "2.13.0+cpu"))
    fix = torch_build(facts, matrix, "P")
    assert fix.summary == (
        "The newest torch with code for these GPUs is 2.7 (CUDA 11.8), which needs driver "
        f"520.61.05 or newer: upgrade the NVIDIA driver, then install torch==2.7.* from {INDEX}cu118."
    )
    assert fix.intents == (Intent(action="driver", driver="520.61.05", framework="torch"),)
    assert fix.commands == () and not fix.automatic


def test_only_a_build_the_driver_does_not_run_has_code_for_the_gpu(matrix):
    facts = machine("12.0", "560.35.03", "12.6", dist("torch", "2.13.0+cpu"))
    fix = torch_build(facts, matrix, "P")
    assert fix.summary == (
        "Only torch's CUDA 13.0 build has code for these GPUs, and it needs driver 580.65.06 or "
        f"newer: upgrade the NVIDIA driver, then install torch==2.13.0+cu130 from {INDEX}cu130."
    )
    assert fix.intents == (Intent(action="driver", driver="580.65.06", framework="torch"),)


def test_a_driver_older_than_every_build(matrix):
    facts = machine("9.0", "550.54.14", "12.4", dist("torch", "2.13.0+cpu"))
    fix = torch_build(facts, matrix, "P")
    assert fix.summary == (
        "The driver supports CUDA 12.4, so it is older than every CUDA build of torch 2.13.0 "
        "(12.6, 13.0, 13.2): upgrade the NVIDIA driver to 560.28.03 or newer (CUDA 12.6), or "
        "install an older torch."
    )
    unread = make_facts(
        gpu_machine(driver="550.54.14", cuda=None), with_packages(dist("torch", "2.13.0+cpu"))
    )
    assert torch_build(unread, matrix, "P").summary.startswith(
        "Driver 550.54.14 is older than every CUDA build of torch 2.13.0"
    )


def test_no_published_build_for_the_gpu(matrix):
    facts = machine("3.0", "580.65.06", "13.0", dist("torch", "2.13.0+cpu"))
    fix = torch_build(facts, matrix, "P")
    assert fix.summary == (
        "No official torch build (2.13.0 or newer) runs on sm_30 with this driver: build torch "
        "from source with TORCH_CUDA_ARCH_LIST set, or upgrade the driver."
    )
    assert fix.commands == () and fix.intents == ()


def test_a_release_the_matrix_does_not_know_and_no_torch(matrix):
    fix = torch_build(machine("9.0", "580.65.06", "13.0", dist("torch", "0.4.1")), matrix, "P")
    assert fix.summary == f"Install a CUDA build of torch from {INDEX}cuXXX (P)."
    assert torch_build(machine("9.0", "580.65.06", "13.0"), matrix, "P") is None


def test_conda_removes_its_own_copies_before_pip_writes_over_them(matrix):
    facts = machine(
        "9.0",
        "580.65.06",
        "13.0",
        dist("torch", "2.13.0", installer="conda", conda={"name": "pytorch"}),
        dist("torchvision", "0.28.0", installer="pip"),
    )
    fix = torch_build(facts, matrix, "P")
    assert fix.intents[0].remove_first == ("torch",)
    assert lines(fix) == [
        "conda remove --prefix /env --force -y pytorch",
        f"{PY} -m pip install torch==2.13.0+cu130 torchvision==0.28.0+cu130 --index-url {INDEX}cu130",
    ]


def test_gpus_newer_than_the_release_get_the_first_release_with_their_code_and_its_driver(matrix):
    # An RTX 5090 (sm_120) with torch 2.6 on a CUDA 12.6 driver: 2.6 has no code for it; 2.7's
    # CUDA 12.8 build has, with driver 570.26. Never "build torch from source".
    facts = machine("12.0", "560.35.03", "12.6", dist("torch", "2.6.0+cpu"))
    fix = torch_build(facts, matrix, "P")
    assert fix.summary == (
        "The first torch with code for these GPUs is 2.7 (CUDA 12.8), which needs driver 570.26 "
        f"or newer: upgrade the NVIDIA driver, then install torch==2.7.* from {INDEX}cu128."
    )
    assert fix.intents == (Intent(action="driver", driver="570.26", framework="torch"),)


def test_releases_without_a_wheel_for_this_python_are_skipped_not_the_end(matrix):
    # Python 3.14: torch 2.7 and 2.8 have no wheel for it (<3.14), 2.9 has (<3.15).
    facts = machine("12.0", "580.65.06", "13.0", dist("torch", "2.6.0+cpu"), version="3.14.0")
    fix = torch_build(facts, matrix, "P")
    assert fix.summary.startswith("Upgrade to torch 2.9 built for CUDA ")


def test_an_unknown_architecture_list_rules_no_variant_out(matrix):
    unknown = dataclasses.replace(matrix, torch_arches=())
    facts = machine("3.0", "580.65.06", "13.0", dist("torch", "2.13.0+cpu"))
    fix = torch_build(facts, unknown, "P")
    assert (
        fix.summary == "Install the CUDA 13.0 build of torch 2.13.0 (P)."
    )  # unknown judges nothing
    assert torch_build(facts, matrix, "P").summary.startswith("No official torch build")


def test_a_build_whose_driver_floor_the_matrix_lacks_asks_for_a_newer_driver_in_words(matrix):
    # The same RTX 5090 case with CUDA 12.8's toolkit row missing: no floor to name, and the
    # sentence still reads ("needs a newer driver", never "needs driver a newer one or newer").
    rows = tuple(t for t in matrix.cuda_toolkits if t.cuda != "12.8")
    lacking = dataclasses.replace(matrix, cuda_toolkits=rows)
    facts = machine("12.0", "560.35.03", "12.6", dist("torch", "2.6.0+cpu"))
    fix = torch_build(facts, lacking, "P")
    assert fix.summary == (
        "The first torch with code for these GPUs is 2.7 (CUDA 12.8), which needs a newer driver: "
        f"upgrade the NVIDIA driver, then install torch==2.7.* from {INDEX}cu128."
    )


def test_only_a_build_whose_driver_floor_the_matrix_lacks_has_code_for_the_gpu(matrix):
    rows = tuple(t for t in matrix.cuda_toolkits if t.cuda != "13.0")
    lacking = dataclasses.replace(matrix, cuda_toolkits=rows)
    facts = machine("12.0", "560.35.03", "12.6", dist("torch", "2.13.0+cpu"))
    fix = torch_build(facts, lacking, "P")
    assert fix.summary == (
        "Only torch's CUDA 13.0 build has code for these GPUs, and it needs a newer driver: "
        f"upgrade the NVIDIA driver, then install torch==2.13.0+cu130 from {INDEX}cu130."
    )
