"""Triage of real pastes: the facts each format shows, unknown elsewhere, and the top finding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dldoctor.checks.registry import run_checks
from dldoctor.document.report import Report
from dldoctor.facts.known import known
from dldoctor.matrix import load
from dldoctor.model import Status
from dldoctor.triage import Pasted, read

PASTES = Path(__file__).resolve().parent / "pastes"
MATRIX = load()


def triaged(name: str) -> tuple[Pasted, Report]:
    pasted = read((PASTES / name).read_text(encoding="utf-8"), MATRIX)
    outcomes = tuple(run_checks(pasted.facts, MATRIX))
    return pasted, Report(
        "dldoctor triage", "2026-12-01T00:00:00+00:00", 0.0, pasted.facts, outcomes
    )


def top(report: Report) -> str | None:
    primary = report.diagnosis.primary
    return primary.code if primary else None


# (paste, formats read, facts it must show (path → value; None: must stay unknown), top finding)
CASES: list[tuple[str, tuple[str, ...], dict[str, Any], str | None]] = [
    (
        "collect_env_1_5_p100_driver410.txt",  # pytorch/pytorch#37320: retyped, CJK colons
        ("collect_env",),
        {
            "nvidia.driver_version": "410.104",
            "nvidia.gpu_count": 4,
            "cuda.toolkits.0.version": "10.0.130",  # "CUDA runtime version" is nvcc's
            "packages.frameworks.torch.build.cuda": "10.2",
            "python.version": "3.6",
            "system.os.name": "Linux",
            "nvidia.nvml.status": None,
            "env.variables": None,
        },
        "DD501",
    ),
    (
        "collect_env_1_7_colab_t4.txt",  # pytorch/pytorch#46973
        ("collect_env",),
        {
            "nvidia.gpus.0.name": "Tesla T4",
            "packages.frameworks.torch.build.cuda": "10.1",
            "packages.frameworks.torch.build.debug": True,
            "system.architecture": "x86_64",
            "system.os.distribution": "Ubuntu 18.04.5 LTS",
            "system.cpu.flags": None,
        },
        None,
    ),
    (
        "collect_env_2_0_windows_gpu.txt",  # pytorch/pytorch#51858
        ("collect_env",),
        {
            "system.os.name": "Windows",
            "nvidia.driver_version": "535.98",
            "python.version": "3.9.16",
            "python.marker_environment.sys_platform": "win32",
            "system.cpu.model": "Intel(R) Core(TM) i7-10700 CPU @ 2.90GHz",
            "packages.frameworks.torch.build.cuda": "11.7",
        },
        None,
    ),
    (
        "collect_env_2_5_linux_cpu_wsl.txt",  # CPU wheel under WSL2: no GPU in the paste at all
        ("collect_env", "lscpu"),  # collect_env quotes lscpu
        {
            "system.wsl.is_wsl": True,
            "system.wsl.version": 2,
            "system.libc.version": "2.35",
            "packages.frameworks.torch.build.cuda": False,
            "nvidia.gpus": None,  # "No CUDA" is what torch saw, not "no GPU"
            "nvidia.driver_version": None,
        },
        None,
    ),
    (
        "collect_env_mac_2019.txt",  # pytorch/pytorch#16999: "Nvidia driver version: 1.1.0"
        ("collect_env",),
        {
            "system.os.name": "Darwin",
            "system.os.macos_version": "10.13.6",
            "nvidia.gpus.0.name": "GeForce GTX 1060 with Max-Q Design",
            "nvidia.driver_version": None,
        },
        None,
    ),
    (
        "collect_env_2_1_rocm_mi250.txt",  # a ROCm build: its GPUs are AMD's, not NVML's
        ("collect_env",),
        {
            "packages.frameworks.torch.build.hip": "5.6.31061-8c743ae5d",  # as torch.version.hip
            "packages.frameworks.torch.build.cuda": False,  # "N/A" on a ROCm build
            "nvidia.gpus": None,
            "cuda.toolkits": None,  # "Could not collect" / "No CUDA": no nvcc on PATH, not none
            "nvidia.driver_version": None,
        },
        None,
    ),
    (
        "collect_env_1_8_macos_arm64.txt",  # pytorch/pytorch#49924, pasted inside backticks
        ("collect_env",),
        {
            "system.os.name": "Darwin",
            "system.os.macos_version": "11.1",
            "cuda.toolkits": None,  # "Could not collect" / "No CUDA": no nvcc on PATH, not none
            "system.architecture": "arm64",
            "packages.frameworks.torch.build.cuda": False,
            "runtime.frameworks.torch.info.cuda_available": False,
            "nvidia.gpus": None,
        },
        None,
    ),
    (
        "nvidia_smi_version_mismatch.txt",  # illinois-scicomp/machine-shop-maintenance#70
        ("nvidia-smi (failed)",),
        {"nvidia.nvml.status": "lib_rm_version_mismatch", "packages.distributions": None},
        "DD102",
    ),
    (
        "jax_env_a10g_x8.txt",  # jax-ml/jax#21295: plugins not listed, 8 CUDA devices seen
        ("nvidia-smi", "jax.print_environment_info"),
        {
            "nvidia.driver_version": "550.127.05",
            "nvidia.cuda_driver_version": "12.4",
            "nvidia.gpus.1.memory_total_bytes": 23028 << 20,
            "packages.frameworks.jax.build.plugins": None,
            "system.os.kernel": "6.8.0-1017-aws",
        },
        None,
    ),
    (
        "jax_env_colab_cpu_only.txt",  # jax-ml/jax#12213, Colab GPU runtime
        ("nvidia-smi", "jax.print_environment_info"),
        {"nvidia.gpus.0.name": "Tesla T4", "python.version": "3.7.13"},
        None,
    ),
    (
        "traceback_libcudnn_missing.txt",
        ("log lines",),
        {"packages.distributions": None, "nvidia.driver_version": None},
        "DD604",
    ),
    (
        "pip_list_cpu_torch_with_gpu.txt",  # in <details>, fenced, after a "$ pip list" prompt
        ("nvidia-smi", "pip list"),
        {
            "packages.frameworks.torch.build.cuda": False,
            "nvidia.gpus.0.name": "NVIDIA GeForce RTX 4090",
            "packages.nvidia_wheels": [],  # a whole listing: no NVIDIA wheel is a fact
        },
        "DD201",
    ),
    (
        "conda_list_cuda118_driver470.txt",  # quoted ("> "), conda's build string says cuda11.8
        ("nvidia-smi", "conda list"),
        {
            "packages.frameworks.torch.build.cuda": "11.8",
            "nvidia.driver_version": "470.182.03",
            "python.prefix": "/home/someone/miniconda3/envs/dl",
        },
        "DD501",
    ),
    (
        "nvidia_smi_q_and_csv_h100.txt",
        ("nvidia-smi -q", "nvidia-smi --query-gpu", "pip freeze"),
        {
            "nvidia.gpu_count": 2,
            "nvidia.gpus.1.compute_capability": "9.0",
            "nvidia.gpus.0.memory_total_bytes": 81559 << 20,
            "nvidia.gpus.0.uuid": "GPU-4b1f7a1c-2c7e-3d5f-8a9b-0c1d2e3f4a5b",
            "packages.frameworks.torch.build.cuda": "11.8",
        },
        None,
    ),
    (
        "paddle_show_and_check.txt",
        ("paddle",),
        {
            "packages.frameworks.paddle.build.cuda_version": "11.7",
            "packages.frameworks.paddle.build.cudnn_version": "8.4.1",
            "nvidia.gpus.0.compute_capability": "8.6",
            "nvidia.cuda_driver_version": "12.0",
        },
        None,
    ),
    (
        "tf_env_collect_2_1.txt",
        ("nvidia-smi", "tensorflow"),
        {
            "system.container.kind": "docker",
            "python.version": "3.6.9",
            "nvidia.driver_version": "418.87.01",
            "packages.frameworks.tensorflow.distributions.0.name": "tensorflow-gpu",
        },
        None,
    ),
    (
        "tf_build_info_windows_2_10.txt",
        ("tensorflow",),
        {
            "packages.frameworks.tensorflow.build.cuda_version": "11.2",
            "packages.frameworks.tensorflow.build.cudnn_version": "8",
            "packages.frameworks.tensorflow.build.is_cuda_build": True,
        },
        None,
    ),
    (
        # illinois-scicomp/machine-shop-maintenance#70: the loaded module's version from /proc
        "nvcc_and_proc_driver_mismatch.txt",
        ("nvidia-smi (failed)", "nvcc --version", "/proc/driver/nvidia/version"),
        {
            "nvidia.nvml.status": "lib_rm_version_mismatch",
            "nvidia.proc_driver.version": "520.56.06",
            "nvidia.kernel_module.loaded": True,
            "cuda.toolkits.0.version": "12.0.76",
            "cuda.toolkits.0.path": "/usr/local/cuda-12.0",
            "cuda.libraries": None,
        },
        "DD102",
    ),
    (
        "lspci_no_driver_loaded.txt",  # what triage asks for when nvidia-smi fails
        ("nvidia-smi (failed)", "lspci"),
        {
            "nvidia.nvml.status": "driver_not_loaded",
            "accelerators.pci.nvidia.0.address": "0000:01:00.0",
            "accelerators.pci.nvidia.0.driver": "nouveau",
            "accelerators.pci.nvidia.0.class": "0x030000",
            "accelerators.pci.nvidia.1": None,  # the audio function is no GPU
        },
        "DD104",
    ),
    (
        "pip_resolver_conflict.txt",  # pip's resolver and pip check, the same conflict twice
        ("pip check",),
        {
            "packages.unsatisfied.0.requirement": "torch==2.1.0",
            "packages.unsatisfied.0.installed": "2.0.1",
            "packages.unsatisfied.2.problem": "missing",
            "packages.unsatisfied.3": None,
            "packages.frameworks.torch.build.cuda": None,
        },
        "DD303",
    ),
    (
        "conda_env_export_cuda121.txt",
        ("conda env export",),
        {
            "python.version": "3.10.13",
            "python.prefix": "/home/someone/miniconda3/envs/dl",
            "packages.frameworks.torch.build.cuda": "12.1",
            "packages.distributions.0.conda.build": "py3.10_cuda12.1_cudnn8.9.2_0",
            "packages.nvidia_wheels": [],
        },
        None,
    ),
    (
        "hf_env_transformers_and_hub.txt",  # huggingface/diffusers#7403, both CLIs, in <details>
        ("transformers-cli env + huggingface-cli env",),
        {
            "packages.frameworks.torch.build.cuda": "12.1",
            "runtime.frameworks.torch.info.cuda_available": True,
            "packages.frameworks.jax.build.plugins": None,  # a selection, not a listing
            "python.version": "3.10.12",
            "system.os.kernel": "6.5.0-26-generic",
        },
        None,
    ),
    (
        "ds_report_torch_cu121.txt",  # deepspeedai/DeepSpeed#6762
        ("ds_report",),
        {
            "packages.frameworks.torch.build.cuda": "12.1",
            "packages.frameworks.torch.build.hip": False,
            "system.shm.total_bytes": int(125.77 * (1 << 30)),
            "packages.distributions.1.name": "deepspeed",
        },
        None,
    ),
    (
        # huggingface/transformers#13270: TensorFlow's dso_loader warnings on a machine whose GPU
        # the paste does not show; TensorFlow imported (it printed its version): no claim.
        "tf_log_lines_no_libcudart.txt",
        ("transformers-cli env", "log lines"),
        {
            "runtime.frameworks.tensorflow.import.ok": True,
            "runtime.frameworks.torch.info.cuda_available": False,
            "packages.frameworks.torch.build.cuda": "10.2",
        },
        None,
    ),
]


@pytest.mark.parametrize(("name", "formats", "shown", "primary"), CASES, ids=[c[0] for c in CASES])
def test_a_paste_gives_the_facts_it_shows_and_its_top_finding(name, formats, shown, primary):
    pasted, report = triaged(name)
    assert pasted.formats == formats
    for path, expected in shown.items():
        assert known(pasted.facts, path) == expected, path
    assert top(report) == primary
    assert not report.crashed


def test_facts_a_paste_does_not_show_leave_their_checks_not_judged():
    _, report = triaged("collect_env_1_7_colab_t4.txt")
    status = {o.code: o for o in report.outcomes}
    # No nvidia-smi in the paste: NVML's status is unknown, so no claim about it either way.
    assert status["DD102"].status is Status.NOT_JUDGED
    assert status["DD401"].status is Status.NOT_JUDGED  # the environment was not pasted
    assert status["DD303"].status is Status.NOT_JUDGED  # requirements are never pasted


def test_the_same_facts_with_the_listing_complete_are_judged():
    # The jax paste lists no plugin and is not a whole listing: DD201 is not judged. With a pip
    # freeze of the same environment that has no plugin, it is: jaxlib alone is CPU-only.
    text = (PASTES / "jax_env_a10g_x8.txt").read_text(encoding="utf-8")
    partial = read(text, MATRIX)
    outcomes = {o.code: o for o in run_checks(partial.facts, MATRIX)}
    assert outcomes["DD201"].status is Status.NOT_JUDGED
    whole = read(text + "\n\njax==0.4.33\njaxlib==0.4.33\nnumpy==1.26.4\n", MATRIX)
    outcomes = {o.code: o for o in run_checks(whole.facts, MATRIX)}
    assert [f.code for f in outcomes["DD201"].findings] == ["DD201"]


def test_lscpu_alone_settles_the_instruction_set_check():
    flags = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat sse sse2"
    pasted = read(
        f"$ lscpu\nArchitecture: x86_64\nModel name: Intel(R) Xeon(R) CPU E5-2670 0\nFlags: {flags}\n",
        MATRIX,
    )
    assert known(pasted.facts, "system.cpu.flags") == flags.split()
    outcomes = {o.code: o for o in run_checks(pasted.facts, MATRIX)}
    assert "system.cpu.flags" not in outcomes["DD202"].reason


def test_pip_check_with_nothing_broken_is_a_judged_all_clear():
    pasted = read("$ pip check\nNo broken requirements found.\n", MATRIX)
    outcomes = {o.code: o for o in run_checks(pasted.facts, MATRIX)}
    assert known(pasted.facts, "packages.unsatisfied") == []
    assert outcomes["DD303"].status is Status.PASSED


def test_tensorflow_build_info_as_json_reads_like_the_python_dict():
    shown = '{"cuda_version": "12.3", "cudnn_version": "8", "is_cuda_build": true, "is_rocm_build": false}'
    pasted = read(f"tensorflow 2.16.1\n{shown}\n", MATRIX)
    build = known(pasted.facts, "packages.frameworks.tensorflow.build")
    assert build is None  # a build without its distribution judges nothing: not kept
    pasted = read(f">>> tf.__version__\n'2.16.1'\n{shown}\n", MATRIX)
    build = known(pasted.facts, "packages.frameworks.tensorflow.build")
    assert build["cuda_version"] == "12.3" and build["is_cuda_build"] is True


def test_a_traceback_through_the_framework_init_is_a_failed_import():
    pasted, report = triaged("traceback_libcudnn_missing.txt")
    imported = known(pasted.facts, "runtime.frameworks.torch.import")
    assert imported["ok"] is False and imported["error"]["type"] == "ImportError"
    assert "cannot be imported" in report.diagnosis.primary.title
    # The same words without the traceback: whether torch imported is unknown, and without a
    # GPU in the paste the missing library may be harmless: not judged, not claimed.
    line = "Could not load dynamic library 'libcudnn.so.8'; dlerror: libcudnn.so.8: cannot open"
    words = read(f"torch says:\n{line}\n", MATRIX)
    outcomes = {o.code: o for o in run_checks(words.facts, MATRIX)}
    assert not outcomes["DD604"].findings
    assert "not judged" in outcomes["DD604"].reason


def test_pasting_what_triage_asks_for_settles_the_check():
    from dldoctor.triage.advice import next_pastes

    first = (PASTES / "collect_env_1_7_colab_t4.txt").read_text(encoding="utf-8")
    _, report = triaged("collect_env_1_7_colab_t4.txt")
    asks = dict(next_pastes(list(report.outcomes)))
    assert "DD102" in asks["run `nvidia-smi` and paste it"]
    smi = (
        (PASTES / "jax_env_colab_cpu_only.txt").read_text(encoding="utf-8").split("$ nvidia-smi")[1]
    )
    both = read(
        f"<details>\n\n```\n{first}\n```\n</details>\n\n```\n$ nvidia-smi{smi}```\n", MATRIX
    )
    outcomes = {o.code: o for o in run_checks(both.facts, MATRIX)}
    assert both.formats == ("nvidia-smi", "collect_env")
    assert outcomes["DD102"].status is Status.SKIPPED or outcomes["DD102"].status is Status.PASSED


def test_a_pasted_dldoctor_report_gives_back_its_facts():
    import json

    from tests.report.golden import report_for

    report = report_for("driver470_cpu_stack", MATRIX)
    text = "Here is my report:\n\n```json\n" + json.dumps(report.to_dict(), indent=2) + "\n```\n"
    pasted = read(text, MATRIX)
    assert pasted.formats[0] == "dldoctor report"
    assert pasted.complete_listing
    assert pasted.facts.nvidia["driver_version"] == report.facts.nvidia["driver_version"]
    assert pasted.facts.packages["distributions"] == report.facts.packages["distributions"]


def test_a_pasted_markdown_report_is_read_once_and_its_words_are_not_a_new_paste():
    from dldoctor.report import markdown
    from tests.report.golden import report_for

    report = report_for("driver470_cpu_stack", MATRIX)
    text = "As asked:\n\n" + markdown.render(report) + "\n\nThanks!\n"
    pasted = read(text, MATRIX)
    assert pasted.formats == ("dldoctor report",)  # not "log lines" from its own titles
    assert pasted.facts.nvidia["driver_version"] == "470.82.01"
    quoted = read("\n".join("> " + line for line in text.splitlines()), MATRIX)
    assert quoted.formats == ("dldoctor report",)
