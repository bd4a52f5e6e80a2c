"""The deployment chains, for real: torch's ONNX export run by ONNX Runtime, TensorFlow's TFLite.

The chains run in the real probe child (harness, runner, record collection) with the real
torch, onnx, onnxscript, onnxruntime and TensorFlow CPU builds. What this machine cannot have is
faked at the boundary only: an onnxruntime whose CUDA provider is listed but fails to load
(printing the words ONNX Runtime printed in a public report), an absent onnxscript, a TensorRT
whose parser refuses the model. The records are then judged with recorded facts (NVML's GPU).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from dldoctor.checks.deploy import deployment_path_fails
from dldoctor.checks.registry import Unjudged
from dldoctor.probes import plan as planning
from dldoctor.probes.collect import ChildRecords
from dldoctor.probes.runner import run_child
from tests.checks.scenarios import gpu_machine, make_facts, shown_all
from tests.probes.fakes import package

# A probe that runs only torch's chains (the device list given: what torch would have listed).
TORCH_CHAINS = """
def probe(ctx):
    torch = ctx.import_module("torch")
    ctx.device(id="cpu", kind="cpu")
    ctx.helper("deploy").torch_chains(ctx, torch, ctx.options.get("gpus") or [])
"""
# An exporter that stamps its models with an IR version no onnxruntime reads yet (as a newer onnx
# package does): the real onnxruntime refuses them in its own words.
TORCH_CHAINS_IR_99 = """
def probe(ctx):
    torch = ctx.import_module("torch")
    import onnx
    real = torch.onnx.export

    def export(model, args, f, **kw):
        real(model, args, f, **kw)
        proto = onnx.load_from_string(f.getvalue())
        proto.ir_version = 99
        f.seek(0)
        f.truncate()
        f.write(proto.SerializeToString())

    torch.onnx.export = export
    ctx.device(id="cpu", kind="cpu")
    ctx.helper("deploy").torch_chains(ctx, torch, [])
"""
TF_CHAIN = """
def probe(ctx):
    tf = ctx.import_module("tensorflow")
    ctx.device(id="cpu", kind="cpu")
    ctx.helper("deploy").tflite_chain(ctx, tf)
"""
# ONNX Runtime as it behaves with onnxruntime-gpu and a missing CUDA library: the provider is
# listed, the session asked for it logs why it failed and runs on the CPU. The two lines are
# ONNX Runtime's own, from https://github.com/stepfun-ai/Step-Audio/issues/127. OFFSET makes the
# runtime compute wrong numbers (a runtime that disagrees with the framework).
FAKE_ORT = """\
import importlib.machinery, importlib.util, os, sys
here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.machinery.PathFinder.find_spec(
    "onnxruntime", [p for p in sys.path if p and os.path.abspath(p) != here]
)
real = importlib.util.module_from_spec(spec)
sys.modules["onnxruntime"] = real
spec.loader.exec_module(real)
SAID = (
    "2025-03-03 08:53:07.873188828 [E:onnxruntime:Default, provider_bridge_ort.cc:1546 "
    "TryGetProviderInfo_CUDA] /onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1209 "
    "onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : "
    "Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.11: "
    "cannot open shared object file: No such file or directory\\n\\n"
    "2025-03-03 08:53:07.873206078 [W:onnxruntime:Default, onnxruntime_pybind_state.cc:861 "
    "CreateExecutionProviderInstance] Failed to create CUDAExecutionProvider. Please reference "
    "https://onnxruntime.ai/docs/execution-providers/CUDA-ExecutionProvider.html#requirements"
    "to ensure all dependencies are met.\\n"
)
OFFSET = float(os.environ.get("FAKE_ORT_OFFSET", "0"))
listed = real.get_available_providers
Real = real.InferenceSession

def get_available_providers():
    return ["CUDAExecutionProvider", *listed()]

class InferenceSession(Real):
    def __init__(self, model, sess_options=None, providers=None, **kw):
        providers = list(providers or [])
        if "CUDAExecutionProvider" in providers:
            os.write(2, SAID.encode())
            providers = [p for p in providers if p != "CUDAExecutionProvider"]
        Real.__init__(self, model, sess_options, providers or None, **kw)

    def run(self, *args, **kw):
        return [out + OFFSET for out in Real.run(self, *args, **kw)]

real.get_available_providers = get_available_providers
real.InferenceSession = InferenceSession
"""
# onnxruntime not installed at all: no finder knows it (what importlib sees without it).
HIDE_ORT = """\
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "onnxruntime":
            raise ModuleNotFoundError("No module named 'onnxruntime'", name=name)
sys.meta_path.insert(0, Hide())
"""
ABSENT = "raise ModuleNotFoundError(\"No module named '{0}'\", name='{0}')\n"
# TensorRT's parser refusing a model, in TensorRT's own words (from
# https://github.com/NVIDIA/TensorRT/issues/3728).
FAKE_TENSORRT = """\
__version__ = "10.7.0"
class ILogger:
    class Severity:
        ERROR, WARNING, INFO = 1, 2, 3
    def __init__(self):
        pass
class NetworkDefinitionCreationFlag:
    pass
class TensorIOMode:
    INPUT, OUTPUT = 1, 2
class Builder:
    def __init__(self, logger):
        self.logger = logger
    def create_network(self, flags):
        return object()
    def build_serialized_network(self, network, config):
        return None
class OnnxParser:
    num_errors = 1
    def __init__(self, network, logger):
        self.logger = logger
    def parse(self, model):
        self.logger.log(ILogger.Severity.ERROR, "ModelImporter.cpp:777: ERROR: ModelImporter.cpp:195 In function parseGraph:")
        return False
    def get_error(self, i):
        return "[6] Invalid Node - /Where"
"""


def _chains(
    tmp: Path,
    source: str,
    framework: str,
    site: Path | None = None,
    env: dict[str, str] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The record of one child running ``source`` with the deploy helper, as probes make it."""
    job = planning.job(framework, [], None)
    job.update(source=source, options={**job["options"], "full": True, **options})
    work = tmp / "work"
    work.mkdir(exist_ok=True)
    records = ChildRecords([framework], str(work))
    env = planning.child_env({"PATH": "/usr/bin:/bin", **(env or {})})
    if site is not None:
        env["PYTHONPATH"] = str(site)
    outcome = run_child(
        [sys.executable, "-c", planning.harness_source()],
        {"workdir": str(work), "jobs": [job], "options": {}},
        300,
        env=env,
        cwd=str(work),
        on_message=records.feed,
    )
    records.finish(outcome, None)
    return records.records[framework]


def _by_device(record: dict[str, Any], test: str) -> dict[str, dict[str, Any]]:
    return {s["device"]: s for s in record["smoke"] if s["test"] == test}


def _facts(records: dict[str, dict[str, Any]], gpus: int = 0) -> Any:
    machine = gpu_machine(gpus) if gpus else {}
    return make_facts(machine, {"runtime": {"ran": True, "frameworks": records}})


def _ort_record(loaded: bool = True) -> dict[str, Any]:
    """ONNX Runtime's own probe: imports, its tests pass, CUDA loaded or not."""
    return {
        "status": "pass",
        "import": {"module": "onnxruntime", "ok": True, "version": "1.32.0"},
        "info": {"providers_loaded": {"CUDAExecutionProvider": {"loaded": loaded, "log": []}}},
        "smoke": [{"test": "graph", "device": "cpu", "status": "pass"}],
    }


@pytest.fixture(scope="module")
def torch_record(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _chains(tmp_path_factory.mktemp("torch"), TORCH_CHAINS, "torch")


def test_torchs_export_runs_in_onnxruntime_on_the_cpu_with_the_same_numbers(torch_record):
    cpu = _by_device(torch_record, "onnx-export")["cpu"]
    assert cpu["status"] == "pass", cpu
    assert cpu["chain"] == "torch → torch.onnx.export → ONNX Runtime"
    assert set(cpu["got"]) == {"linear-relu", "conv"}
    assert all(0 <= e <= cpu["tolerance"] for e in cpu["got"].values())
    assert cpu["detail"].startswith("dynamo exporter (torch 2.13.0")  # torch 2.9+'s default
    assert torch_record["status"] == "pass"


def test_without_a_gpu_the_gpu_paths_say_not_run_and_judge_nothing(torch_record):
    onnx = _by_device(torch_record, "onnx-export")
    for provider in ("CUDAExecutionProvider", "TensorrtExecutionProvider"):
        assert onnx[provider]["status"] == "skip"
        assert onnx[provider]["detail"] == "not run: no GPU"
    engine = _by_device(torch_record, "tensorrt-engine")["cuda"]
    assert engine["status"] == "skip" and engine["detail"] == "not run: no GPU"
    records = {"torch": torch_record, "onnxruntime": _ort_record()}
    assert deployment_path_fails(_facts(records, gpus=1), None) == []  # type: ignore[arg-type]


def test_a_missing_onnxscript_is_a_finding_that_installs_the_exporters_packages(tmp_path, matrix):
    site = tmp_path / "site"
    package(site, "onnxscript", ABSENT.format("onnxscript"))  # as if it were not installed
    record = _chains(tmp_path, TORCH_CHAINS, "torch", site)
    cpu = _by_device(record, "onnx-export")["cpu"]
    assert cpu["status"] == "fail" and cpu["stage"] == "export"
    assert "No module named 'onnxscript'" in cpu["error"]["message"]
    assert record["status"] == "pass"  # torch itself works: the chain's finding says why
    # The GPU paths after a failed export are not run, on any machine.
    assert _by_device(record, "onnx-export")["CUDAExecutionProvider"]["status"] == "skip"
    (verdict,) = deployment_path_fails(_facts({"torch": record}), matrix)
    assert verdict.evidence["cause"] == "onnx-exporter-packages"
    assert "fails at export: torch.onnx.export needs the onnxscript package" in verdict.title
    (fix,) = verdict.fixes
    assert fix.intents[0].requirements == ("onnx", "onnxscript")
    assert any("pip" in line and "onnxscript" in line for line in shown_all(fix))


def test_without_onnxruntime_there_is_no_path_to_judge_even_if_the_export_would_fail(
    tmp_path, matrix
):
    site = tmp_path / "site"
    package(site, "onnxscript", ABSENT.format("onnxscript"))
    (site / "sitecustomize.py").write_text(HIDE_ORT, encoding="utf-8")
    record = _chains(tmp_path, TORCH_CHAINS, "torch", site)
    cpu = _by_device(record, "onnx-export")["cpu"]
    assert cpu["status"] == "skip" and cpu["detail"] == "not run: onnxruntime is not installed"
    assert deployment_path_fails(_facts({"torch": record}), matrix) == []


def test_a_cuda_provider_listed_but_not_created_is_caught_by_what_the_session_really_uses(
    tmp_path, matrix
):
    site = tmp_path / "site"
    package(site, "onnxruntime", FAKE_ORT)
    # torch lists a GPU (the device list is the boundary: this machine has none).
    record = _chains(tmp_path, TORCH_CHAINS, "torch", site, gpus=["cuda:0"])
    onnx = _by_device(record, "onnx-export")
    assert onnx["cpu"]["status"] == "pass"
    cuda = onnx["CUDAExecutionProvider"]
    assert cuda["status"] == "fail" and cuda["stage"] == "provider", cuda
    assert "runs on CPUExecutionProvider" in cuda["error"]["message"]
    assert any("Failed to create CUDAExecutionProvider" in line for line in cuda["output"])
    # A provider this onnxruntime does not list is named, not tried.
    trt = onnx["TensorrtExecutionProvider"]
    assert trt["status"] == "skip" and "has no TensorrtExecutionProvider" in trt["detail"]

    records = {"torch": record, "onnxruntime": _ort_record(loaded=True)}
    (verdict,) = deployment_path_fails(_facts(records, gpus=1), matrix)
    assert verdict.title.endswith(
        "on CUDAExecutionProvider fails at provider: ONNX Runtime could not load libcublasLt.so.11"
    )
    assert verdict.evidence["cause"] == "missing-library"
    # ONNX Runtime's words, about it: nothing of torch's own GPU follows from them.
    assert (verdict.evidence["framework"], verdict.evidence["exported_by"]) == (
        "onnxruntime",
        "torch",
    )
    assert "onnxruntime-gpu" in verdict.fixes[0].summary
    # NVML lists no GPU (a report from elsewhere): a GPU provider that fails judges nothing.
    assert deployment_path_fails(_facts(records), matrix) == []
    # ONNX Runtime's own probe already failed to load the provider: its own finding explains it.
    records["onnxruntime"] = _ort_record(loaded=False)
    assert deployment_path_fails(_facts(records, gpus=1), matrix) == []
    # ONNX Runtime not probed: whether it works alone is unknown.
    (unjudged,) = deployment_path_fails(_facts({"torch": record}, gpus=1), matrix)
    assert isinstance(unjudged, Unjudged)


def test_a_model_newer_than_onnxruntime_reads_fails_at_load_in_onnxruntimes_words(tmp_path, matrix):
    record = _chains(tmp_path, TORCH_CHAINS_IR_99, "torch")
    cpu = _by_device(record, "onnx-export")["cpu"]
    assert cpu["status"] == "fail" and cpu["stage"] == "load", cpu
    assert "Unsupported model IR version: 99" in cpu["error"]["message"]
    records = {"torch": record, "onnxruntime": _ort_record()}
    (verdict,) = deployment_path_fails(_facts(records), matrix)
    assert verdict.evidence["cause"] == "onnx-ir-too-new"
    assert verdict.severity.value == "error"
    assert "fails at load: the exported model has ONNX IR version 99" in verdict.title
    assert "upgrade onnxruntime" in verdict.fixes[0].summary


@pytest.mark.parametrize(("offset", "status"), [(5e-5, "pass"), (2e-4, "fail")])
def test_a_runtime_that_disagrees_with_torch_beyond_the_tolerance_is_an_error(
    tmp_path, matrix, offset, status
):
    site = tmp_path / "site"
    package(site, "onnxruntime", FAKE_ORT)
    offset_env = {"FAKE_ORT_OFFSET": repr(offset)}
    record = _chains(tmp_path, TORCH_CHAINS, "torch", site, offset_env)
    cpu = _by_device(record, "onnx-export")["cpu"]
    assert cpu["status"] == status, cpu
    # This onnxruntime lists CUDAExecutionProvider, but torch lists no GPU: not run, said so.
    cuda = _by_device(record, "onnx-export")["CUDAExecutionProvider"]
    assert cuda["status"] == "skip" and cuda["detail"] == "not run: no GPU"
    verdicts = deployment_path_fails(
        _facts({"torch": record, "onnxruntime": _ort_record()}), matrix
    )
    if status == "pass":
        assert verdicts == []
        return
    (verdict,) = verdicts
    assert cpu["stage"] == "compare" and verdict.evidence["cause"] == "deploy-numerics"
    assert verdict.severity.value == "error" and "disagree" in verdict.title


def test_tensorrts_parser_refusing_the_export_fails_at_parse_with_its_words(tmp_path, matrix):
    site = tmp_path / "site"
    package(site, "tensorrt", FAKE_TENSORRT)
    record = _chains(tmp_path, TORCH_CHAINS, "torch", site, gpus=["cuda:0"])
    engine = _by_device(record, "tensorrt-engine")["cuda:0"]
    assert engine["status"] == "fail" and engine["stage"] == "parse", engine
    assert "[6] Invalid Node - /Where" in engine["error"]["message"]
    assert any("[TRT] ModelImporter.cpp:777" in line for line in engine["output"])
    # With a GPU listed, a provider onnxruntime lacks is named, not "no GPU".
    detail = _by_device(record, "onnx-export")["CUDAExecutionProvider"]["detail"]
    assert detail.startswith("not run: onnxruntime 1.32.0 has no CUDAExecutionProvider")
    (verdict,) = deployment_path_fails(_facts({"torch": record}, gpus=1), matrix)
    assert (
        "TensorRT engine on cuda:0 fails at parse: RuntimeError: [6] Invalid Node" in verdict.title
    )


def test_tensorflows_model_converts_to_tflite_and_the_interpreter_agrees(tmp_path):
    record = _chains(tmp_path, TF_CHAIN, "tensorflow")
    (smoke,) = [s for s in record["smoke"] if s["test"] == "tflite-convert"]
    assert smoke["status"] == "pass", smoke
    assert smoke["chain"] == "TensorFlow → TFLiteConverter → TFLite interpreter"
    assert 0 <= smoke["got"]["dense-relu"] <= smoke["tolerance"]
    assert smoke["detail"].startswith("TensorFlow 2.21.0 TFLiteConverter, ")


def test_litert_s_interpreter_runs_the_converted_model_when_it_is_installed(monkeypatch):
    # The helper alone (standard library at import): which interpreter it hands the flatbuffer.
    from types import ModuleType, SimpleNamespace

    from dldoctor.probes.child import harness

    path = planning.CHILD / "deploy.py"
    helper = harness.load_probe(
        {"framework": "deploy", "source": path.read_text(), "filename": str(path)}
    )
    given: list[tuple[str, bytes]] = []

    def interpreter(kind: str) -> Any:
        return lambda model_content: given.append((kind, model_content)) or kind

    tf = SimpleNamespace(lite=SimpleNamespace(Interpreter=interpreter("tf.lite")))
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # not installed
    assert helper._interpreter(tf, b"model") == ("tf.lite", "tf.lite.Interpreter")
    litert = ModuleType("ai_edge_litert.interpreter")
    litert.Interpreter = interpreter("litert")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ai_edge_litert", ModuleType("ai_edge_litert"))
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", litert)
    assert helper._interpreter(tf, b"model") == ("litert", "ai_edge_litert Interpreter")
    assert given == [("tf.lite", b"model"), ("litert", b"model")]
