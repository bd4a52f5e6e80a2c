"""Diagnostic accuracy on the public regression corpus (tests/cases/): top-1, findings, false claims.

Each case is judged by the real `dldoctor check --from <recorded report> --format json`.
Usage: python benchmarks/accuracy.py [--verbose]   (from the repository root)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.cases import corpus


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--verbose", "-v", action="store_true", help="one line per case")
    args = parser.parse_args()
    matrix = corpus.matrix()
    cases = corpus.all_cases()
    misses, claims, doubled, counts = [], [], [], []
    fully = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            _, report = corpus.judge(case, matrix, Path(tmp))
            verdict = corpus.verdict(case, report)
            counts.append(verdict.findings)
            fully += verdict.ok
            found = corpus.codes(report, "error", "warning")
            if not verdict.top_ok:
                want = "nothing" if case.expected.healthy else "/".join(case.expected.primary)
                misses.append(f"{case.name}: top {verdict.top}, want {want}; found {found}")
            if verdict.false_claims:
                claims.append(f"{case.name}: {', '.join(verdict.false_claims)}")
            if verdict.extra_errors:
                doubled.append(f"{case.name}: {verdict.extra_errors} extra error(s) in {found}")
            if args.verbose:
                mark = "ok  " if verdict.ok else "MISS"
                print(f"{mark} {case.name:55} top={verdict.top} found={found}")
    failures = [c for c in cases if not c.expected.healthy]
    healthy = len(cases) - len(failures)
    right = len(cases) - len(misses)
    print(f"cases: {len(cases)} ({len(failures)} real failures, {healthy} healthy machines)")
    print(f"top-1 accuracy: {right}/{len(cases)} = {100 * right / len(cases):.1f} %")
    print(
        f"findings per case (warnings + errors): median {statistics.median(counts):g}, "
        f"mean {statistics.mean(counts):.2f}, max {max(counts)}"
    )
    print(f"false claims: {len(claims)} cases")
    print(f"fully right (top, no false claim, one error per root cause): {fully}/{len(cases)}")
    print(f"cases with more than one error per root cause: {len(doubled)}")
    for title, rows in (("misses", misses), ("false claims", claims), ("doubled", doubled)):
        if rows:
            print(f"\n{title}:")
            for row in rows:
                print(f"  {row}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
