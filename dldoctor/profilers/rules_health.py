"""Profile findings on training health: a loss that became NaN/Inf (DD713), gradients that
exploded (DD715) or vanished (DD716), each with the step where it started.

One root cause, one finding: a diverging loss is DD713, with the gradients' rise as its
evidence; DD715 is for gradients that exploded while the loss stayed finite.
"""

from __future__ import annotations

from dldoctor.model import Finding, Fix, Severity
from dldoctor.profilers import thresholds as th
from dldoctor.profilers.rules import JSON, _finding, rule

# The same fixes in each framework's own words: PyTorch's, PaddlePaddle's, Keras'.
_CLIPPING = {
    "torch": "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0) before "
    "optimizer.step()",
    "paddle": "pass grad_clip=paddle.nn.ClipGradByGlobalNorm(clip_norm=1.0) to the optimizer",
    "tensorflow": "pass global_clipnorm=1.0 to the Keras optimizer",
}
_SCALER = {
    "torch": "torch.amp.GradScaler",
    "paddle": "paddle.amp.GradScaler",
    "tensorflow": "keras.optimizers.LossScaleOptimizer",
}
_INIT = {
    "torch": "torch.nn.init.kaiming_normal_",
    "paddle": "paddle.nn.initializer.KaimingNormal",
    "tensorflow": 'kernel_initializer="he_normal"',
}


def _framework(profile: JSON) -> str:
    """Whose fixes to give: torch's when torch was patched, else paddle's or TensorFlow's
    (Keras) when that one alone was, else torch's."""
    modules = {str(f.get("module", "")).split(".")[0] for f in profile.get("frameworks") or []}
    if "torch" in modules:
        return "torch"
    if "paddle" in modules:
        return "paddle"
    return "tensorflow" if modules & {"tensorflow", "keras"} else "torch"


def _learning_rate_and_clipping(profile: JSON) -> Fix:
    return Fix(
        summary="lower the learning rate (or warm it up), and clip gradients: "
        + _CLIPPING[_framework(profile)],
        notes="A loss that diverges to Inf/NaN is most often a learning rate too high for the "
        "batch size or exploding gradients.",
    )


def _loss_scaling(profile: JSON) -> Fix:
    return Fix(
        summary=f"under mixed precision, scale the loss ({_SCALER[_framework(profile)]}) or "
        "train in bfloat16",
        notes="float16 overflows at 65504: unscaled fp16 losses and gradients become Inf.",
    )


def _gradients(profile: JSON) -> JSON:
    return (profile.get("health") or {}).get("gradients") or {}


def _norm(value: float | str) -> str:
    return f"{value:.3g}" if isinstance(value, (float, int)) else str(value)


@rule("DD713", "loss-not-finite", "The loss became NaN or infinite during training")
def loss_not_finite(profile: JSON) -> list[Finding]:
    seen = (profile.get("health") or {}).get("nonfinite_loss")
    if not seen:
        return []
    every = seen.get("read_every") or 1
    if every > 1:  # a loss on a GPU, read at every Nth backward: it became so since the last
        when = (
            f"was found {seen['value']} at training step {seen['step']} (on the GPU it is "
            f"read once every {every} backward calls: it became so after the read before)"
        )
    else:
        when = f"became {seen['value']} at training step {seen['step']}"
    title = f"The loss {when}: the steps after it train nothing"
    evidence: JSON = {"nonfinite_loss": seen}
    onset = _gradients(profile).get("explosion_onset")
    if onset and onset["step"] <= seen["step"]:  # the same divergence, seen earlier
        title += f"; the gradient norm had been rising since step {onset['step']}"
        evidence["gradients"] = _gradients(profile)
    return [
        _finding(
            "DD713",
            Severity.WARNING,
            title,
            evidence,
            _learning_rate_and_clipping(profile),
            _loss_scaling(profile),
        )
    ]


@rule(
    "DD715",
    "gradients-exploding",
    f"The gradients' norm reached ≥ {th.GRAD_EXPLODE_RATIO:g}× the first step's, or became "
    "NaN/Inf, while the loss stayed finite",
)
def gradients_exploding(profile: JSON) -> list[Finding]:
    grads = _gradients(profile)
    if (profile.get("health") or {}).get("nonfinite_loss"):
        return []  # DD713: the loss diverged, this is its evidence
    bad, exploded = grads.get("nonfinite"), grads.get("exploded")
    onset = grads.get("explosion_onset") or bad or exploded
    if exploded:
        first, largest = grads["first"], grads.get("largest") or exploded
        title = (
            f"The gradient norm exploded to {_norm(largest['l2'])} at training step "
            f"{largest['step']}, {float(largest['l2']) / float(first['l2']):.0f}× the first "
            f"step's ({_norm(first['l2'])})"
        )
    elif bad:
        title = f"The gradients became {bad['l2']} at training step {bad['step']}"
    else:
        return []
    title += f"; it started at step {(onset or {}).get('step')}"
    fixes = [_learning_rate_and_clipping(profile)]
    if bad or grads.get("float16"):
        fixes.append(_loss_scaling(profile))
    return [_finding("DD715", Severity.WARNING, title, {"gradients": grads}, *fixes)]


@rule(
    "DD716",
    "gradients-vanishing",
    f"The gradients' root mean square fell below {th.GRAD_VANISH_RMS:g} and stayed "
    "there: the weights stop learning",
)
def gradients_vanishing(profile: JSON) -> list[Finding]:
    grads = _gradients(profile)
    start = grads.get("vanished_from")
    if not start or (profile.get("health") or {}).get("nonfinite_loss"):
        return []
    last = grads.get("last") or start
    title = (
        f"The gradients vanished from training step {start['step']}: their root mean square "
        f"is {_norm(last['rms'])} (below {th.GRAD_VANISH_RMS:g}), so the weights "
        "barely change"
    )
    fixes = (
        Fix(
            summary=f"under mixed precision, scale the loss ({_SCALER[_framework(profile)]})",
            notes="float16 flushes values below ~6e-8 to zero: small gradients vanish "
            "without loss scaling.",
        ),
        Fix(
            summary="let the gradient flow: normalisation layers (BatchNorm/LayerNorm), "
            "residual connections, ReLU-family activations instead of sigmoid/tanh, an "
            "initialisation scaled to each layer (" + _INIT[_framework(profile)] + ")",
            notes="Saturating activations and small initial weights shrink the gradient at "
            "every layer it passes back through.",
        ),
    )
    return [_finding("DD716", Severity.WARNING, title, {"gradients": grads}, *fixes)]
