"""Mutation score of the judging code, with mutmut: how many planted bugs the fast tests catch.

Slow (minutes to an hour on two cores), so never part of CI. It copies the tracked tree into a
scratch folder, configures mutmut there (the repository keeps no mutmut state), mutates the
chosen parts and runs only the fast, framework-free tests against each mutant:

    PYTHONPATH=. python benchmarks/mutation.py                    # every part, one worker
    PYTHONPATH=. python benchmarks/mutation.py --part matrix -j 2  # one part first
    PYTHONPATH=. python benchmarks/mutation.py --survivors         # and list what survived
    PYTHONPATH=. python benchmarks/mutation.py --part checks --keep DIR --files dldoctor/checks/driver.py
    PYTHONPATH=. python benchmarks/mutation.py --part checks --keep DIR --again  # after new tests
    PYTHONPATH=. python benchmarks/mutation.py --part checks --per-module --keep DIR -j 2
    PYTHONPATH=. python benchmarks/mutation.py --part checks --per-module --keep DIR --again --wide

``--per-module`` mutates each source file of the part in its own folder under ``--keep``, judged
only by the test files that import it or name its codes (``mutation_select.own_tests``; for the
fixes, all of ``tests/fixes`` too): a full run of checks and fixes in hours instead of a day. A
narrower selection can only miss kills, so its score is a lower bound; ``--again --wide``
re-judges the survivors with the part's whole selection.

Prints the score per part and, with --survivors, each surviving mutant's name (``mutmut show
NAME`` in the scratch folder prints its diff). Figures are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.mutation_select import own_tests, test_files

ROOT = Path(__file__).resolve().parent.parent
PARTS = {  # part -> (what mutmut mutates, the fast tests that judge it)
    "checks": (
        ["dldoctor/checks/*"],
        ["tests/checks", "tests/report/test_golden.py"],
    ),
    "fixes": (
        ["dldoctor/fixes/*"],
        ["tests/fixes", "tests/checks"],
    ),
    "matrix": (
        ["dldoctor/matrix/rules.py"],
        ["tests/checks/test_bounds_arch.py", "tests/checks/test_bounds_driver.py", "tests/fixes"],
    ),
    "profilers": (  # the profile's judging: figures from what was collected, verdict, findings, gates
        [
            "dldoctor/profilers/analysis.py",
            "dldoctor/profilers/jobs.py",
            "dldoctor/profilers/rules.py",
            "dldoctor/profilers/rules_steps.py",
            "dldoctor/profilers/gate.py",
        ],
        [
            "tests/profilers/test_verdict_bounds.py",
            "tests/profilers/test_analysis_session.py",
            "tests/profilers/test_rules.py",
            "tests/profilers/test_gate.py",
            "tests/profilers/test_rules_bounds.py",
            "tests/profilers/test_analysis_jobs.py",
            "tests/profilers/test_analysis_fields.py",
            "tests/profilers/test_findings_golden.py",
            "tests/profilers/test_analysis_health.py",
            "tests/profilers/test_analysis_figures.py",
        ],
    ),
}
TARGETS = {"checks": 85.0, "fixes": 85.0, "matrix": 85.0, "profilers": 75.0}
KILLED = {"killed", "timeout", "segfault", "suspicious"}  # a test run that did not pass


def undecorate(source: str) -> str:
    """``source`` with each decorated module-level function written undecorated, its decorators
    applied by an assignment right after it: ``@check(...) def f`` becomes ``def f`` then
    ``f = check(...)(f)``, the same function registered the same way. mutmut 3 never mutates a
    decorated function, so without this every check (``@check``) and profile rule (``@rule``)
    would be left out of the score."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits = []  # (first decorator line, def line, last line, assignment), 1-based
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.decorator_list:
            applied = node.name
            for decorator in reversed(node.decorator_list):
                applied = f"({ast.get_source_segment(source, decorator)})({applied})"
            first = node.decorator_list[0].lineno
            edits.append(
                (first, node.lineno, node.end_lineno or node.lineno, f"{node.name} = {applied}\n")
            )
    for first, start, end, assignment in reversed(edits):
        lines[end:end] = ["\n", assignment]
        del lines[first - 1 : start - 1]
    return "".join(lines)


def prepare(
    work: Path, parts: list[str], files: list[str] | None = None, tests: list[str] | None = None
) -> None:
    """The tracked files (and this tree's uncommitted edits) in ``work``, with mutmut's config;
    ``files`` narrows what is mutated to those source files (a subset first)."""
    tracked = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    mutate = files or [p for part in parts for p in PARTS[part][0]]
    for name in tracked:
        source = ROOT / name
        if source.is_file():
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            if name.endswith(".py") and any(fnmatch.fnmatch(name, p) for p in mutate):
                target.write_text(undecorate(source.read_text(encoding="utf-8")), encoding="utf-8")
    configure(work, parts, files, tests)


def configure(
    work: Path, parts: list[str], files: list[str] | None = None, tests: list[str] | None = None
) -> None:
    """mutmut's configuration in ``work``: what it mutates, the tests that judge it (``tests``,
    else the parts' whole selection)."""
    mutate = files or [p for part in parts for p in PARTS[part][0]]
    tests = tests or sorted({t for part in parts for t in PARTS[part][1]})
    lines = [
        "[mutmut]",
        "source_paths = dldoctor",
        "only_mutate =",
        *(f"    {p}" for p in mutate),
        "also_copy =",
        "    compat_matrix",
        "    tests",
        "pytest_add_cli_args_test_selection =",
        *(f"    {t}" for t in tests),
        "pytest_add_cli_args =",
        "    -p",
        "    no:cacheprovider",
        "    -p",
        "    no:xdist",
        "    -q",
    ]
    (work / "setup.cfg").write_text("\n".join(lines) + "\n", encoding="utf-8")


def results(work: Path) -> dict[str, str]:
    """mutant name -> status, as ``mutmut results --all true`` lists them."""
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name:
            found[name] = status.strip()
    return found


def module_of(mutant: str) -> str:
    """``dldoctor.checks.driver`` of ``dldoctor.checks.driver.x_check__mutmut_3`` (or a method's)."""
    return mutant.split(".x_")[0].split(".xǁ")[0]


def score(counts: Counter[str]) -> tuple[int, int, float]:
    """(killed, judged, percent killed): skipped and unchecked mutants are not judged."""
    total = sum(n for s, n in counts.items() if s not in ("skipped", "not checked"))
    killed = sum(n for s, n in counts.items() if s in KILLED)
    return killed, total, 100.0 * killed / total if total else 0.0


def part_of(mutant: str) -> str:
    module = module_of(mutant)
    for part, (patterns, _) in PARTS.items():
        for pattern in patterns:
            stem = pattern.removesuffix("*").removesuffix(".py").replace("/", ".")
            if module.startswith(stem.rstrip(".")):
                return part
    return "other"


def judge(
    work: Path,
    parts: list[str],
    jobs: int,
    files: list[str] | None = None,
    tests: list[str] | None = None,
    again: bool = False,
    sample: str = "",
) -> tuple[dict[str, str], bool]:
    """Run mutmut in ``work``; (mutant -> status, whether mutmut itself failed). With ``again``,
    only the earlier run's survivors are re-judged, with the tests copied anew; with ``sample``
    (last digits, "147"), only the mutants whose number ends in one of them (a systematic
    sample: every function's mutants, ~10 % a digit; the others stay "not checked")."""
    work.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    saved = work / "statuses.json"  # the last run's verdicts: mutmut forgets them when the
    before: dict[str, str] = {}  # test selection changes, and adding tests un-kills nothing
    if again:  # only tests were added: the mutants stand, the survivors are judged again
        before = json.loads(saved.read_text(encoding="utf-8")) if saved.exists() else results(work)
        names = sorted(n for n, s in before.items() if s in ("survived", "no tests"))
        if not names:
            return before, False
        for folder in (work / "tests", work / "mutants" / "tests"):
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(ROOT / "tests", folder, ignore=shutil.ignore_patterns("__pycache__"))
        refresh(work, files or [p for part in parts for p in PARTS[part][0]])
        configure(work, parts, files, tests)
    else:
        prepare(work, parts, files, tests)
        names = [f"*__mutmut_*[{sample}]"] if sample else []
    (work / "selection.json").write_text(json.dumps(tests or "whole part"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs), *names],
        cwd=work,
        env=env,
        check=False,
    )
    now = results(work)  # a re-run stopped early leaves the rest "not checked": keep theirs
    statuses = {**before, **{n: s for n, s in now.items() if not before or n in names}}
    statuses.update({n: before[n] for n in names if statuses.get(n) == "not checked"})
    saved.write_text(json.dumps(statuses, indent=0, sort_keys=True), encoding="utf-8")
    return statuses, run.returncode != 0


def refresh(work: Path, mutated: list[str]) -> None:
    """The sources that are not mutated, as they are now: new tests may use code written since
    the mutants were made (they would fail to import against the old copy, and mutmut would
    judge nothing). A mutated file that changed since makes its mutants stale: said, kept."""
    for source in sorted((ROOT / "dldoctor").rglob("*.py")):
        name = str(source.relative_to(ROOT))
        if any(fnmatch.fnmatch(name, p) for p in mutated):
            made = work / name
            if made.exists() and made.read_text(encoding="utf-8") != undecorate(
                source.read_text(encoding="utf-8")
            ):
                print(f"{name} changed since its mutants were made: judge it anew", flush=True)
            continue
        for copy in (work / name, work / "mutants" / name):
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)


def modules_of(part: str, files: list[str] | None) -> list[str]:
    """The source files of ``part`` (or the given ``files``), each mutated on its own."""
    found = files or sorted(  # "dldoctor/fixes/*" holds a package too (fixes/installers)
        str(f.relative_to(ROOT))
        for p in PARTS[part][0]
        for f in sorted(ROOT.glob(p)) + sorted(ROOT.glob(p + "/*.py"))
    )
    return [f for f in found if f.endswith(".py") and (ROOT / f).stat().st_size]


def own_selection(part: str, module: str) -> list[str]:
    """The tests that judge ``module`` on its own: ``mutation_select.own_tests`` over the part's
    test files (all of ``tests/fixes`` for a fix, they are fast); the part's whole selection
    where none is found."""
    candidates = test_files(ROOT, PARTS[part][1])
    chosen = set(own_tests(ROOT, module, candidates))
    if part == "fixes":
        chosen.update(test_files(ROOT, ["tests/fixes"]))
    return sorted(chosen) or candidates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("-j", "--max-children", type=int, default=1)
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--files", nargs="+", help="mutate only these source files of the part")
    parser.add_argument(
        "--again",
        action="store_true",
        help="in the --keep folder of an earlier run: copy the tests anew, re-run its survivors",
    )
    parser.add_argument(
        "--per-module",
        action="store_true",
        help="each source file in its own folder, judged by its own tests (a lower bound)",
    )
    parser.add_argument(
        "--wide", action="store_true", help="with --per-module --again: the part's whole selection"
    )
    parser.add_argument(
        "--sample",
        default="",
        help="judge only the mutants whose number ends in these digits ('147': ~30 %%)",
    )
    parser.add_argument(
        "--report", action="store_true", help="with --keep: print the saved verdicts, run nothing"
    )
    args = parser.parse_args(argv)
    parts = list(PARTS) if args.part == "all" else [args.part]
    work = args.keep or Path(tempfile.mkdtemp(prefix="dldoctor-mutation-"))
    statuses: dict[str, str] = {}
    failed = False
    if args.report:
        for saved in sorted(work.glob("**/statuses.json")):
            if "mutants" not in saved.parts:
                statuses.update(json.loads(saved.read_text(encoding="utf-8")))
    elif args.per_module:
        for part in parts:
            for module in modules_of(part, args.files):
                tests = None if args.wide else own_selection(part, module)
                print(f"\n== {module}: {len(tests) if tests else 'all'} test files", flush=True)
                found, bad = judge(
                    work
                    / part
                    / ".".join(Path(module).with_suffix("").parts[2:]),  # installers.pip
                    [part],
                    args.max_children,
                    [module],
                    tests,
                    args.again,
                    args.sample,
                )
                statuses.update(found)
                failed |= bad
    else:
        statuses, failed = judge(
            work, parts, args.max_children, args.files, None, args.again, args.sample
        )
    failed |= not statuses
    by_part: dict[str, Counter[str]] = {}
    by_module: dict[str, Counter[str]] = {}
    for name, status in statuses.items():
        by_part.setdefault(part_of(name), Counter())[status] += 1
        by_module.setdefault(module_of(name), Counter())[status] += 1
    print(f"\nmutmut in {work}")
    for part in parts:
        counts = by_part.get(part, Counter())
        killed, total, percent = score(counts)
        failed |= percent < TARGETS[part]
        detail = ", ".join(f"{s} {n}" for s, n in sorted(counts.items()))
        print(
            f"{part:10} {percent:5.1f} % killed ({killed}/{total}; target {TARGETS[part]:.0f} %): {detail}"
        )
        for module, found in sorted(by_module.items()):
            if part_of(module + ".x_") == part:
                killed, total, percent = score(found)
                print(
                    f"  {module:40} {percent:5.1f} % ({killed}/{total}), survived {found['survived']}"
                    f", no tests {found['no tests']}"
                )
    if args.survivors:
        for name, status in sorted(statuses.items()):
            if status in ("survived", "no tests"):
                print(f"  {status} {name}")
    if not args.keep:
        print("(scratch folder kept for `mutmut show NAME`; delete it when done)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
