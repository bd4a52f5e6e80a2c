"""DD511 with the Windows driver model: WSL 2 reaches only GPUs in WDDM mode (NVIDIA's CUDA on
WSL guide), so with every GPU in TCC mode the WSL advice says so and the pin comes first."""

from __future__ import annotations

import pytest

from dldoctor.checks import compat_platform
from tests.checks.scenarios import dist, gpu_machine, make_facts, with_packages

WINDOWS = {"system": {"os": {"name": "Windows"}}}


def _dd511(matrix, *models):
    machine = gpu_machine(len(models) or 1)
    for gpu, model in zip(machine["nvidia"]["gpus"], models):
        gpu["driver_model"] = (
            model if model in (None, False) else {"current": model, "pending": model}
        )
    facts = make_facts(WINDOWS, machine, with_packages(dist("tensorflow", "2.15.0")))
    (verdict,) = compat_platform.windows_native_tensorflow_gpu(facts, matrix)
    return verdict


def test_with_every_gpu_in_tcc_mode_wsl_is_not_the_first_way_out(matrix):
    verdict = _dd511(matrix, "TCC", "TCC")
    pin, wsl = verdict.fixes
    assert pin.summary.startswith("Keep native Windows with TensorFlow 2.10")
    assert "nvidia-smi -g 0 -dm 0" in wsl.summary and "WDDM" in wsl.summary
    assert "TCC mode" in wsl.notes
    assert verdict.evidence["driver_models"] == ["TCC", "TCC"]
    assert "wsl-user-guide" in verdict.evidence["wsl_source"]


@pytest.mark.parametrize(
    "models",
    [
        ("WDDM",),
        ("TCC", "WDDM"),  # one GPU WSL can reach
        ("TCC", None),  # one unknown: no claim
        (None,),
        (),  # an older report without driver models
    ],
)
def test_a_wddm_gpu_or_an_unknown_model_keeps_the_wsl_advice_first(matrix, models):
    verdict = _dd511(matrix, *models)
    wsl, pin = verdict.fixes
    assert wsl.summary == "Use WSL2 and install the CUDA build there."
    assert pin.summary.startswith("Or keep native Windows")
    assert "driver_models" not in verdict.evidence
