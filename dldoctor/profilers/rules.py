"""The profile's findings (DD7xx): small pure functions of the report's ``profile`` section.

Registered like checks, with a stable code and kebab-case name; the README's table of profile
findings is generated from this registry and the thresholds it quotes. A rule returns the
findings it makes (none when it has nothing to say); it never measures anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dldoctor.model import Area, Finding, Fix, Severity
from dldoctor.profilers import advice
from dldoctor.profilers import thresholds as th
from dldoctor.profilers.analysis import judged_wait
from dldoctor.profilers.thresholds import pct

JSON = dict[str, Any]
RuleFn = Callable[[JSON], "list[Finding]"]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str  # when it fires, with the thresholds' values
    fn: RuleFn

    @property
    def area(self) -> Area:
        return Area.PROFILE


_RULES: dict[str, Rule] = {}


def rule(code: str, name: str, summary: str) -> Callable[[RuleFn], RuleFn]:
    def register(fn: RuleFn) -> RuleFn:
        if code in _RULES or any(r.name == name for r in _RULES.values()):
            raise ValueError(f"profile rule {code} {name} registered twice")
        if not (code.startswith("DD7") and len(code) == 5 and code[2:].isdigit()):
            raise ValueError(f"profile rule code {code!r} is not DD7xx")
        _RULES[code] = Rule(code, name, summary, fn)
        return fn

    return register


def all_rules() -> list[Rule]:
    return [_RULES[code] for code in sorted(_RULES)]


def judge(profile: JSON) -> list[Finding]:
    """Every rule's findings, worst first. A rule that crashes becomes a finding, not a crash."""
    if profile["exit"].get("not_started"):
        return []  # the script never ran (python said why, in its one line): nothing to judge
    findings: list[Finding] = []
    for r in all_rules():
        try:
            findings.extend(r.fn(profile))
        except Exception as exc:  # a bug in a rule must not lose the measurements
            title = f"profile rule {r.name} crashed: {type(exc).__name__}: {exc} (a dldoctor bug)"
            findings.append(Finding(r.code, Severity.INFO, title, Area.PROFILE))
    return sorted(findings, key=lambda f: (-f.severity.rank, f.code))


def _finding(code: str, severity: Severity, title: str, evidence: JSON, *fixes: Fix) -> Finding:
    return Finding(code, severity, title, Area.PROFILE, evidence, tuple(fixes))


def _verdict(profile: JSON) -> str:
    return str(profile["verdict"]["class"])


def _wait_evidence(profile: JSON) -> JSON:
    return {
        "data_wait_fraction": profile["data_wait"]["fraction"],
        "data_wait_fraction_without_first_batches": profile["data_wait"].get("steady_fraction"),
        "steps": profile["steps"]["count"],
        "wait_per_step_p50_s": profile["data_wait"]["per_step"]["p50_s"],
        "wait_per_step_p95_s": profile["data_wait"]["per_step"]["p95_s"],
        "loaders": [
            {"site": advice.where(ld), "config": ld["config"], "wait": ld["wait"]}
            for ld in profile["loaders"]
            if ld["in_main_process"]
        ],
    }


@rule("DD701", "input-bound", f"The loop waits for batches ≥ {pct(th.INPUT_BOUND)} of step time")
def input_bound(profile: JSON) -> list[Finding]:
    fraction = judged_wait(profile)
    if _verdict(profile) != "input-bound" or fraction is None:
        return []
    title = f"Input-bound: the training loop waits for data {pct(fraction)} of the time"
    fixes = advice.loader_fixes(profile)
    return [_finding("DD701", Severity.WARNING, title, _wait_evidence(profile), *fixes)]


@rule(
    "DD702",
    "input-wait",
    f"The loop waits for batches {pct(th.INPUT_NOTABLE)}–{pct(th.INPUT_BOUND)} of step time",
)
def input_wait(profile: JSON) -> list[Finding]:
    fraction = judged_wait(profile)
    if _verdict(profile) == "unknown" or fraction is None:
        return []
    if not th.INPUT_NOTABLE <= fraction < th.INPUT_BOUND:
        return []
    title = f"The training loop waits for data {pct(fraction)} of the time"
    fixes = advice.loader_fixes(profile)
    return [_finding("DD702", Severity.INFO, title, _wait_evidence(profile), *fixes)]


@rule(
    "DD703",
    "main-thread-cpu-bound",
    f"Not input-bound, and the main thread is busy ≥ {pct(th.MAIN_THREAD_BUSY)} of the time",
)
def main_thread_cpu_bound(profile: JSON) -> list[Finding]:
    if _verdict(profile) != "cpu-bound" or rules_steps.loop_body(profile) is not None:
        return []  # the loop body's own work is the cause: DD712 names it
    cpu = profile["cpu"]
    busy = (
        cpu["main_thread_busy"]
        if cpu["main_thread_busy"] is not None
        else cpu["main_process_cores"]
    )
    evidence = {"main_thread_busy": busy, "gpu_busy_fraction": profile["gpu"].get("busy_fraction")}
    if not profile["gpu"]["measured"]:
        title = (
            f"CPU-bound: the main thread computes {pct(busy)} of the time "
            "(expected when the model runs on the CPU)"
        )
        return [_finding("DD703", Severity.INFO, title, evidence)]
    title = (
        f"CPU-bound in the main process: its main thread is busy {pct(busy)} of the time while "
        f"the GPU is busy {pct(profile['gpu']['busy_fraction'])}"
    )
    fix = Fix(
        summary="move per-batch CPU work out of the training loop (into the Dataset, run by "
        "loader workers) and remove host-device synchronisations (.item(), .cpu(), print of "
        "tensors) from the step",
        notes="Python overhead between many small kernels also shows here: a larger batch, "
        "torch.compile or CUDA graphs amortise it.",
    )
    return [_finding("DD703", Severity.WARNING, title, evidence, fix)]


@rule(
    "DD704",
    "gpu-underused",
    f"Neither input- nor CPU-bound, and the GPU is busy < {pct(th.GPU_UNDERUSED)} of the time",
)
def gpu_underused(profile: JSON) -> list[Finding]:
    gpu = profile["gpu"]
    if _verdict(profile) != "healthy" or not gpu["measured"]:
        return []
    if gpu["busy_fraction"] >= th.GPU_UNDERUSED:
        return []
    title = f"The GPU is busy only {pct(gpu['busy_fraction'])} of the time"
    fix = Fix(
        summary="raise the batch size (and scale the learning rate) until the GPU is busy or "
        "its memory is nearly full",
        notes="NVML's utilisation says whether any kernel ran, not how much of the GPU it used.",
    )
    return [_finding("DD704", Severity.INFO, title, {"gpu": gpu["busy_fraction"]}, fix)]


@rule("DD705", "gpu-bound", f"The GPU is busy ≥ {pct(th.GPU_BOUND)} of the time (good)")
def gpu_bound(profile: JSON) -> list[Finding]:
    if _verdict(profile) != "gpu-bound":
        return []
    gpu = profile["gpu"]["busy_fraction"]
    title = f"GPU-bound: the GPU is busy {pct(gpu)} of the time and the input keeps up"
    return [_finding("DD705", Severity.OK, title, {"gpu_busy_fraction": gpu})]


@rule(
    "DD706",
    "loader-workers-saturated",
    f"Input-bound while the loader workers are ≥ {pct(th.WORKER_BUSY)} busy and the process "
    f"tree uses ≥ {pct(th.CORES_BUSY)} of the cores",
)
def workers_saturated(profile: JSON) -> list[Finding]:
    cpu = profile["cpu"]
    fraction = judged_wait(profile)
    if _verdict(profile) == "unknown" or fraction is None or fraction < th.INPUT_NOTABLE:
        return []
    busy, share = cpu["worker_busy"], cpu["tree_share_of_cores"]
    if busy is None or share is None or busy < th.WORKER_BUSY or share < th.CORES_BUSY:
        return []
    title = (
        f"The loader workers are saturated: each is busy {pct(busy)} and the script uses "
        f"{pct(share)} of the {cpu['cores_available']:g} cores available"
    )
    fix = Fix(
        summary="make each batch cheaper to produce: cache decoded or preprocessed data, "
        "use a faster decoder, or move augmentation to the GPU (e.g. NVIDIA DALI)",
        notes="More workers cannot help when every core is already busy.",
    )
    return [
        _finding("DD706", Severity.INFO, title, {"worker_busy": busy, "tree_share": share}, fix)
    ]


@rule(
    "DD707",
    "worker-startup",
    f"Each pass's first batch waits ≥ {th.STARTUP_WAIT_S:g} s on average and first batches "
    f"hold ≥ {pct(th.STARTUP_SHARE)} of the waiting",
)
def worker_startup(profile: JSON) -> list[Finding]:
    findings = []
    for ld in profile["loaders"]:
        first, total = ld["first_batch_wait"], ld["wait"]["total_s"] or 0.0
        if not first["count"] or not total or first["mean_s"] < th.STARTUP_WAIT_S:
            continue
        share = first["total_s"] / total
        if share < th.STARTUP_SHARE:
            continue
        title = (
            f"The first batch of each pass waits {first['mean_s']:.1f} s (worker start-up and "
            f"first prefetch): {pct(share)} of all the waiting, left out of the verdict"
        )
        config = ld["config"]
        fixes = []
        if config.get("persistent_workers") is False and ld.get("worker_starts", 0) >= 2:
            fixes.append(
                Fix(
                    summary="set persistent_workers=True",
                    notes=f"In the DataLoader built at {advice.where(ld)}: its workers are "
                    f"started again for every pass ({ld['worker_starts']} times here).",
                )
            )
        if config.get("multiprocessing_context") in ("spawn", "forkserver"):
            keep = "" if config.get("persistent_workers") else "set persistent_workers=True, or "
            fixes.append(
                Fix(
                    summary=f"{keep}use the fork start method where the libraries allow it",
                    notes="Spawned workers start a new interpreter and import the script's "
                    "modules again: seconds per worker.",
                )
            )
        evidence = {"first_batch_wait": first, "site": advice.where(ld)}
        findings.append(_finding("DD707", Severity.INFO, title, evidence, *fixes))
    return findings


@rule("DD708", "no-gpu-measured", "No GPU utilisation could be sampled (the reason is given)")
def no_gpu(profile: JSON) -> list[Finding]:
    gpu = profile["gpu"]
    if gpu["measured"]:
        return []
    title = f"No GPU measured ({gpu.get('reason') or 'unknown reason'}): only the input pipeline and CPU were analysed"
    return [_finding("DD708", Severity.INFO, title, {"reason": gpu.get("reason")})]


@rule("DD709", "too-few-steps", f"Fewer than {th.MIN_STEPS} training steps were seen: no verdict")
def too_few_steps(profile: JSON) -> list[Finding]:
    steps = profile["steps"]["count"]
    if steps >= th.MIN_STEPS:
        return []
    if steps == 0:
        title = "No training step seen: no DataLoader, tf.data iterator or dldoctor.step() call in the main thread"
    else:
        title = f"Only {steps} training steps seen: too few for a verdict"
    fix = Fix(
        summary="run more steps, or mark each step: `import dldoctor` and call "
        "`dldoctor.step()` at the end of each training iteration",
        notes="Batches are seen automatically from torch and paddle DataLoaders, tf.data "
        "iterators in eager loops and Keras fit (TensorFlow backend).",
    )
    return [_finding("DD709", Severity.WARNING, title, {"steps": steps}, fix)]


@rule("DD710", "script-did-not-finish", "The script failed, was interrupted or was killed")
def did_not_finish(profile: JSON) -> list[Finding]:
    ended = profile["exit"]
    status = ended["status"]
    if status in ("completed", "stopped"):
        return []
    steps = profile["steps"]["count"]
    if status == "failed":
        how = (
            f"raised {ended['exception']}"
            if ended.get("exception")
            else f"exited with code {ended['returncode']}"
        )
    elif status == "interrupted":
        how = "was interrupted (SIGINT)"
    else:
        how = f"was killed by {ended['signal']}"
    title = f"The script {how} after {steps} steps: this report covers what ran"
    return [_finding("DD710", Severity.INFO, title, {"exit": ended})]


@rule("DD711", "hook-failed", "A framework hook could not be installed: its loaders go unmeasured")
def hook_failed(profile: JSON) -> list[Finding]:
    findings = []
    for fw in profile["frameworks"]:
        if fw.get("error"):
            title = f"Could not instrument {fw.get('module')}: {fw['error']} (a dldoctor bug or a new framework release)"
            findings.append(_finding("DD711", Severity.WARNING, title, dict(fw)))
    return findings


# Rules on where step time goes, --tune and training health, registered with the rest.
from dldoctor.profilers import rules_health, rules_steps  # noqa: E402, F401
