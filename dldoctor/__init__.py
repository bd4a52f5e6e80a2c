"""dldoctor: a doctor for deep-learning machines."""

__version__ = "0.1.0"

# `import dldoctor; dldoctor.step()` marks a training step for `dldoctor profile` (a no-op
# otherwise); stdlib only, so a training script can keep the call.
from dldoctor.profilers.marker import step

# Not typing's: `import dldoctor` (a training script's, the profiled child's) imports no typing.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dldoctor.notebook import Checked

__all__ = ["__version__", "check", "step"]


def check(**options: "Any") -> "Checked":  # a string: no future import in this module
    """Judge this machine as `dldoctor check` does; in a notebook the result shows inline.

    Options as the command's: ``python``, ``quick``, ``full``, ``frameworks``, ``timeout_s``,
    ``redact``. Imported here, not above: a training script's `import dldoctor` stays cheap.
    """
    from dldoctor.notebook import check as run

    return run(**options)
