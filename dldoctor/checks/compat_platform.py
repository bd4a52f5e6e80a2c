"""Platform rules: TensorFlow's GPU on native Windows, and Apple's MPS preconditions."""

from __future__ import annotations

from dataclasses import replace

from packaging.version import Version

from dldoctor.checks.registry import NotApplicable, Unjudged, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import need, need_value
from dldoctor.facts.model import Facts
from dldoctor.fixes.installers import Install
from dldoctor.fixes.intents import fix
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Fix, Intent, Severity


@check(
    "DD511",
    "windows-native-tensorflow-gpu",
    "TensorFlow newer than 2.10 on native Windows cannot use the GPU",
    Area.FRAMEWORKS,
)
def windows_native_tensorflow_gpu(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: TensorFlow after 2.10 is installed in a native Windows Python on a machine with an
    NVIDIA GPU.

    Why: 2.10 was the last release with GPU support on native Windows; later ones run on the
    CPU only, without saying why.

    Fix: run TensorFlow in WSL2 with tensorflow[and-cuda], or pin tensorflow<2.11 on Windows;
    WSL2 reaches only GPUs in WDDM mode, so with every GPU in TCC mode the pin comes first.
    """
    if need(facts, "system.os.name") != "Windows":
        raise NotApplicable("not native Windows")
    tf = q.installed(facts, "tensorflow") or q.installed(facts, "tensorflow-intel")
    rules = matrix.tables["tensorflow"]
    last = Version(rules["windows_native_gpu_last"])
    version = q.version_of((tf or {}).get("version"))
    if version is None or Version(version.base_version) < Version(f"{last}.999"):
        return []
    if not need_value(q.nvidia_gpu_present(facts), q.GPU_FACTS):
        return []
    wsl = fix(
        "Use WSL2 and install the CUDA build there.",
        Intent(action="wsl-install"),
        facts=facts,
        notes="Then, in WSL2's Linux shell, create a virtual environment and install "
        "tensorflow[and-cuda] into it (TensorFlow's Linux pip instructions); "
        "`dldoctor check` run there judges the result.",
    )
    pin = fix(
        f"Or keep native Windows with TensorFlow {rules['windows_native_gpu_last']}.",
        Install((f"tensorflow=={rules['windows_native_gpu_last']}.*",)),
        facts=facts,
        automatic=False,
    )
    evidence = {"tensorflow": (tf or {}).get("version"), "source": rules["windows_source"]}
    models = _driver_models(facts)
    wddm = matrix.tables["system"]["wsl_driver_model"][0]
    if models and wddm["required"] not in models:  # WSL 2 cannot reach any of these GPUs
        evidence.update(driver_models=models, wsl_source=wddm["source"])
        switch = wddm["switch"].replace("INDEX", "0")
        wsl = replace(
            wsl,
            summary=f"Or switch a GPU to {wddm['required']} ({switch}, then reboot; where the "
            "board supports it) and use WSL2: WSL 2 reaches only GPUs in WDDM mode.",
            notes=f"This machine's GPUs are in {', '.join(sorted(set(models)))} mode. {wsl.notes}",
        )
        pin = replace(pin, summary=pin.summary.replace("Or keep", "Keep"))
    return [
        Verdict(
            Severity.ERROR,
            f"TensorFlow {(tf or {}).get('version')} on native Windows runs on the CPU only: GPU support "
            f"ended with {rules['windows_native_gpu_last']}",
            evidence=evidence,
            fixes=(wsl, pin) if "driver_models" not in evidence else (pin, wsl),
        )
    ]


def _driver_models(facts: Facts) -> list[str]:
    """Each NVIDIA GPU's current Windows driver model (WDDM, TCC), only when all are known."""
    models = [((g.get("driver_model") or {}).get("current")) for g in q.gpus(facts)]
    return [str(m) for m in models] if models and all(models) else []


@check(
    "DD512",
    "mps-unavailable",
    "PyTorch cannot use Apple's GPU (MPS) in this Python",
    Area.FRAMEWORKS,
)
def mps_unavailable(facts: Facts, matrix: Matrix) -> list[Verdict | Unjudged]:
    """What: on a Mac with Apple silicon, torch runs in an x86-64 Python under Rosetta, or the
    macOS version is older than the torch release's MPS backend needs.

    Why: torch.backends.mps.is_available() is False and training silently runs on the CPU.

    Fix: install an arm64 (native) Python and reinstall torch in it; or update macOS.
    """
    apple = facts.accelerators.get("apple") or {}
    torch = q.installed(facts, "torch")
    if not need(facts, "accelerators.apple.is_macos") or not torch:
        raise NotApplicable("not macOS, or torch not installed")
    verdicts: list[Verdict | Unjudged] = []
    rosetta = facts.python.get("machine") == "x86_64"
    if rosetta and apple.get("hardware_arm64") is None:
        verdicts.append(Unjudged("Rosetta", "accelerators.apple.hardware_arm64"))
    if rosetta and apple.get("hardware_arm64"):
        verdicts.append(
            Verdict(
                Severity.ERROR,
                "This Python is an x86-64 build running under Rosetta on Apple silicon: torch cannot use the GPU (MPS)",
                evidence={
                    "python_machine": facts.python.get("machine"),
                    "hardware_arm64": True,
                    "executable": facts.python.get("executable"),
                },
                fixes=(
                    Fix(
                        "Install a native arm64 Python (python.org installer, or an arm64 conda/uv Python), "
                        "create the environment with it and reinstall torch there.",
                        notes='`python -c "import platform; print(platform.machine())"` must print arm64.',
                    ),
                ),
            )
        )
    macos = q.version_of(apple.get("macos_version"))
    version = q.version_of(torch["version"])
    needed = None
    for row in matrix.torch.get("mps", []):
        if version is not None and Version(version.base_version) >= Version(row["torch"]):
            needed = row
    if macos is not None and needed and macos < Version(needed["macos"]):
        verdicts.append(
            Verdict(
                Severity.ERROR,
                f"torch {torch['version']} needs macOS {needed['macos']} or newer for the GPU (MPS); this is macOS {apple.get('macos_version')}",
                evidence={
                    "macos": apple.get("macos_version"),
                    "torch": torch["version"],
                    "source": needed["source"],
                },
                fixes=(
                    Fix(
                        f"Update macOS to {needed['macos']} or newer, or use a torch release older than {needed['torch']}."
                    ),
                ),
            )
        )
    return verdicts
