"""GPU builds replacing CPU-only ones, as the commands a user runs: which distributions are
removed, the CUDA variant and its own index, the driver each build needs."""

from __future__ import annotations

from dldoctor.fixes import gpu_builds
from dldoctor.fixes.commands import shown
from dldoctor.matrix import load
from tests.checks.scenarios import dist, gpu_machine, make_facts, with_packages

MATRIX = load()
PY = "/env/bin/python"
PADDLE = "https://www.paddlepaddle.org.cn/packages/stable/"


def lines(fix) -> list[str]:
    return [shown(c) for c in fix.commands]


def tensorflow(*names: str, version: str = "2.21.0", machine: dict | None = None) -> object:
    frame = {"tensorflow": {"distributions": [{"name": n, "version": version} for n in names]}}
    dists = [dist(n, version) for n in names]
    return make_facts(with_packages(*dists, frameworks=frame), machine or {})


def test_tensorflow_cpu_is_replaced_by_the_cuda_extra_of_its_release():
    fix = gpu_builds.tensorflow_gpu_build(tensorflow("tensorflow-cpu"), MATRIX)
    assert lines(fix) == [
        f"{PY} -m pip uninstall -y tensorflow-cpu",
        f"{PY} -m pip install 'tensorflow[and-cuda]==2.21.0'",
    ]
    assert fix.summary == (
        "Replace tensorflow-cpu with the CUDA build: tensorflow[and-cuda] 2.21.0 (Linux only)."
    )
    (intent,) = fix.intents
    assert (intent.framework, intent.cuda, intent.driver) == ("tensorflow", "12.5", "525.60.13")


def test_every_tensorflow_distribution_that_would_shadow_the_cuda_build_is_removed():
    fix = gpu_builds.tensorflow_gpu_build(
        tensorflow("tensorflow-intel", "tensorflow-metal", "tensorflow-io-gcs-filesystem"), MATRIX
    )
    assert fix.intents[0].remove_first == ("tensorflow-intel",)
    assert "Replace tensorflow-intel with" in fix.summary
    plain = gpu_builds.tensorflow_gpu_build(tensorflow("tensorflow"), MATRIX)
    assert plain.intents[0].remove_first == ("tensorflow",)
    metal = gpu_builds.tensorflow_gpu_build(tensorflow("tensorflow-metal"), MATRIX)
    assert metal is None  # the Metal plugin is not a TensorFlow build


def test_tensorflow_on_an_old_driver_is_told_to_upgrade_it_first():
    old = gpu_machine(driver="470.82.01", cuda="11.4")
    fix = gpu_builds.tensorflow_gpu_build(tensorflow("tensorflow-cpu", machine=old), MATRIX)
    assert fix.summary.startswith(
        "First upgrade the NVIDIA driver to 525.60.13 or newer (TensorFlow 2.21 uses CUDA 12). "
        "Replace tensorflow-cpu"
    )


def test_a_tensorflow_release_the_matrix_lacks_gets_no_driver_claim():
    fix = gpu_builds.tensorflow_gpu_build(tensorflow("tensorflow-cpu", version="9.9.0"), MATRIX)
    (intent,) = fix.intents
    assert intent.cuda is None and intent.driver is None
    assert fix.summary.startswith("Replace tensorflow-cpu")


def test_no_tensorflow_no_fix():
    assert gpu_builds.tensorflow_gpu_build(make_facts(), MATRIX) is None


def paddle(version: str, driver: str | None = None, cuda: str | None = None) -> object:
    machine = gpu_machine(driver=driver, cuda=cuda) if driver else {}
    return make_facts(with_packages(dist("paddlepaddle", version)), machine)


def test_paddle_gpu_from_its_own_index_for_the_newest_variant_the_driver_runs():
    fix = gpu_builds.paddle_gpu_build(paddle("2.6.2", "550.54.14", "12.4"), MATRIX)
    assert lines(fix) == [
        f"{PY} -m pip uninstall -y paddlepaddle",
        f"{PY} -m pip install paddlepaddle-gpu==2.6.2 --index-url {PADDLE}cu120/",
    ]
    assert fix.summary == "Replace paddlepaddle with paddlepaddle-gpu 2.6.2 built for CUDA 12.0."
    (intent,) = fix.intents
    assert (intent.framework, intent.cuda, intent.driver) == ("paddle", "12.0", "525.60.13")
    older = gpu_builds.paddle_gpu_build(paddle("2.6.2", "520.61.05", "11.8"), MATRIX)
    assert older.intents[0].index_url == f"{PADDLE}cu118/"
    assert older.intents[0].driver == "520.61.05"


def test_paddle_without_a_driver_gets_its_newest_variant():
    fix = gpu_builds.paddle_gpu_build(paddle("2.6.2"), MATRIX)
    assert fix.intents[0].cuda == "12.0"


def test_paddle_on_a_driver_older_than_every_variant():
    fix = gpu_builds.paddle_gpu_build(paddle("2.6.2", "450.80.02", "11.0"), MATRIX)
    assert fix.summary == (
        "The driver supports CUDA 11.0, older than every CUDA build of paddlepaddle-gpu 2.6.2 "
        "(11.2, 11.6, 11.7, 11.8, 12.0): upgrade the NVIDIA driver to 460.27.03 or newer "
        "(CUDA 11.2), or install an older paddlepaddle-gpu."
    )
    assert [(i.action, i.driver, i.framework) for i in fix.intents] == [
        ("driver", "460.27.03", "paddle")
    ]


def test_a_paddle_release_the_matrix_lacks_and_no_paddle():
    fix = gpu_builds.paddle_gpu_build(paddle("9.9.0"), MATRIX)
    assert fix.summary == "Install paddlepaddle-gpu 9.9.0 from PaddlePaddle's own wheel index."
    assert fix.commands == ()
    assert gpu_builds.paddle_gpu_build(make_facts(), MATRIX) is None


def onnx(name: str, version: str, driver: str = "580.65.06", cuda: str = "13.0") -> object:
    return make_facts(with_packages(dist(name, version)), gpu_machine(driver=driver, cuda=cuda))


def test_onnxruntime_gpu_replaces_the_cpu_build():
    fix = gpu_builds.onnxruntime_gpu_build(onnx("onnxruntime", "1.22.0"), MATRIX)
    assert lines(fix) == [
        f"{PY} -m pip uninstall -y onnxruntime",
        f"{PY} -m pip install onnxruntime-gpu==1.22.0",
    ]
    assert fix.summary == "Replace onnxruntime with onnxruntime-gpu 1.22.0."
    assert (fix.intents[0].cuda, fix.intents[0].driver) == ("12", "525.60.13")
    assert gpu_builds.onnxruntime_gpu_build(make_facts(), MATRIX) is None


def test_onnxruntime_gpu_for_cuda_12_from_its_own_feed_before_it_was_pypis_default():
    fix = gpu_builds.onnxruntime_for_cuda(onnx("onnxruntime-gpu", "1.18.0"), MATRIX, "12")
    feed = "https://aiinfra.pkgs.visualstudio.com/PublicPackages/_packaging/onnxruntime-cuda-12/pypi/simple/"
    assert lines(fix) == [
        f"{PY} -m pip install --force-reinstall onnxruntime-gpu==1.18.0 --extra-index-url {feed}"
    ]
    assert fix.summary.startswith(
        "Install the CUDA 12 build of onnxruntime-gpu 1.18.0: the one on PyPI"
    )
    assert fix.notes.startswith("Source: https://onnxruntime.ai/docs/install/")
    assert (fix.intents[0].cuda, fix.intents[0].driver) == ("12", "525.60.13")


def test_onnxruntime_gpu_older_than_any_cuda_12_build_is_upgraded():
    fix = gpu_builds.onnxruntime_for_cuda(onnx("onnxruntime-gpu", "1.16.3"), MATRIX, "12")
    assert lines(fix) == [f"{PY} -m pip install 'onnxruntime-gpu>=1.19'"]
    assert fix.summary == "Upgrade onnxruntime-gpu to 1.19 or newer: its PyPI build is for CUDA 12."


def test_onnxruntime_gpu_for_cuda_without_a_known_build():
    assert gpu_builds.onnxruntime_for_cuda(onnx("onnxruntime-gpu", "1.22.0"), MATRIX, "12") is None
    assert gpu_builds.onnxruntime_for_cuda(onnx("onnxruntime-gpu", "1.16.3"), MATRIX, "11") is None
    assert gpu_builds.onnxruntime_for_cuda(onnx("onnxruntime", "1.22.0"), MATRIX, "12") is None


def test_mvc_and_full_floors():
    facts = make_facts()
    assert gpu_builds.mvc_floor(MATRIX, "12", facts) == "525.60.13"
    assert gpu_builds.mvc_floor(MATRIX, "12.8", facts) == "525.60.13"
    assert gpu_builds.full_floor(MATRIX, "12.8", facts) == "570.26"
    assert gpu_builds.full_floor(MATRIX, "12", facts) == "525.60.13"  # only the major: its floor
    assert gpu_builds.mvc_floor(MATRIX, "99", facts) is None
    assert gpu_builds.full_floor(MATRIX, "99.1", facts) is None


def test_pick_variant_by_version_not_by_spelling():
    facts = make_facts(gpu_machine(driver="440.33.01", cuda="10.2"))
    assert gpu_builds.pick_variant(("9.2", "10.1"), facts, None) == "10.1"
    assert gpu_builds.pick_variant(("10.1", "9.2"), facts, None) == "10.1"
    no_driver = make_facts()
    assert gpu_builds.pick_variant(("11.8", "12.6", "12.8"), no_driver, None) == "12.8"


def test_the_cuda_12_feed_intent_names_its_framework():
    fix = gpu_builds.onnxruntime_for_cuda(onnx("onnxruntime-gpu", "1.18.0"), MATRIX, "12")
    assert fix.intents[0].framework == "onnxruntime"
    upgrade = gpu_builds.onnxruntime_for_cuda(onnx("onnxruntime-gpu", "1.16.3"), MATRIX, "12")
    assert upgrade.intents[0].framework == "onnxruntime"


def test_torch_fixes_say_what_they_install_for():
    facts = make_facts(gpu_machine(), with_packages(dist("torch", "2.13.0+cpu")))
    assert gpu_builds.torch_gpu_build(facts, MATRIX).summary == (
        "Install the CUDA 13.0 build of torch 2.13.0 (the published build this driver and GPU run)."
    )
    assert gpu_builds.torch_build_for_driver(facts, MATRIX).summary == (
        "Install the CUDA 13.0 build of torch 2.13.0 (one this driver runs)."
    )
