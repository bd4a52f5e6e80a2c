"""Reach every Python process the script starts: a FIFO they write to and a bootstrap they inherit.

Launchers (``torchrun``, ``torch.multiprocessing.spawn``, ``accelerate``, ``deepspeed``,
Lightning's DDP) start new interpreters that never see the script's private pipe. So dldoctor
makes a private directory (mode 0700) holding a FIFO and a ``sitecustomize.py``, puts the
directory first on ``PYTHONPATH`` and names the FIFO in ``DLDOCTOR_PROFILE_TREE``: every
descendant interpreter that honours ``PYTHONPATH`` (not ``-I``/``-E``/``-S``) imports the
bootstrap at start-up, which takes its directory off ``sys.path``, starts a recorder writing
to the FIFO (``child/spawned.py``) and then imports the ``sitecustomize`` it shadows, if any.
Lines stay below ``PIPE_BUF``, so writes from many ranks never interleave.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

ENV = "DLDOCTOR_PROFILE_TREE"
_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent.parent)

# Python 2 and 3.x syntax alike: PYTHONPATH is read by every interpreter the script starts.
_SITECUSTOMIZE = """\
# Written by `dldoctor profile` for the run it profiles; removed when the run ends.
import sys
_DIR = {directory!r}
_PACKAGE_PARENT = {package_parent!r}
try:
    while _DIR in sys.path:
        sys.path.remove(_DIR)
    if sys.version_info >= (3, 8):
        sys.path.append(_PACKAGE_PARENT)
        try:
            from dldoctor.profilers.child import spawned as _spawned
        finally:
            if sys.path and sys.path[-1] == _PACKAGE_PARENT:
                sys.path.pop()
        _spawned.start()
except Exception:
    pass
# The sitecustomize this file shadows, imported as site.py would have: it takes this module's
# place in sys.modules. With none, this import fails as a missing sitecustomize does (site.py
# ignores that ImportError), so the script finds no sitecustomize module, as in a plain run.
sys.modules.pop("sitecustomize", None)
try:
    import sitecustomize
except ImportError as _exc:
    if getattr(_exc, "name", "sitecustomize") != "sitecustomize":
        raise
    _missing = ImportError("No module named 'sitecustomize'")
    _missing.name = "sitecustomize"
    raise _missing
"""


@dataclass
class Tree:
    directory: Path
    fifo: Path
    read_fd: int
    hold_fd: int  # a write end dldoctor keeps, so the FIFO never reads EOF between writers

    def env(
        self, base: dict[str, str], steps: int | None, duration_s: float | None, t0: float
    ) -> dict[str, str]:
        """``base`` with the bootstrap first on PYTHONPATH and the FIFO named for descendants."""
        config = {"fifo": str(self.fifo), "steps": steps, "duration_s": duration_s, "t0": t0}
        path = base.get("PYTHONPATH")
        python_path = str(self.directory) + (os.pathsep + path if path else "")
        return {**base, "PYTHONPATH": python_path, ENV: json.dumps(config)}

    def release(self) -> None:
        """Once the script has ended: let go of dldoctor's write end, so that the FIFO reads
        EOF as soon as the last descendant holding it has gone (no wait for it to be quiet)."""
        if self.hold_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.hold_fd)
            self.hold_fd = -1

    def close(self) -> None:
        self.release()
        with contextlib.suppress(OSError):
            os.close(self.read_fd)
        shutil.rmtree(self.directory, ignore_errors=True)


def open_tree() -> Tree | None:
    """The directory, FIFO and bootstrap; None where FIFOs don't exist (then only the script
    itself and what it forks are measured)."""
    if not hasattr(os, "mkfifo"):
        return None
    directory = Path(tempfile.mkdtemp(prefix="dldoctor-profile-"))
    try:
        fifo = directory / "events"
        os.mkfifo(fifo, 0o600)
        text = _SITECUSTOMIZE.format(directory=str(directory), package_parent=_PACKAGE_PARENT)
        (directory / "sitecustomize.py").write_text(text, encoding="utf-8")
        read_fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        hold_fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        shutil.rmtree(directory, ignore_errors=True)
        return None
    with contextlib.suppress(AttributeError, OSError):
        import fcntl

        fcntl.fcntl(read_fd, 1031, 1 << 20)  # F_SETPIPE_SZ: 1 MiB, shared by every writer
    return Tree(directory, fifo, read_fd, hold_fd)
