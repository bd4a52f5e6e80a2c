"""Unknown facts: how checks read a fact that may not be known, and stop judging when it is not.

The convention, for every section of Facts and every report (schema 1.2 and later):

- ``None`` (JSON ``null``) means **unknown**: dldoctor could not learn the value (the section's
  ``errors`` says why, where it tried), or the report predates the field, or a paste left it out.
  A key missing from a facts object reads as unknown too, and so does a missing section.
- **Absent** is a value: an empty list or object ("no GPUs"), ``False`` for a yes/no fact, and
  ``False`` for a single value that names something that does not exist here (pip not installed,
  no nvcc on PATH, no cgroup memory limit, not in a container, no driver bound to a device).
- Explanations (``error``, ``errors``, ``evidence``, ``detail``, ``reason``) are not facts: ``None``
  there means "nothing to explain".

A check asks with :func:`need` for each input it cannot judge without; an unknown one raises
:class:`Unknown`, which the registry records as the check's outcome "not judged: <fact> unknown"
instead of a finding. :func:`known` returns ``None`` for an unknown without stopping the check.
"""

from __future__ import annotations

import re
from typing import Any

from dldoctor.facts.model import Facts

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class Unknown(Exception):
    """A fact a check needs is unknown: the check cannot judge (``path`` names the fact)."""

    def __init__(self, path: str, why: str = "") -> None:
        self.path = path
        self.why = why
        verb = "are" if " and " in path else "is"  # "a, b and c": several facts, one reason
        super().__init__(f"{path} {verb} unknown" + (f" ({why})" if why else ""))


def known(facts: Facts, path: str) -> Any:
    """The fact at a dotted path ("nvidia.nvml.status", "system.wsl.is_wsl"), or None if unknown.

    A list index may be a path part ("nvidia.gpus.0.name"). ``False`` (absent) is returned as is.
    """
    section, _, rest = path.partition(".")
    node: Any = getattr(facts, section)
    for part in rest.split(".") if rest else ():
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
        if node is None:
            return None
    return node


def need(facts: Facts, path: str) -> Any:
    """The fact at a dotted path; raises Unknown (the check is not judged) when it is unknown."""
    value = known(facts, path)
    if value is None:
        raise Unknown(path, _reason(facts, path))
    return value


def need_value(value: Any, path: str) -> Any:
    """``value`` itself, read by the caller from a record; raises Unknown when it is None."""
    if value is None:
        raise Unknown(path)
    return value


def _reason(facts: Facts, path: str) -> str:
    """Why a fact is unknown, from the nearest ``errors`` its gatherer wrote (bounded, one line)."""
    parts = path.split(".")
    for depth in range(len(parts) - 1, 0, -1):
        errors = known(facts, ".".join([*parts[:depth], "errors"]))
        field = ".".join(parts[depth:])
        text = None
        if isinstance(errors, dict):
            text = errors.get(field) or errors.get(parts[depth])
        elif isinstance(errors, list):
            prefix = f"{field}:"
            text = next((e for e in errors if isinstance(e, str) and e.startswith(prefix)), None)
        if isinstance(text, str) and text:
            # Read from facts (maybe a hostile report): no control or escape characters, bounded.
            return " ".join(_CONTROL.sub(" ", text).split())[:200]
    return ""
