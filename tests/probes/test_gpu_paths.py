"""The accelerator smoke paths, run for real up to the boundary this machine has: the real CPU
builds of torch and JAX in a real probe child, asked for a CUDA device they do not have.

No GPU here: a CUDA test must then fail with the framework's own words (recorded, read by the
signatures like every other line), never be skipped or pass by accident.
"""

from __future__ import annotations

import sys

from dldoctor.checks.runtime_common import texts
from dldoctor.probes import plan
from dldoctor.probes.collect import ChildRecords
from dldoctor.probes.runner import run_child

TORCH_AT_THE_BOUNDARY = f"""
def probe(ctx):
    torch = ctx.import_module("torch")
    path = {str(plan.CHILD / "torch_probe.py")!r}
    ns = {{"__name__": "torch_probe"}}
    exec(compile(open(path).read(), path, "exec"), ns)
    ctx.device(id="cuda:0", kind="cuda")
    for name in ("conv", "matmul-bias", "jit-kernel"):
        test = ns["_" + name.replace("-", "_")]
        ctx.smoke(name, "cuda:0", lambda t=test: t(ctx, torch, "cuda:0"))
    ctx.unavailable("cuda", lambda: torch.zeros(1, device="cuda"))
    ns["_versions"](ctx, torch, False)
"""

JAX_CONV_ON_THE_CPU = f"""
def probe(ctx):
    jax = ctx.import_module("jax")
    path = {str(plan.CHILD / "jax_probe.py")!r}
    ns = {{"__name__": "jax_probe"}}
    exec(compile(open(path).read(), path, "exec"), ns)
    cpu = jax.devices("cpu")[0]
    ctx.smoke("conv", "cpu", lambda: ns["_conv"](ctx, jax, cpu))
    ctx.smoke("matmul-bias", "cpu", lambda: ns["_matmul_bias"](ctx, jax, cpu))
"""


def _probe(source: str, framework: str, tmp_path) -> dict:
    job = {"framework": framework, "source": source, "filename": f"/nowhere/{framework}.py"}
    args = {"workdir": str(tmp_path), "jobs": [job], "options": {}}
    outcome = run_child([sys.executable, "-c", plan.harness_source()], args, 180, cwd=str(tmp_path))
    records = ChildRecords([framework], str(tmp_path))
    for message in outcome.messages:
        records.feed(message)
    records.finish(outcome, None)
    return records.records[framework]


def test_torchs_cuda_paths_fail_with_torchs_own_words_on_a_cpu_build(tmp_path, matrix):
    record = _probe(TORCH_AT_THE_BOUNDARY, "torch", tmp_path)
    smoke = {s["test"]: s for s in record["smoke"]}
    assert list(smoke) == ["conv", "matmul-bias", "jit-kernel"]
    for test in smoke.values():
        assert test["status"] == "fail" and test["device"] == "cuda:0"
        assert "Torch not compiled with CUDA enabled" in test["error"]["message"], test
    said = record["device_errors"]["cuda"]["error"]
    assert said == "AssertionError: Torch not compiled with CUDA enabled"
    assert ("cuda device", said) in list(texts(record))  # read by the signatures like the rest
    assert record["versions"]["cudart"]["built"] is None  # torch.version.cuda of a CPU build
    assert "cudnn" not in record["versions"]  # no torch._C._cudnn in a CPU build: not asked


def test_jaxs_convolution_both_ways_and_matmul_with_bias_run_for_real_on_the_cpu(tmp_path):
    record = _probe(JAX_CONV_ON_THE_CPU, "jax", tmp_path)
    conv, gemm = record["smoke"]
    assert conv["status"] == "pass" and gemm["status"] == "pass", record["smoke"]
    assert gemm["got"]["float16"] <= 1e-2  # float16's bound
    assert set(conv["got"]) == {"output", "grad_input", "grad_weight"}
    assert conv["detail"] == "lax.conv_general_dilated forward + backward"


TF_ASKED_FOR_ITS_GPU = f"""
def probe(ctx):
    tf = ctx.import_module("tensorflow")
    path = {str(plan.CHILD / "tensorflow_probe.py")!r}
    ns = {{"__name__": "tensorflow_probe"}}
    exec(compile(open(path).read(), path, "exec"), ns)
    ctx.unavailable("gpu", lambda: ns["_on_gpu"](tf))
    ctx.fact("soft_placement_after", tf.config.get_soft_device_placement)
"""


def test_tensorflow_asked_for_a_gpu_it_lacks_refuses_instead_of_using_the_cpu(tmp_path):
    record = _probe(TF_ASKED_FOR_ITS_GPU, "tensorflow", tmp_path)
    said = record["device_errors"]["gpu"]["error"]
    assert said.startswith("InvalidArgumentError: Could not satisfy device specification")
    assert record["info"]["soft_placement_after"] is True  # the setting is put back
