"""The Facts snapshot: everything gathered about one machine and one interpreter, as plain data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

JSON = dict[str, Any]

# runtime: what the frameworks said in their probe children (empty when none ran, as in reports
# written before probes existed).
SECTIONS = ("system", "python", "nvidia", "accelerators", "cuda", "packages", "env", "runtime")


@dataclass(frozen=True)
class Facts:
    """One serialisable snapshot. Each section is JSON-shaped; its shape is in the report schema.

    Facts never judge: a value that could not be gathered is ``None`` next to the reason, never
    an exception.
    """

    system: JSON = field(default_factory=dict)
    python: JSON = field(default_factory=dict)
    nvidia: JSON = field(default_factory=dict)
    accelerators: JSON = field(default_factory=dict)
    cuda: JSON = field(default_factory=dict)
    packages: JSON = field(default_factory=dict)
    env: JSON = field(default_factory=dict)
    runtime: JSON = field(default_factory=dict)

    def to_dict(self) -> JSON:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: JSON) -> Facts:
        return cls(**{name: dict(data.get(name) or {}) for name in SECTIONS})
