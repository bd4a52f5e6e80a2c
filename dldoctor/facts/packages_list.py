"""The interesting-distribution list from packages.toml, as interpreter.gather arguments."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib

PACKAGES_TOML = Path(__file__).resolve().parent.parent / "compat_matrix" / "packages.toml"


def gather_arguments(path: Path = PACKAGES_TOML) -> dict[str, Any]:
    """The keyword arguments of ``interpreter.gather``, JSON-serialisable.

    In process: ``gather(**args)``; in another interpreter: ``json.dumps(args)`` is its argument.

    Raises ValueError naming the problem when the shipped data file is malformed.
    """
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path.name}: {exc}") from exc
    packages = data.get("package", [])
    for i, row in enumerate(packages):
        for key in ("name", "role", "import"):
            if not isinstance(row.get(key), str):
                raise ValueError(f"{path.name} package #{i + 1}: '{key}' must be a string")
    wheels = data.get("nvidia_wheels", {})
    return {
        "interesting": [dict(row) for row in packages],
        "nvidia_prefixes": [str(p) for p in wheels.get("prefixes", [])],
        "nvidia_exclude": [str(e) for e in wheels.get("exclude", [])],
    }
