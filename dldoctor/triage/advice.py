"""What to paste next: the command whose output would settle a check the paste left unjudged."""

from __future__ import annotations

import re

from dldoctor.model import CheckOutcome, Status

# Facts only dldoctor's own gatherer learns (requirements, files on disk): no paste shows them.
EVERYTHING_ASK = "run `dldoctor check --json report.json` on that machine and attach report.json"
# (prefix of the unknown fact, what to run and paste), the most specific first.
ASK: tuple[tuple[str, str], ...] = (
    (
        "nvidia.gpus.compute_capability",
        "run `nvidia-smi --query-gpu=index,name,compute_cap,driver_version --format=csv` and paste it",
    ),
    ("nvidia.gpus", "run `nvidia-smi` and paste it"),
    ("nvidia.", "run `nvidia-smi` and paste it"),
    (
        "accelerators.pci",
        "run `nvidia-smi` and paste it (or `lspci -k | grep -A3 -i nvidia` when it fails)",
    ),
    ("packages.conda", "run `conda list` and paste it"),
    ("cuda.toolkits", "run `nvcc --version` and paste it"),
    ("packages.unsatisfied", "run `pip check` and paste it"),
    ("packages.duplicates", EVERYTHING_ASK),
    ("packages.module_conflicts", EVERYTHING_ASK),
    ("packages.nvidia_pins", EVERYTHING_ASK),
    (
        "packages.frameworks.tensorflow",
        'run `python -c "import tensorflow as tf; print(tf.sysconfig.get_build_info())"` and paste it',
    ),
    (
        "packages.frameworks.paddle",
        'run `python -c "import paddle; paddle.version.show()"` and paste it',
    ),
    (
        "packages.frameworks.jax",
        'run `python -c "import jax; jax.print_environment_info()"` and paste it',
    ),
    ("packages.frameworks.torch", "run `python -m torch.utils.collect_env` and paste it"),
    ("packages.", "run `pip list` (and `conda list` in a conda environment) and paste it"),
    ("python.", "run `python -m torch.utils.collect_env` (or `python -VV`) and paste it"),
    ("system.cpu", "run `lscpu` and paste it"),
    ("system.os", "run `python -m torch.utils.collect_env` and paste it"),
    ("runtime.", "paste the whole error output, from `Traceback` to its last line"),
)
EVERYTHING = EVERYTHING_ASK
_PATH = re.compile(r"\b([a-z_]+(?:\.[A-Za-z0-9_]+)+)\b")


def unknown_paths(outcome: CheckOutcome) -> list[str]:
    """The facts a not-judged outcome names as unknown ("nvidia.nvml.status", ...)."""
    if outcome.status is not Status.NOT_JUDGED and not outcome.reason.startswith("not judged"):
        return []
    return [p for p in _PATH.findall(outcome.reason) if "." in p and not p[0].isdigit()]


def ask_for(path: str) -> str:
    """What to paste to learn the fact at ``path``."""
    normal = re.sub(r"\.\d+(?=\.|$)", "", path)  # nvidia.gpus.0.name → nvidia.gpus.name
    if normal.endswith(".smoke"):  # only dldoctor's own probes run smoke tests
        return EVERYTHING
    return next((ask for prefix, ask in ASK if normal.startswith(prefix)), EVERYTHING)


def next_pastes(outcomes: list[CheckOutcome]) -> list[tuple[str, list[str]]]:
    """(what to paste, the checks it would settle), most checks first."""
    wanted: dict[str, list[str]] = {}
    for outcome in outcomes:
        for ask in dict.fromkeys(ask_for(p) for p in unknown_paths(outcome)):
            codes = wanted.setdefault(ask, [])
            if outcome.code not in codes:
                codes.append(outcome.code)
    # Most checks settled first; a whole report (settles anything) always last.
    return sorted(wanted.items(), key=lambda item: (item[0] == EVERYTHING, -len(item[1])))
