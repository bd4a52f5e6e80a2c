"""dldoctor: a doctor for deep-learning machines."""

__version__ = "0.1.0"

# `import dldoctor; dldoctor.step()` marks a training step for `dldoctor profile` (a no-op
# otherwise); stdlib only, so a training script can keep the call.
from dldoctor.profilers.marker import step

__all__ = ["__version__", "step"]
