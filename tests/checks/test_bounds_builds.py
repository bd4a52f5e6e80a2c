"""Build variants (DD201): CPU, CUDA, ROCm and unknown builds of each framework on a GPU
machine; and CUDA_VISIBLE_DEVICES at the edge of the GPU count (DD401, DD402)."""

from __future__ import annotations

import pytest
from packaging.version import Version

from dldoctor.checks import builds, env
from dldoctor.checks.registry import NotApplicable, Unjudged, Verdict
from dldoctor.facts.known import Unknown
from dldoctor.matrix import load
from dldoctor.model import Severity
from tests.checks.bounds import above, around, below, machine
from tests.checks.scenarios import dist, make_facts, with_packages

MATRIX = load()


def judged(results: list) -> list[Verdict]:
    """The verdicts, without the items a check could not judge (unknown facts)."""
    return [r for r in results if isinstance(r, Verdict)]


def framework(key: str, names: list[str], build: dict | None) -> dict:
    frame: dict = {"distributions": [{"name": n, "version": "1.0"} for n in names]}
    if build is not None:
        frame["build"] = build
    return with_packages(*(dist(n, "1.0") for n in names), frameworks={key: frame})


# (framework, distributions, build facts, CPU-only?)
VARIANTS = [
    ("torch", ["torch"], {"cuda": "12.8", "hip": None}, False),
    ("torch", ["torch"], {"cuda": False, "hip": "6.4.43482"}, False),  # ROCm
    ("torch", ["torch"], {"cuda": False, "hip": False}, True),  # version.py's None, read as False
    ("torch", ["torch"], {"cuda": None, "hip": None}, False),  # unknown
    ("torch", ["torch"], {"cuda": False}, True),  # before 1.8 version.py had no hip: CPU-only
    ("torch", ["torch"], {"error": "could not read torch/version.py"}, False),  # unknown
    ("tensorflow", ["tensorflow"], {"is_cuda_build": True}, False),
    ("tensorflow", ["tensorflow"], {"is_cuda_build": False}, True),
    ("tensorflow", ["tensorflow"], {"is_cuda_build": None}, False),  # unknown
    ("tensorflow", ["tensorflow-intel"], {"is_cuda_build": False}, True),
    ("tensorflow", ["tensorflow-cpu"], {}, True),
    ("tensorflow", ["tensorflow_cpu"], {}, True),  # METADATA spelling
    ("jax", ["jax", "jaxlib"], {}, True),
    ("jax", ["jax", "jaxlib", "jax-cuda12-plugin"], {}, False),
    ("jax", ["jax", "jaxlib", "jax-cuda13-plugin", "jax-cuda13-pjrt"], {}, False),
    ("jax", ["jax", "jaxlib", "jax-rocm60-plugin"], {}, False),  # ROCm
    ("jax", ["jax"], {}, False),  # no jaxlib: nothing to judge
    ("jax", ["jax", "jaxlib"], {"plugins": []}, True),
    ("jax", ["jax", "jaxlib"], {"plugins": None}, False),  # a partial listing: unknown
    ("tensorflow", ["tensorflow-macos"], {"is_cuda_build": False}, False),  # not this rule's
    ("paddle", ["paddlepaddle"], {}, True),
    ("paddle", ["paddlepaddle-gpu"], {}, False),
    ("paddle", ["paddlepaddle", "paddlepaddle-gpu"], {}, False),  # both: the conflict's to say
    ("onnxruntime", ["onnxruntime"], {}, True),
    ("onnxruntime", ["onnxruntime-gpu"], {}, False),
    ("onnxruntime", ["onnxruntime", "onnxruntime-gpu"], {}, False),
]


@pytest.mark.parametrize(
    ("key", "names", "build", "cpu_only"),
    VARIANTS,
    ids=[f"{k}-{'+'.join(n)}-{i}" for i, (k, n, _, _) in enumerate(VARIANTS)],
)
def test_each_build_variant_on_a_gpu_machine(key, names, build, cpu_only):
    facts = make_facts(framework(key, names, build), machine("580.65.06", "13.0"))
    verdicts = judged(builds.cpu_only_build_on_gpu(facts, MATRIX))
    assert [v.evidence["framework"] for v in verdicts] == ([key] if cpu_only else [])
    want = Severity.WARNING if key == "onnxruntime" else Severity.ERROR
    assert all(v.severity is want for v in verdicts)


def test_a_rocm_torch_is_never_called_cpu_only():
    facts = make_facts(
        framework("torch", ["torch"], {"cuda": False, "hip": "6.4.43482"}),
        machine("580.65.06", "13.0"),
    )
    assert judged(builds.cpu_only_build_on_gpu(facts, MATRIX)) == []


def test_every_gpu_is_named():
    facts = make_facts(
        framework("torch", ["torch"], {"cuda": False, "hip": False}),
        machine(
            "580.65.06",
            "13.0",
            ("NVIDIA H100 80GB HBM3", "9.0"),
            ("NVIDIA GeForce RTX 5090", "12.0"),
        ),
    )
    (verdict,) = judged(builds.cpu_only_build_on_gpu(facts, MATRIX))
    assert verdict.title.startswith(
        "PyTorch cannot use the NVIDIA GeForce RTX 5090, NVIDIA H100 80GB HBM3:"
    )


def test_a_gpu_seen_only_on_the_pci_bus_is_a_gpu():
    pci = {"accelerators": {"pci": {"nvidia": [{"slot": "0000:01:00.0", "driver": None}]}}}
    facts = make_facts(framework("torch", ["torch"], {"cuda": False, "hip": False}), pci)
    (verdict,) = judged(builds.cpu_only_build_on_gpu(facts, MATRIX))
    assert "this machine's NVIDIA GPU" in verdict.title


def test_no_gpu_is_not_judged():
    with pytest.raises(NotApplicable):
        builds.cpu_only_build_on_gpu(
            make_facts(framework("torch", ["torch"], {"cuda": None})), MATRIX
        )


# CUDA_VISIBLE_DEVICES against the GPU count


def visible(value: str, count: int):
    specs = [(f"GPU{i}", "9.0") for i in range(count)]
    return make_facts(
        machine("580.65.06", "13.0", *specs),
        {"env": {"variables": {"CUDA_VISIBLE_DEVICES": value}}},
    )


@pytest.mark.parametrize("count", [1, 2, 4])
def test_indices_up_to_the_last_gpu_are_valid_and_the_next_is_not(count):
    assert env.visible_devices_unknown(visible(str(count - 1), count), MATRIX) == []
    (verdict,) = env.visible_devices_unknown(visible(str(count), count), MATRIX)
    assert verdict.severity is Severity.ERROR and verdict.evidence["invalid"] == [str(count)]
    (verdict,) = env.visible_devices_unknown(visible(f"0,{count}", count), MATRIX)
    assert verdict.severity is Severity.WARNING and "CUDA sees only 0" in verdict.title


@pytest.mark.parametrize("value", ["", "-1", "none", "NoDevFiles", " void "])
def test_disabling_values_hide_every_gpu(value):
    (verdict,) = env.visible_devices_hide_all(visible(value, 2), MATRIX)
    assert "hides all 2 GPU(s)" in verdict.title
    assert env.visible_devices_unknown(visible(value, 2), MATRIX) == []


def test_uuid_prefixes_must_be_unique():
    facts = visible("GPU-0000000", 2)  # a prefix of both GPUs' UUIDs
    (verdict,) = env.visible_devices_unknown(facts, MATRIX)
    assert verdict.evidence["invalid"] == ["GPU-0000000"]
    assert env.visible_devices_unknown(visible("GPU-00000001", 2), MATRIX) == []


CPU_CASES = [
    (rule, name, arch)
    for rule in MATRIX.cpu_rules
    for name in rule.distributions
    for arch in (rule.architecture, "amd64" if rule.architecture == "x86_64" else rule.architecture)
]


@pytest.mark.parametrize(
    ("rule", "name", "arch"), CPU_CASES, ids=[f"{n}-{a}" for _, n, a in CPU_CASES]
)
def test_dd202_each_rule_at_below_and_above_its_first_release(rule, name, arch):
    """The rule: a release from ``since`` on needs every flag; before it, nothing; a CPU with
    the flags, or another architecture, is never judged by it."""
    since = str(rule.since)
    for version in around(since):
        for flags in ([], list(rule.flags), ["sse4_2"]):
            cpu = {"system": {"architecture": arch, "cpu": {"flags": flags, "model": "Old Xeon"}}}
            facts = make_facts(with_packages(dist(name, version)), cpu)
            verdicts = judged(builds.cpu_lacks_instructions(facts, MATRIX))
            missing = [f for f in rule.flags if f not in flags]
            fires = bool(missing) and Version(version) >= rule.since
            assert len(verdicts) == fires, (version, flags)
            for verdict in verdicts:
                assert verdict.severity is Severity.ERROR
                needs = ", ".join(m.upper() for m in missing)
                assert verdict.title == (
                    f"{name} {version} needs {needs}, which this CPU (Old Xeon) does not report"
                )
                assert verdict.evidence == {
                    "distribution": name,
                    "version": version,
                    "missing": missing,
                    "cpu_model": "Old Xeon",
                    "rule": rule.message,
                    "source": rule.source,
                }
                assert verdict.fixes[0].summary.startswith(f"Run {name} on a CPU with {needs} ")
    other = {"system": {"architecture": "aarch64", "cpu": {"flags": []}}}
    assert (
        builds.cpu_lacks_instructions(make_facts(with_packages(dist(name, since)), other), MATRIX)
        == []
    )


def test_dd202_an_unknown_cpu_model_and_an_unreadable_version():
    rule = MATRIX.cpu_rules[0]
    name = rule.distributions[0]
    cpu = {"system": {"cpu": {"flags": [], "model": None}}}
    (verdict,) = builds.cpu_lacks_instructions(
        make_facts(with_packages(dist(name, "99.0")), cpu), MATRIX
    )
    assert "(unknown model)" in verdict.title
    (unjudged,) = builds.cpu_lacks_instructions(
        make_facts(with_packages(dist(name, "junk")), cpu), MATRIX
    )
    assert unjudged == Unjudged(name, f"packages.distributions.{name}.version")


REASONS = {  # the CPU-only variants above, and what the verdict says makes them CPU-only
    ("torch", ("torch",)): "it is a CPU-only build (torch.version.cuda is None)",
    ("tensorflow", ("tensorflow",)): "it was built without CUDA (is_cuda_build is False)",
    ("tensorflow", ("tensorflow-intel",)): "it was built without CUDA (is_cuda_build is False)",
    ("tensorflow", ("tensorflow-cpu",)): "tensorflow-cpu is the CPU-only package",
    ("tensorflow", ("tensorflow_cpu",)): "tensorflow-cpu is the CPU-only package",
    ("jax", ("jax", "jaxlib")): "jaxlib has no CUDA plugin (jax-cuda12-plugin or jax-cuda13-plugin)",
    ("paddle", ("paddlepaddle",)): "paddlepaddle is the CPU package; the GPU one is paddlepaddle-gpu",
    ("onnxruntime", ("onnxruntime",)): "onnxruntime is the CPU package; the CUDA one is onnxruntime-gpu",
}  # fmt: skip
LABELS = {"torch": "PyTorch", "tensorflow": "TensorFlow", "jax": "JAX", "paddle": "PaddlePaddle"}


@pytest.mark.parametrize(("key", "names", "build", "cpu_only"), [v for v in VARIANTS if v[3]])
def test_dd201_says_what_makes_each_variant_cpu_only(key, names, build, cpu_only):
    facts = make_facts(framework(key, names, build), machine("580.65.06", "13.0"))
    (verdict,) = judged(builds.cpu_only_build_on_gpu(facts, MATRIX))
    label = LABELS.get(key, "ONNX Runtime")
    assert verdict.title == (
        f"{label} cannot use the NVIDIA H100 80GB HBM3: {REASONS[(key, tuple(names))]}"
    )
    frame = facts.packages["frameworks"][key]
    assert verdict.evidence == {
        "framework": key,
        "distributions": frame["distributions"],
        "build": frame.get("build"),
        "conda": [],
        "driver_cuda": "13.0",
    }


def test_dd201_an_unreadable_build_is_unjudged_per_framework():
    facts = make_facts(
        framework("torch", ["torch"], {"error": "unreadable"}), machine("580.65.06", "13.0")
    )
    (unjudged,) = builds.cpu_only_build_on_gpu(facts, MATRIX)
    assert unjudged == Unjudged("PyTorch", "packages.frameworks.torch.build")
    half = make_facts(
        framework("torch", ["torch"], {"cuda": False, "hip": None}), machine("580.65.06", "13.0")
    )
    assert builds.cpu_only_build_on_gpu(half, MATRIX) == [
        Unjudged("PyTorch", "packages.frameworks.torch.build.hip")
    ]


LAST = MATRIX.tables["tensorflow"]["windows_native_gpu_last"]


@pytest.mark.parametrize(
    ("version", "skipped"),
    [(f"{LAST}.1", False), (f"{LAST}.999", True), (above(LAST) + ".0", True)],
)
def test_dd201_leaves_tensorflow_after_the_last_native_windows_gpu_build_to_dd511(version, skipped):
    names = ["tensorflow"]
    tf = framework("tensorflow", names, {"is_cuda_build": False})
    tf["packages"]["distributions"] = [dist("tensorflow", version)]
    windows = {"system": {"os": {"name": "Windows"}}}
    facts = make_facts(tf, machine("580.65.06", "13.0"), windows)
    assert len(judged(builds.cpu_only_build_on_gpu(facts, MATRIX))) == (not skipped)
    linux = make_facts(tf, machine("580.65.06", "13.0"))
    assert len(judged(builds.cpu_only_build_on_gpu(linux, MATRIX))) == 1


def conda_env(*packages: dict) -> dict:
    return {"packages": {"conda": {"packages": list(packages)}}}


def conda(name: str, build: str = "cpu_py311", variant: str | None = "cpu", **extra) -> dict:
    cuda = {"variant": variant} if variant else {}
    return {
        "name": name,
        "version": "2.5.1",
        "build": build,
        "channel": "pytorch",
        "cuda": cuda,
        **extra,
    }


def test_dd201_conda_cpu_builds_and_the_pins_that_hold_them():
    torch_conda = next(
        r["conda"] for r in MATRIX.tables["conda"]["framework"] if r["framework"] == "torch"
    )
    unknown_build = framework("torch", ["torch"], None)
    pinned = conda_env(
        conda(torch_conda),
        conda("cpuonly", build="0", variant=None),
        conda("pytorch-mutex", build="cpu", variant=None),
    )
    facts = make_facts(unknown_build, machine("580.65.06", "13.0"), pinned)
    (verdict,) = judged(builds.cpu_only_build_on_gpu(facts, MATRIX))
    assert verdict.title == (
        f"PyTorch cannot use the NVIDIA H100 80GB HBM3: conda installed its CPU build "
        f"({torch_conda} 2.5.1 cpu_py311), and cpuonly and pytorch-mutex hold conda to CPU builds"
    )
    assert [c["name"] for c in verdict.evidence["conda"]] == [
        torch_conda,
        "cpuonly",
        "pytorch-mutex",
    ]
    assert set(verdict.evidence["conda"][0]) == {"name", "version", "build", "channel"}
    (fix,) = verdict.fixes
    assert fix.summary.startswith(
        "Remove cpuonly and pytorch-mutex, which hold conda to CPU builds; then: "
    )
    assert fix.intents[0].action == "remove" and fix.intents[0].remove_first == (
        "cpuonly",
        "pytorch-mutex",
    )
    assert fix.intents[0].manager == "conda" and not fix.automatic
    cuda_mutex = conda_env(conda(torch_conda), conda("pytorch-mutex", build="cuda", variant=None))
    (alone,) = judged(
        builds.cpu_only_build_on_gpu(
            make_facts(unknown_build, machine("580.65.06", "13.0"), cuda_mutex), MATRIX
        )
    )
    assert alone.title.endswith(f"({torch_conda} 2.5.1 cpu_py311)")  # a CUDA mutex pins nothing
    cuda_build = conda_env(conda(torch_conda, build="cuda126", variant="12.6"))
    assert (
        judged(
            builds.cpu_only_build_on_gpu(
                make_facts(unknown_build, machine("580.65.06", "13.0"), cuda_build), MATRIX
            )
        )
        == []
    )


def test_dd201_conda_is_not_asked_when_the_build_file_says_cuda():
    torch_conda = next(
        r["conda"] for r in MATRIX.tables["conda"]["framework"] if r["framework"] == "torch"
    )
    cuda_torch = framework("torch", ["torch"], {"cuda": "12.6", "hip": None})
    facts = make_facts(cuda_torch, machine("580.65.06", "13.0"), conda_env(conda(torch_conda)))
    assert judged(builds.cpu_only_build_on_gpu(facts, MATRIX)) == []
    both = make_facts(
        framework("torch", ["torch"], {"cuda": False, "hip": False}),
        machine("580.65.06", "13.0"),
        conda_env(conda(torch_conda)),
    )
    (verdict,) = judged(builds.cpu_only_build_on_gpu(both, MATRIX))
    assert verdict.title.endswith(
        f"it is a CPU-only build (torch.version.cuda is None); conda installed its CPU build "
        f"({torch_conda} 2.5.1 cpu_py311)"
    )


@pytest.mark.parametrize("torch_version", ["2.13.0+cpu", "0.1.0"])  # a build to install; advice
def test_dd201_the_pins_removal_comes_first_whether_the_gpu_build_is_a_command_or_advice(
    torch_version,
):
    torch_conda = next(
        r["conda"] for r in MATRIX.tables["conda"]["framework"] if r["framework"] == "torch"
    )
    pinned = conda_env(conda(torch_conda), conda("cpuonly", build="0", variant=None))
    torch = with_packages(
        dist("torch", torch_version),
        frameworks={"torch": {"distributions": [{"name": "torch", "version": torch_version}]}},
    )
    facts = make_facts(torch, machine("580.65.06", "13.0"), pinned)
    (verdict,) = judged(builds.cpu_only_build_on_gpu(facts, MATRIX))
    remedy = builds.gpu_builds.torch_gpu_build(facts, MATRIX)
    (fix,) = verdict.fixes
    assert fix.summary == (
        f"Remove cpuonly, which hold conda to CPU builds; then: {remedy.summary}"
    )
    assert fix.notes == remedy.notes and fix.automatic is False
    assert fix.intents[0].action == "remove" and fix.intents[0].manager == "conda"
    assert fix.intents[1:] == remedy.intents
    assert bool(remedy.intents) == (torch_version != "0.1.0")  # both branches are taken


def test_dd202_judges_every_installed_distribution_of_every_rule():
    """Not only the first: tensorflow-cpu (not a rule's first name), a jaxlib after it, and a
    paddlepaddle-gpu after a paddlepaddle still below the release that started needing AVX."""
    paddle = next(r for r in MATRIX.cpu_rules if "paddlepaddle-gpu" in r.distributions)
    old_paddle = below(str(paddle.since))
    installed = with_packages(
        dist("tensorflow-cpu", "2.20.0"),
        dist("jaxlib", "0.7.2"),
        dist("paddlepaddle", old_paddle),
        dist("paddlepaddle-gpu", str(paddle.since)),
    )
    facts = make_facts(installed, {"system": {"cpu": {"flags": ["sse4_2"]}}})
    verdicts = judged(builds.cpu_lacks_instructions(facts, MATRIX))
    assert [v.evidence["distribution"] for v in verdicts] == [
        "tensorflow-cpu",
        "jaxlib",
        "paddlepaddle-gpu",
    ]
    assert verdicts[0].fixes[0].summary == (
        "Run tensorflow-cpu on a CPU with AVX (in a VM, enable CPU passthrough: hypervisors may "
        "hide AVX), or use a build compiled without it."
    )


def test_dd201_on_windows_leaves_a_tensorflow_intel_after_the_last_gpu_release_to_dd511():
    version = above(LAST) + ".0"
    tf = framework("tensorflow", ["tensorflow-intel"], {"is_cuda_build": False})
    tf["packages"]["distributions"] = [dist("tensorflow-intel", version)]
    windows = {"system": {"os": {"name": "Windows"}}}
    facts = make_facts(tf, machine("580.65.06", "13.0"), windows)
    assert judged(builds.cpu_only_build_on_gpu(facts, MATRIX)) == []
    tf["packages"]["distributions"] = [dist("tensorflow-intel", f"{LAST}.1")]
    facts = make_facts(tf, machine("580.65.06", "13.0"), windows)
    assert len(judged(builds.cpu_only_build_on_gpu(facts, MATRIX))) == 1


def test_dd402_says_what_cuda_still_sees_and_how_to_name_the_gpus():
    (one,) = env.visible_devices_unknown(visible("1", 1), MATRIX)
    assert one.title == (
        "CUDA_VISIBLE_DEVICES=1 names 1, which do not exist (this machine has 1 GPU(s): 0); "
        "CUDA sees no GPU at all"
    )
    assert one.evidence == {"CUDA_VISIBLE_DEVICES": "1", "invalid": ["1"], "gpu_count": 1}
    (fix,) = one.fixes
    assert fix.summary == "Set it to existing GPUs (indices 0, or UUIDs from `nvidia-smi -L`)."
    assert (fix.intents[0].variable, fix.intents[0].value) == ("CUDA_VISIBLE_DEVICES", "0")
    (three,) = env.visible_devices_unknown(visible("0, 1,7,2", 3), MATRIX)
    assert three.title == (
        "CUDA_VISIBLE_DEVICES=0, 1,7,2 names 7, which do not exist (this machine has 3 GPU(s): "
        "0–2); CUDA sees only 0, 1"
    )
    assert three.fixes[0].intents[0].value == "0,1,2"


def test_dd402_reads_uuids_with_or_without_their_prefix_and_mig_devices():
    assert env.visible_devices_unknown(visible("00000001", 2), MATRIX) == []  # GPU- implied
    (nothing,) = env.visible_devices_unknown(visible("GPU-ffff", 2), MATRIX)
    assert nothing.evidence["invalid"] == ["GPU-ffff"]
    facts = visible("MIG-1234", 2)
    with pytest.raises(Unknown):  # whether MIG is on is unknown: not judged
        env.visible_devices_unknown(_with(facts, mig=None), MATRIX)
    (off,) = env.visible_devices_unknown(_with(facts, mig={"current": False}), MATRIX)
    assert off.evidence["invalid"] == ["MIG-1234"]
    assert env.visible_devices_unknown(_with(facts, mig={"current": True}), MATRIX) == []
    with pytest.raises(Unknown):  # a GPU without a UUID might be the one named
        env.visible_devices_unknown(_with(visible("GPU-1", 2), uuid=None), MATRIX)


def _with(facts, **fields):
    for gpu in facts.nvidia["gpus"]:
        gpu.update(fields)
    return facts


def test_dd401_and_dd402_need_the_variable_and_the_gpus():
    unset = make_facts(machine("580.65.06", "13.0", ("GPU0", "9.0")))
    for check in (env.visible_devices_hide_all, env.visible_devices_unknown):
        with pytest.raises(NotApplicable, match=r"^CUDA_VISIBLE_DEVICES is not set$"):
            check(unset, MATRIX)
    variable = {"env": {"variables": {"CUDA_VISIBLE_DEVICES": "0"}}}
    pci = {"accelerators": {"pci": {"nvidia": [{"address": "0000:01:00.0", "driver": None}]}}}
    with pytest.raises(Unknown):  # a GPU on the bus, none listed by NVML
        env.visible_devices_unknown(make_facts(variable, pci), MATRIX)
    hidden = {"env": {"variables": {"CUDA_VISIBLE_DEVICES": "-1"}}}
    (verdict,) = env.visible_devices_hide_all(make_facts(hidden, pci), MATRIX)
    assert verdict.title == "CUDA_VISIBLE_DEVICES='-1' hides every GPU from every framework"
    assert verdict.evidence == {"CUDA_VISIBLE_DEVICES": "-1", "gpu_count": 0}
    assert verdict.fixes[0].intents[0].action == "unset"
    assert env.visible_devices_hide_all(visible("0", 2), MATRIX) == []


def test_dd201_a_partial_jax_listing_is_unjudged_by_its_plugins():
    facts = make_facts(
        framework("jax", ["jax", "jaxlib"], {"plugins": None}), machine("580.65.06", "13.0")
    )
    assert builds.cpu_only_build_on_gpu(facts, MATRIX) == [
        Unjudged("JAX", "packages.frameworks.jax.build.plugins")
    ]


def test_dd201_without_a_gpu_is_not_applicable_and_says_why():
    facts = make_facts(framework("torch", ["torch"], {"cuda": False, "hip": False}))
    with pytest.raises(NotApplicable, match=r"^no NVIDIA GPU on this machine$"):
        builds.cpu_only_build_on_gpu(facts, MATRIX)


def test_dd201_conda_says_cpu_when_the_build_file_could_not_be_read():
    torch_conda = next(
        r["conda"] for r in MATRIX.tables["conda"]["framework"] if r["framework"] == "torch"
    )
    unreadable = framework("torch", ["torch"], {"error": "could not read torch/version.py"})
    facts = make_facts(unreadable, machine("580.65.06", "13.0"), conda_env(conda(torch_conda)))
    results = builds.cpu_only_build_on_gpu(facts, MATRIX)
    (verdict,) = judged(results)
    assert verdict.title.endswith(f"conda installed its CPU build ({torch_conda} 2.5.1 cpu_py311)")


def test_dd202_a_distribution_of_unknown_version_leaves_the_rules_next_one_judged():
    rule = next(r for r in MATRIX.cpu_rules if len(r.distributions) > 1)
    first, second = rule.distributions[:2]
    installed = with_packages(dist(first, "junk"), dist(second, above(str(rule.since)) + ".0"))
    facts = make_facts(installed, {"system": {"cpu": {"flags": ["sse4_2"], "model": "Old"}}})
    results = builds.cpu_lacks_instructions(facts, MATRIX)
    assert results[0] == Unjudged(first, f"packages.distributions.{first}.version")
    assert [v.evidence["distribution"] for v in judged(results)] == [second]


def test_dd402_with_the_gpus_unlisted_the_gpus_are_the_unknown_fact():
    facts = make_facts(
        machine("580.65.06", "13.0"), {"env": {"variables": {"CUDA_VISIBLE_DEVICES": "0"}}}
    )
    facts.nvidia["gpus"] = []  # NVML listed none, while the PCI bus shows one
    facts.accelerators["pci"] = {"nvidia": [{"slot": "0000:01:00.0"}]}
    with pytest.raises(Unknown) as raised:
        env.visible_devices_unknown(facts, MATRIX)
    assert raised.value.path == "nvidia.gpus"


@pytest.mark.parametrize("key", ["torch", "tensorflow", "jax", "paddle"])
def test_dd201_conda_says_cpu_for_each_framework_whose_build_file_is_unreadable(key):
    names = {"torch": ["torch"], "tensorflow": ["tensorflow"], "jax": ["jax", "jaxlib"]}
    package = next(r["conda"] for r in MATRIX.tables["conda"]["framework"] if r["framework"] == key)
    unreadable = framework(key, names.get(key, ["paddlepaddle-gpu"]), {"error": "unreadable"})
    facts = make_facts(unreadable, machine("580.65.06", "13.0"), conda_env(conda(package)))
    (verdict,) = judged(builds.cpu_only_build_on_gpu(facts, MATRIX))
    assert verdict.evidence["framework"] == key
    assert verdict.title.endswith(f"conda installed its CPU build ({package} 2.5.1 cpu_py311)")


@pytest.mark.parametrize(
    ("key", "names", "build", "path"),
    [
        ("torch", ["torch"], {"cuda": None, "hip": False}, "packages.frameworks.torch.build.cuda"),
        (
            "tensorflow",
            ["tensorflow"],
            {"is_cuda_build": None},
            "packages.frameworks.tensorflow.build.is_cuda_build",
        ),
        ("tensorflow", ["tensorflow"], {"error": "x"}, "packages.frameworks.tensorflow.build"),
    ],
)
def test_dd201_names_the_build_fact_it_could_not_read(key, names, build, path):
    facts = make_facts(framework(key, names, build), machine("580.65.06", "13.0"))
    (unjudged,) = builds.cpu_only_build_on_gpu(facts, MATRIX)
    assert unjudged.path == path


def test_dd201_a_gpu_only_the_pci_bus_shows_is_this_machines_nvidia_gpu():
    facts = make_facts(framework("torch", ["torch"], {"cuda": False, "hip": False}))
    facts.accelerators["pci"] = {"nvidia": [{"slot": "0000:01:00.0"}]}
    (verdict,) = judged(builds.cpu_only_build_on_gpu(facts, MATRIX))
    assert verdict.title.startswith("PyTorch cannot use this machine's NVIDIA GPU: ")


def test_dd201_judges_every_framework_after_a_cuda_build():
    both = framework("torch", ["torch"], {"cuda": "12.8", "hip": None})
    cpu_tf = framework("tensorflow", ["tensorflow-cpu"], {})
    both["packages"]["distributions"] += cpu_tf["packages"]["distributions"]
    both["packages"]["frameworks"].update(cpu_tf["packages"]["frameworks"])
    facts = make_facts(both, machine("580.65.06", "13.0"))
    assert [
        v.evidence["framework"] for v in judged(builds.cpu_only_build_on_gpu(facts, MATRIX))
    ] == ["tensorflow"]


@pytest.mark.parametrize("count", [1, 2, 3])
def test_dd402_says_the_valid_indices_and_every_bad_entry(count):
    valid = "0" if count == 1 else f"0–{count - 1}"
    value = f"{count},{count + 1}"
    (verdict,) = env.visible_devices_unknown(visible(value, count), MATRIX)
    assert verdict.title == (
        f"CUDA_VISIBLE_DEVICES={value} names {count}, {count + 1}, which do not exist "
        f"(this machine has {count} GPU(s): {valid}); CUDA sees no GPU at all"
    )
    assert verdict.fixes[0].summary == (
        f"Set it to existing GPUs (indices {valid}, or UUIDs from `nvidia-smi -L`)."
    )


def test_dd402_a_uuid_without_its_prefix_and_what_it_cannot_judge():
    assert env.visible_devices_unknown(visible("00000001-0000", 2), MATRIX) == []  # GPU- implied
    (verdict,) = env.visible_devices_unknown(visible("00000002-0000", 2), MATRIX)
    assert verdict.evidence["invalid"] == ["00000002-0000"]
    for value, field, path in (
        ("MIG-1234", "mig", "nvidia.gpus.mig"),
        ("GPU-0000", "uuid", "nvidia.gpus.uuid"),
    ):
        facts = visible(value, 2)
        facts.nvidia["gpus"][1][field] = None
        with pytest.raises(Unknown) as raised:
            env.visible_devices_unknown(facts, MATRIX)
        assert raised.value.path == path


def test_dd401_and_dd402_without_a_gpu_are_not_applicable_and_say_why():
    facts = make_facts({"env": {"variables": {"CUDA_VISIBLE_DEVICES": "0"}}})
    facts.nvidia.update(gpus=[], nvml={"status": "ok", "error": None})
    facts.accelerators["pci"] = {"nvidia": [], "dxg_present": False}
    for judge in (env.visible_devices_unknown, env.visible_devices_hide_all):
        if judge is env.visible_devices_hide_all:
            facts.env["variables"]["CUDA_VISIBLE_DEVICES"] = "-1"
        with pytest.raises(NotApplicable, match=r"^no NVIDIA GPU on this machine$"):
            judge(facts, MATRIX)


def test_dd401_fix_unsets_it():
    (verdict,) = env.visible_devices_hide_all(visible("-1", 2), MATRIX)
    assert verdict.fixes[0].summary == "Unset it (or name the GPUs to use)."


def test_dd402_with_nvml_listing_nothing_says_so():
    facts = make_facts(
        machine("580.65.06", "13.0"), {"env": {"variables": {"CUDA_VISIBLE_DEVICES": "0"}}}
    )
    facts.nvidia["gpus"] = []
    facts.accelerators["pci"] = {"nvidia": [{"slot": "0000:01:00.0"}]}
    with pytest.raises(Unknown) as raised:
        env.visible_devices_unknown(facts, MATRIX)
    assert (raised.value.path, raised.value.why) == ("nvidia.gpus", "NVML did not list the GPUs")


def test_cuda_visible_devices_read_as_anything_but_text_is_not_set():
    facts = visible("0", 2)
    facts.env["variables"]["CUDA_VISIBLE_DEVICES"] = 5  # an untrusted report's number
    for judge in (env.visible_devices_unknown, env.visible_devices_hide_all):
        with pytest.raises(NotApplicable):
            judge(facts, MATRIX)


def test_dd402_with_no_gpu_listed_and_none_known_absent_names_the_gpu_facts():
    facts = make_facts(
        machine("580.65.06", "13.0"), {"env": {"variables": {"CUDA_VISIBLE_DEVICES": "0"}}}
    )
    facts.nvidia.update(gpus=[], nvml={"status": None, "error": None})
    facts.accelerators["pci"] = {"nvidia": None}
    with pytest.raises(Unknown) as raised:
        env.visible_devices_unknown(facts, MATRIX)
    assert raised.value.path == "nvidia.gpus and accelerators.pci.nvidia"


def test_dd201_with_no_gpu_build_to_name_has_no_fix():
    """A paste that shows torch's CPU build but not its distribution: no version to pair a GPU
    build with, so the verdict carries no fix rather than an empty one."""
    cpu_torch = framework("torch", ["torch"], {"cuda": False, "hip": False})
    cpu_torch["packages"]["distributions"] = []
    facts = make_facts(cpu_torch, machine("580.65.06", "13.0"))
    (verdict,) = judged(builds.cpu_only_build_on_gpu(facts, MATRIX))
    assert verdict.evidence["framework"] == "torch" and verdict.fixes == ()
