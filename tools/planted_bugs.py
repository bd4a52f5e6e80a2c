"""Plant each bug the suite once let through (issue 20), run the boundary tests, and revert.

    python tools/planted_bugs.py        # prints one line per bug: caught / MISSED

Each bug is a one-line textual change to the code; the file is restored whatever happens.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = [
    "tests/checks/test_bounds_driver.py",
    "tests/checks/test_bounds_arch.py",
    "tests/checks/test_bounds_libs.py",
    "tests/checks/test_bounds_versions.py",
    "tests/checks/test_bounds_builds.py",
    "tests/fixes/test_bounds_fixes.py",
    "tests/profilers/test_verdict_bounds.py",
]
# (what the bug does, file, text, replacement)
BUGS = [
    (
        "a ROCm torch called CPU-only",
        "dldoctor/checks/builds.py",
        'if build.get("cuda") or build.get("hip"):',
        'if build.get("cuda"):',
    ),
    (
        "a driver exactly at its floor warned",
        "dldoctor/checks/compat_driver.py",
        "if full and driver >= Version(full):",
        "if full and driver > Version(full):",
    ),
    (
        "Windows driver floors replaced by Linux ones",
        "dldoctor/checks/compat_driver.py",
        'key = "windows" if _windows(facts) else "linux"',
        'key = "linux"',
    ),
    (
        "a Tesla T4 (7.5) refused by the CUDA 13 JAX plugin",
        "dldoctor/checks/compat_arch.py",
        "or minimum) < minimum",
        "or minimum) <= minimum",
    ),
    (
        "only the first GPU judged",
        "dldoctor/checks/compat_arch.py",
        "        for gpu in gpus:\n",
        "        for gpu in gpus[:1]:\n",
    ),
    (
        "an ldconfig copy of cuDNN blamed on LD_LIBRARY_PATH",
        "dldoctor/checks/compat_libs.py",
        'entry.get("source") != "LD_LIBRARY_PATH"',
        'entry.get("source") not in ("LD_LIBRARY_PATH", "ldconfig")',
    ),
    (
        "DD504's JAX cuDNN verdict inverted",
        "dldoctor/checks/compat_libs.py",
        "if not accepted.contains(found, prereleases=True):",
        "if accepted.contains(found, prereleases=True):",
    ),
    (
        "a JAX plugin newer than jaxlib no longer flagged",
        "dldoctor/checks/compat_versions.py",
        "version is not None and version != jaxlib",
        "version is not None and version < jaxlib",
    ),
    (
        "tensorflow-cpu dropped from the NumPy 2 rule",
        "dldoctor/checks/compat_versions.py",
        '    ("tensorflow-cpu", "tensorflow", "TensorFlow"),\n',
        "",
    ),
    (
        "DD501 shows a re-rendered driver version",
        "dldoctor/checks/compat_driver.py",
        '"driver": shown,',
        '"driver": str(driver),',
    ),
    (
        "the GPU-bound threshold moved",
        "dldoctor/profilers/analysis.py",
        "busy >= th.GPU_BOUND",
        "busy > th.GPU_BOUND",
    ),
    (
        "multi-GPU busy summed instead of averaged",
        "dldoctor/profilers/analysis.py",
        "busy = sum(fractions) / len(fractions) if fractions else None",
        "busy = fractions[0] if fractions else None",
    ),
    (
        "uv's --reinstall dropped",
        "dldoctor/fixes/installers/uv.py",
        'again = ("--reinstall",) if intent.reinstall else ()',
        "again = ()",
    ),
    (
        "pip's --force-reinstall dropped",
        "dldoctor/fixes/installers/pip.py",
        'again = ("--force-reinstall",) if intent.reinstall else ()',
        "again = ()",
    ),
]


def run_one(what: str, relative: str, old: str, new: str) -> bool:
    path = ROOT / relative
    if not path.is_file():
        print(f"SKIPPED  {what}: {relative} is gone (code moved)")
        return True
    original = path.read_text(encoding="utf-8")
    if original.count(old) != 1:
        print(f"SKIPPED  {what}: the text to change is not in {relative} once (code moved)")
        return True
    try:
        path.write_text(original.replace(old, new), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *TESTS],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        path.write_text(original, encoding="utf-8")
    caught = result.returncode != 0
    print(f"{'caught' if caught else 'MISSED'}   {what}")
    return caught


def main() -> int:
    results = [run_one(*bug) for bug in BUGS]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
