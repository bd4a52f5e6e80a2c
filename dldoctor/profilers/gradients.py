"""Gradient norms sampled every few optimizer steps, kept in constant memory: where they
exploded or vanished, and the step where that started."""

from __future__ import annotations

import math
from typing import Any

from dldoctor.profilers import thresholds as th

JSON = dict[str, Any]


class GradientNorms:
    """Online over the samples of one process: the first, the last, the largest, the first
    non-finite one, and the start of the current runs above the explosion's onset and below
    the vanishing threshold (a run that ends is forgotten: it recovered)."""

    def __init__(self) -> None:
        self.samples = 0
        self.half = False
        self.first: JSON | None = None
        self.last: JSON | None = None
        self.largest: JSON | None = None
        self.nonfinite: JSON | None = None
        self.exploded: JSON | None = None  # the first sample at the explosion ratio
        self.rising_from: JSON | None = None  # the start of the run above the onset ratio
        self.explosion_onset: JSON | None = None  # rising_from when it exploded
        self.vanishing_from: JSON | None = None  # the start of the run below the threshold

    def add(self, steps: tuple[int, int], call: int, l2: float, rms: float, half: bool) -> None:
        """One sample, in the step open now: ``steps`` as batches and as marks count them."""
        sample = {
            "batch_step": steps[0],
            "marked_step": steps[1],
            "optimizer_step": call,
            "l2": l2,
            "rms": rms,
        }
        self.samples += 1
        self.half = self.half or half
        self.last = sample
        if not (math.isfinite(l2) and math.isfinite(rms)):
            if self.nonfinite is None:
                self.nonfinite = sample
                self.explosion_onset = self.explosion_onset or self.rising_from or sample
            return
        if self.first is None:
            self.first = sample
        if self.largest is None or l2 > self.largest["l2"]:
            self.largest = sample
        reference = self.first["l2"]
        if reference > 0 and l2 >= th.GRAD_ONSET_RATIO * reference:
            self.rising_from = self.rising_from or sample
            if self.exploded is None and l2 >= th.GRAD_EXPLODE_RATIO * reference:
                self.exploded = sample
                self.explosion_onset = self.rising_from
        else:
            self.rising_from = None
        if rms < th.GRAD_VANISH_RMS:
            self.vanishing_from = self.vanishing_from or sample
        else:
            self.vanishing_from = None

    def to_dict(self) -> JSON:
        vanished = self.vanishing_from is not None and self.nonfinite is None
        return {
            "samples": self.samples,
            "float16": self.half,
            "first": self.first,
            "last": self.last,
            "largest": self.largest,
            "nonfinite": self.nonfinite,
            "exploded": self.exploded,
            "explosion_onset": self.explosion_onset,
            # Vanished: below the threshold from this sample to the last (it never recovered).
            "vanished_from": self.vanishing_from if vanished else None,
        }
