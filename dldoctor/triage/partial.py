"""What every parser returns: the facts one pasted format shows, in the report's shape, and no more."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
# What tools print for a value they could not learn: unknown, never "none".
_UNKNOWN = re.compile(
    r"^(?:n/?a|none|null|unknown|could not collect|no cuda|not found|error.*|-+|\?)?$", re.I
)
_VERSION = re.compile(r"\d+(?:\.\d+)*(?:[.+-][0-9A-Za-z.+-]*)?")


@dataclass
class Partial:
    """The facts one format shows (sections as in Facts), what it was, and what it left unsaid.

    ``complete_listing``: the distributions are every one installed (pip list, pip freeze, conda
    list), not a selection (collect_env's "relevant libraries").
    """

    format: str
    facts: JSON = field(default_factory=dict)
    complete_listing: bool = False
    texts: list[str] = field(default_factory=list)  # error words to run the signatures over

    def put(self, path: str, value: Any) -> None:
        """Set the fact at a dotted path ("nvidia.driver_version"); None (unknown) is not set."""
        if value is None:
            return
        node = self.facts
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    def get(self, path: str) -> Any:
        node: Any = self.facts
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    def add_distribution(self, name: str, version: str | None, **extra: Any) -> None:
        dists = self.facts.setdefault("packages", {}).setdefault("distributions", [])
        dists.append({"name": name, "version": version or None, **extra})


def value(text: str | None) -> str | None:
    """A tool's printed value, or None when it printed one of its words for "could not learn"."""
    if text is None:
        return None
    text = text.strip()
    return None if _UNKNOWN.match(text) else text


def version(text: str | None) -> str | None:
    """The first version number in a printed value ("12.1.105", "535.104.05"), or None."""
    shown = value(text)
    match = _VERSION.search(shown) if shown else None
    return match.group(0) if match else None


def yes_no(text: str | None) -> bool | None:
    shown = (value(text) or "").lower()
    if shown in ("true", "yes"):
        return True
    if shown in ("false", "no"):
        return False
    return None
