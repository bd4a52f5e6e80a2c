"""Modules another child probes, imported here in passing only if they failed there (stdlib, 3.6+)."""

# Runs inside the probe child (see harness.py), loaded from the parent's arguments: standard
# library only, Python 3.6 syntax. TensorFlow's import and Keras 3's import each import JAX when
# it is installed (inside `try/except ImportError`), and JAX is probed in a child of its own: that
# second import is 1.2-1.9 s of TensorFlow's child here, its critical path. The other child's
# verdict decides. Imported fine there: here it reads as not installed, which both frameworks
# handle (they only lose their JAX conversions, which no probe uses). Failed there, or no verdict
# in time: imported here for real, so a JAX that breaks `import tensorflow` breaks it here too.
import json
import sys
import time
from typing import Any, Dict, List, Optional

WAIT_S = 20.0  # for the other child's verdict; then the import happens here, as a user's would
POLL_S = 0.02


class Deferred:
    """A meta path finder for the top-level modules named in ``verdicts`` (module → the file
    the parent writes the other child's verdict to)."""

    def __init__(self, verdicts: Dict[str, str], wait_s: float = WAIT_S) -> None:
        self.verdicts = {str(k): str(v) for k, v in verdicts.items()}
        self.wait_s = wait_s
        self.decided = {}  # type: Dict[str, bool]
        self.left_out = []  # type: List[str]  # since the last take()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self.verdicts or name in sys.modules:
            return None
        if name not in self.decided:
            self.decided[name] = imported_fine(self.verdicts[name], self.wait_s)
        if not self.decided[name]:
            return None  # the ordinary finders import it
        if name not in self.left_out:
            self.left_out.append(name)
        # What importing a module that is not installed raises: the frameworks' own handling.
        raise ModuleNotFoundError("No module named %r (probed in its own child)" % name, name=name)

    def take(self) -> List[str]:
        """The modules left out since the last call (the job that just ran asked for them)."""
        taken, self.left_out = self.left_out, []
        return taken


def imported_fine(path: str, wait_s: float) -> bool:
    """Whether the other child imported the module: its verdict, waited for up to ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        verdict = _read(path)
        if verdict is not None:
            return verdict.get("ok") is True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)


def _read(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            verdict = json.loads(f.read(4096))
    except (OSError, ValueError):
        return None  # not written yet (the parent replaces it whole)
    return verdict if isinstance(verdict, dict) else {}


def install(verdicts: Dict[str, str], wait_s: Any = None) -> Deferred:
    """``wait_s``: the parent's bound (a part of the probe's timeout), else WAIT_S."""
    bound = float(wait_s) if isinstance(wait_s, (int, float)) and wait_s >= 0 else WAIT_S
    finder = Deferred(verdicts, bound)
    sys.meta_path.insert(0, finder)
    return finder
