"""The numbers behind a profile's verdict. The README's profile table is generated from them.

Fractions are of the training steps' wall time (data wait), of sampled time (GPU busy: NVML's
``utilization.gpu``, the share of its sample period in which any kernel ran), or of one CPU core
(a thread or a worker process busy on a CPU).
"""

from __future__ import annotations

# Data wait: share of step time the main thread spends blocked in the loader's ``__next__``.
# TensorFlow's input-pipeline analyser calls >= 20 % "highly" and >= 5 % "moderately"
# input-bound; PyTorch's TensorBoard plugin flags DataLoader time above 5 %.
INPUT_BOUND = 0.20
INPUT_NOTABLE = 0.05

# GPU busy (mean utilization.gpu / 100 over the steps). >= 80 %: the GPU is the bottleneck (good).
# < 50 %: underused (the TensorBoard plugin's batch-size advice starts there).
GPU_BOUND = 0.80
GPU_UNDERUSED = 0.50

# The main thread is CPU-bound when it is running or waiting for a CPU (never blocked on data,
# I/O or the GPU) >= 85 % of the time. A loader worker is saturated at >= 85 % of one core.
MAIN_THREAD_BUSY = 0.85
WORKER_BUSY = 0.85
# The whole process tree using >= 85 % of the cores available (affinity and cgroup quota).
CORES_BUSY = 0.85

# The loop body's own Python work (a step's time outside the data wait, the copy to the device,
# forward, backward and the optimizer step) at >= 30 % of step time is work to move out of the
# loop. A plain loop (zero_grad, a functional loss, logging) spends well under 20 % there on
# this project's CPU test model; the report that asked for this rule had 58 %.
LOOP_BODY = 0.30

# Fewer complete steps than this: too little was measured for a verdict.
MIN_STEPS = 10

# Worker start-up: the first batch of each pass over a loader waits >= 1 s on average, and those
# first batches hold >= 25 % of all the waiting (workers re-created every epoch).
STARTUP_WAIT_S = 1.0
STARTUP_SHARE = 0.25

# Worker advice only where the wait is worker throughput: when the workers (making batches,
# measured where they are made) could deliver a batch in less than half the loop's period per
# batch, and the unexplained wait is >= 2 ms, that wait is a per-batch cost outside the
# workers, named instead of "raise num_workers".
FIXED_COST_SHARE = 0.5
FIXED_COST_MIN_S = 0.002
# collate_fn taking >= 50 % of making a batch: collation is named.
COLLATE_SHARE = 0.5

# Gradient health, from the gradients' total L2 norm read before every 16th optimizer step.
# Vanishing: their root mean square (the norm over the square root of their count) below 1e-7
# from some sample to the last (it never recovered). 1e-7 is SageMaker Debugger's
# VanishingGradient default for the mean absolute value; the root mean square is never below
# the mean absolute value, so this fires only where that rule would, at a fifth of the cost
# (an L1 norm is one more read of every gradient, and the slower one).
GRAD_VANISH_RMS = 1e-7
# Exploding: a norm >= 1000 times the first step's. The first step's loss, and usually its
# gradient, is about the largest of a healthy run (both fall as it converges), so three orders
# of magnitude above it is not ordinary noise; the update (learning rate × gradient) is 1000
# times the one the learning rate was chosen for. Non-finite gradients are exploding too.
GRAD_EXPLODE_RATIO = 1000.0
# The explosion started at the first sample of the unbroken run of norms >= 10 times the first
# step's that led to it (one order of magnitude: where clipping would have begun to act).
GRAD_ONSET_RATIO = 10.0

# Fixes: how many loader workers to suggest at most (beyond ~16, returns fall and memory grows).
MAX_SUGGESTED_WORKERS = 16

VERDICTS = ("input-bound", "gpu-bound", "cpu-bound", "healthy", "unknown")


def as_dict() -> dict[str, float]:
    """All thresholds, for the report (a report read later says which numbers judged it)."""
    return {
        "input_bound": INPUT_BOUND,
        "input_notable": INPUT_NOTABLE,
        "gpu_bound": GPU_BOUND,
        "gpu_underused": GPU_UNDERUSED,
        "main_thread_busy": MAIN_THREAD_BUSY,
        "worker_busy": WORKER_BUSY,
        "cores_busy": CORES_BUSY,
        "loop_body": LOOP_BODY,
        "min_steps": MIN_STEPS,
        "startup_wait_s": STARTUP_WAIT_S,
        "startup_share": STARTUP_SHARE,
        "grad_vanish_rms": GRAD_VANISH_RMS,
        "grad_explode_ratio": GRAD_EXPLODE_RATIO,
        "grad_onset_ratio": GRAD_ONSET_RATIO,
    }


def pct(fraction: float) -> str:
    return f"{fraction * 100:.0f} %"
