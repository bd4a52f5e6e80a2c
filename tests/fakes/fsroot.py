"""Building fake machine roots: files at absolute machine paths under a temporary directory."""

from __future__ import annotations

import stat
from pathlib import Path


def write(root: Path, path: str, text: str = "") -> Path:
    """Write ``text`` at machine path ``path`` (``/proc/cpuinfo``) under ``root``."""
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def script(root: Path, path: str, body: str) -> Path:
    """An executable shell script at machine path ``path`` under ``root`` (a fake command)."""
    target = write(root, path, "#!/bin/sh\n" + body)
    target.chmod(target.stat().st_mode | stat.S_IEXEC)
    return target
