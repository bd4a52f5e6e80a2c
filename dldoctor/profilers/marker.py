"""``dldoctor.step()``: mark a training step in loops the automatic hooks can't see.

Stdlib only and a no-op outside ``dldoctor profile``, so a script can keep the call.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: the profiled child never imports typing (start-up)
if TYPE_CHECKING:
    from typing import Callable

# Set by the profiling bootstrap inside the profiled interpreter; None everywhere else.
_hook: Callable[[], None] | None = None


def step() -> None:
    """Mark the end of one training step (call it once per iteration of the training loop).

    Under ``dldoctor profile`` the steps are then counted from these calls rather than from
    batch fetches; ``--steps N`` stops after N of them. Elsewhere this does nothing.
    """
    if _hook is not None:
        _hook()
