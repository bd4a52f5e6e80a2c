"""What to paste next: each unknown fact maps to the one command whose output triage reads."""

from __future__ import annotations

import pytest

from dldoctor.model import CheckOutcome, Status
from dldoctor.triage.advice import EVERYTHING, ask_for, next_pastes


@pytest.mark.parametrize(
    ("path", "ask"),
    [
        ("nvidia.gpus.0.compute_capability", "--query-gpu=index,name,compute_cap"),
        ("nvidia.nvml.status", "run `nvidia-smi` and paste it"),
        ("accelerators.pci.nvidia", "lspci -k"),
        ("packages.unsatisfied", "run `pip check`"),
        ("packages.distributions", "run `pip list`"),
        ("packages.conda", "run `conda list`"),
        ("packages.frameworks.jax.build.plugins", "jax.print_environment_info()"),
        ("system.cpu.flags", "run `lscpu`"),
        ("cuda.toolkits", "run `nvcc --version`"),
        ("packages.duplicates", EVERYTHING),  # only dldoctor's gatherer sees two copies
        ("runtime.frameworks.torch.smoke", EVERYTHING),  # only dldoctor's probes run them
        ("cuda.library_map", EVERYTHING),
    ],
)
def test_each_unknown_fact_asks_for_the_paste_that_shows_it(path, ask):
    assert ask in ask_for(path)


def test_the_pastes_that_settle_most_come_first_and_the_whole_report_last():
    outcomes = [
        CheckOutcome(
            "DD102", "x", Status.NOT_JUDGED, reason="not judged: nvidia.nvml.status is unknown"
        ),
        CheckOutcome(
            "DD103", "x", Status.NOT_JUDGED, reason="not judged: nvidia.nvml.status is unknown"
        ),
        CheckOutcome(
            "DD301", "x", Status.NOT_JUDGED, reason="not judged: packages.duplicates is unknown"
        ),
        CheckOutcome(
            "DD302",
            "x",
            Status.NOT_JUDGED,
            reason="not judged: packages.module_conflicts is unknown",
        ),
        CheckOutcome(
            "DD202", "x", Status.NOT_JUDGED, reason="not judged: system.cpu.flags is unknown"
        ),
        CheckOutcome("DD501", "x", Status.PASSED),
    ]
    asks = next_pastes(outcomes)
    assert asks[0] == ("run `nvidia-smi` and paste it", ["DD102", "DD103"])
    assert asks[-1] == (EVERYTHING, ["DD301", "DD302"])
    assert all("DD501" not in codes for _, codes in asks)
