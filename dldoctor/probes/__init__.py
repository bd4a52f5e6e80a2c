"""Runtime probes: each framework, in its own child process, says what it sees and computes."""

from __future__ import annotations

from typing import Any


def skipped(reason: str) -> dict[str, Any]:
    """The runtime section when no probe ran (``--quick``); here so that --quick imports no
    probe machinery."""
    return {"ran": False, "reason": reason, "frameworks": {}}
