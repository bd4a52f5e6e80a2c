"""`dldoctor check --quick` on an environment of 60 and of 3000 distributions: the time ratio.

Each size is a fresh virtual environment (`python -m venv --without-pip`) whose site-packages
holds that many synthetic `.dist-info` distributions with real METADATA, RECORD and
top_level.txt files. Each distribution requires three others (one at a version it does not
have) and one that is not installed, and declares extra-only requirements as real wheels do, so
pip-check and the findings grow with the environment (a worst case: most real environments
have no unmet requirement at all). The runs alternate between the sizes;
figures are medians.

Usage: python benchmarks/bench_scale.py [--runs 7] [--sizes 60,3000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _metadata(i: int, n: int) -> str:
    """Four requirements of the shapes wheels use, their specifiers and markers varied."""
    lines = [
        "Metadata-Version: 2.1",
        f"Name: synth-pkg-{i:05d}",
        f"Version: 1.{i % 7}.{i % 11}",
        "Summary: a synthetic distribution",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: License :: OSI Approved :: MIT License",
        f"Requires-Dist: synth-pkg-{(i + 1) % n:05d}>=1.{i % 5}",
        f"Requires-Dist: Synth_Pkg.{(i + 7) % n:05d}",
        f"Requires-Dist: synth-pkg-{(i + 13) % n:05d}<3,>=1.{(i * 3) % 7}.{i % 4}",
        f'Requires-Dist: synth-missing-{i:05d}; python_version >= "3.{i % 9}"',
        f'Requires-Dist: pytest>={i % 8}; extra == "test"',
        'Requires-Dist: sphinx; extra == "docs"',
        "",
        "A long description, as real wheels carry one.",
    ]
    return "\n".join(lines) + "\n"


def build_env(root: Path, n: int) -> Path:
    """A venv at root with n synthetic distributions in its site-packages; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    site = Path(purelib)
    for i in range(n):
        module = f"synth_pkg_{i:05d}"
        info = site / f"synth_pkg_{i:05d}-1.{i % 7}.{i % 11}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(_metadata(i, n), encoding="utf-8")
        (info / "INSTALLER").write_text("pip\n", encoding="utf-8")
        (info / "top_level.txt").write_text(module + "\n", encoding="utf-8")
        record = [f"{module}/__init__.py,,", f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]
        (info / "RECORD").write_text("\n".join(record) + "\n", encoding="utf-8")
        (site / module).mkdir()
        (site / module / "__init__.py").write_text("", encoding="utf-8")
    return python


def measure(argv: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (the process tree's user + system), and the exit code."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    wall_s = time.perf_counter() - start
    return wall_s, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default="60,3000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="dldoctor-scale-") as tmp:
        pythons = {n: build_env(Path(tmp) / f"env{n}", n) for n in sizes}
        argv = {
            n: [sys.executable, "-m", "dldoctor", "check", "--quick", "--python", str(p)]
            for n, p in pythons.items()
        }
        for n in sizes:  # warm the page cache and bytecode once, unmeasured
            measure(argv[n])
        walls: dict[int, list[float]] = {n: [] for n in sizes}
        cpus: dict[int, list[float]] = {n: [] for n in sizes}
        codes: dict[int, set[int]] = {n: set() for n in sizes}
        for round_ in range(args.runs):
            order = sizes if round_ % 2 == 0 else sizes[::-1]
            for n in order:
                wall, cpu, code = measure(argv[n])
                walls[n].append(wall)
                cpus[n].append(cpu)
                codes[n].add(code)
    print(
        f"{'distributions':>13} {'median wall s':>14} {'min wall s':>11} {'median CPU s':>13}  exit"
    )
    for n in sizes:
        median = statistics.median(walls[n])
        cpu = statistics.median(cpus[n])
        print(f"{n:>13} {median:>14.3f} {min(walls[n]):>11.3f} {cpu:>13.3f}  {sorted(codes[n])}")
    small, large = sizes[0], sizes[-1]
    for what, figures in (("wall-time", walls), ("CPU-time", cpus)):
        ratio = statistics.median(figures[large]) / statistics.median(figures[small])
        print(f"{large} / {small} distributions {what} ratio: {ratio:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
