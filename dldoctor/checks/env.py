"""Checks of environment variables that change which GPUs the frameworks see."""

from __future__ import annotations

from dldoctor.checks.registry import NotApplicable, Verdict, check
from dldoctor.facts import queries as q
from dldoctor.facts.known import Unknown, need, need_value
from dldoctor.facts.model import Facts
from dldoctor.fixes.intents import fix
from dldoctor.matrix import Matrix
from dldoctor.model import Area, Intent, Severity

_HIDE_ALL = ("", "-1", "none", "nodevfiles", "void")


def _visible_devices(facts: Facts) -> str | None:
    """Its value; None when unset (the allowlist names every variable that is set)."""
    value = need(facts, "env.variables").get("CUDA_VISIBLE_DEVICES")
    return value if isinstance(value, str) else None


def _matches(entry: str, facts: Facts) -> bool:
    """Whether a CUDA_VISIBLE_DEVICES entry names an existing GPU (index, UUID or MIG prefix)."""
    gpus = q.gpus(facts)
    if entry.isdigit():
        return int(entry) < len(gpus)
    if entry.startswith("MIG-"):
        if any(g.get("mig") is None for g in gpus):
            raise Unknown("nvidia.gpus.mig")
        return any((g.get("mig") or {}).get("current") for g in gpus)
    if any(not g.get("uuid") for g in gpus):  # an unknown UUID might be the one named
        raise Unknown("nvidia.gpus.uuid")
    uuids = [str(g["uuid"]) for g in gpus]
    candidate = entry if entry.startswith("GPU-") else f"GPU-{entry}"
    # CUDA accepts any unique prefix of a UUID.
    return sum(1 for u in uuids if u.startswith(candidate)) == 1


@check(
    "DD401",
    "cuda-visible-devices-hides-all",
    "CUDA_VISIBLE_DEVICES hides every GPU",
    Area.ENVIRONMENT,
)
def visible_devices_hide_all(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: CUDA_VISIBLE_DEVICES is set to an empty or disabling value on a machine with GPUs.

    Why: every CUDA framework then reports "no GPU" although the driver and hardware are fine;
    it is often inherited from a shell profile, a job script or a container image.

    Fix: unset it, or set it to the GPUs you mean to use.
    """
    value = _visible_devices(facts)
    if value is None:
        raise NotApplicable("CUDA_VISIBLE_DEVICES is not set")
    count = len(q.gpus(facts))
    if value.strip().lower() not in _HIDE_ALL:
        return []
    # None listed: none here, or unknown (NVML not asked, an old report): Unknown is not judged.
    if not count and need_value(q.nvidia_gpu_present(facts), q.GPU_FACTS) is False:
        raise NotApplicable("no NVIDIA GPU on this machine")
    return [
        Verdict(
            Severity.ERROR,
            f"CUDA_VISIBLE_DEVICES={value!r} hides "
            + (f"all {count} GPU(s)" if count else "every GPU")
            + " from every framework",
            evidence={"CUDA_VISIBLE_DEVICES": value, "gpu_count": count},
            fixes=(
                fix(
                    "Unset it (or name the GPUs to use).",
                    Intent(action="unset", variable="CUDA_VISIBLE_DEVICES"),
                    facts=facts,
                ),
            ),
        )
    ]


@check(
    "DD402",
    "cuda-visible-devices-unknown-gpu",
    "CUDA_VISIBLE_DEVICES names GPUs that do not exist",
    Area.ENVIRONMENT,
)
def visible_devices_unknown(facts: Facts, matrix: Matrix) -> list[Verdict]:
    """What: CUDA_VISIBLE_DEVICES lists an index beyond the GPU count or an unknown UUID.

    Why: CUDA stops reading the list at the first invalid entry: the GPUs after it are silently
    dropped, and if the first entry is invalid no GPU is visible at all.

    Fix: use indices 0..N-1 or UUIDs from `nvidia-smi -L`.
    """
    value = _visible_devices(facts)
    gpus = q.gpus(facts)
    if value is None:
        raise NotApplicable("CUDA_VISIBLE_DEVICES is not set")
    if not gpus:
        if need_value(q.nvidia_gpu_present(facts), q.GPU_FACTS) is False:
            raise NotApplicable("no NVIDIA GPU on this machine")
        raise Unknown("nvidia.gpus", "NVML did not list the GPUs")
    if value.strip().lower() in _HIDE_ALL:
        return []
    entries = [e.strip() for e in value.split(",")]
    bad = [e for e in entries if not _matches(e, facts)]
    if not bad:
        return []
    first_bad = entries.index(bad[0])
    seen = entries[:first_bad]
    outcome = f"CUDA sees only {', '.join(seen)}" if seen else "CUDA sees no GPU at all"
    valid = f"0–{len(gpus) - 1}" if len(gpus) > 1 else "0"
    return [
        Verdict(
            Severity.ERROR if not seen else Severity.WARNING,
            f"CUDA_VISIBLE_DEVICES={value} names {', '.join(bad)}, which do not exist "
            f"(this machine has {len(gpus)} GPU(s): {valid}); {outcome}",
            evidence={"CUDA_VISIBLE_DEVICES": value, "invalid": bad, "gpu_count": len(gpus)},
            fixes=(
                fix(
                    f"Set it to existing GPUs (indices {valid}, or UUIDs from `nvidia-smi -L`).",
                    Intent(
                        action="set",
                        variable="CUDA_VISIBLE_DEVICES",
                        value=",".join(str(i) for i in range(len(gpus))),
                    ),
                    facts=facts,
                ),
            ),
        )
    ]
