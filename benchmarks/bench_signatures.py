"""How long the signature engine takes on hostile text: each pattern on 64 KiB built to make a
backtracking regex slow (long runs of the characters it repeats), and on a real-sized log.

    python benchmarks/bench_signatures.py     # prints the slowest patterns; exit 1 above 0.25 s
"""

from __future__ import annotations

import sys
import time

from dldoctor.matrix import load
from dldoctor.matrix.signatures import TEXT_LIMIT, scan

LIMIT_S = 0.25  # per pattern per hostile text
HOSTILE = {
    "letters": "x" * TEXT_LIMIT,
    "lib": "lib" * (TEXT_LIMIT // 3),
    "slashes": "/" * TEXT_LIMIT,
    "path-segments": "/lib" * (TEXT_LIMIT // 4),
    "words": "a " * (TEXT_LIMIT // 2),
    "nccl": "NCCL " * (TEXT_LIMIT // 5),
    "ptxas": "ptxas " * (TEXT_LIMIT // 6),
    "version": "version " * (TEXT_LIMIT // 8),
    "digits": "1." * (TEXT_LIMIT // 2),
    "so": "libx.so." * (TEXT_LIMIT // 8),
}


def main() -> int:
    rows = load().signatures.rows
    slow = []
    for row in rows:
        for pattern in row.patterns:
            for name, text in HOSTILE.items():
                started = time.perf_counter()
                pattern.search(text)
                took = time.perf_counter() - started
                slow.append((took, row.id, name))
    slow.sort(reverse=True)
    for took, row_id, name in slow[:5]:
        print(f"{took * 1000:8.1f} ms  {row_id:32} on {name}")
    log = "\n".join(e for r in rows for e in r.examples) * 20
    started = time.perf_counter()
    found = scan(log[:TEXT_LIMIT])
    print(
        f"{(time.perf_counter() - started) * 1000:8.1f} ms  scan of a {len(log[:TEXT_LIMIT])}-character log ({len(found)} matches)"
    )
    return 1 if slow and slow[0][0] > LIMIT_S else 0


if __name__ == "__main__":
    sys.exit(main())
