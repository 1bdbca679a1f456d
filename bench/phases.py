#!/usr/bin/env python3
"""The medians of a gloveboxd debug log's `run phases` lines (milliseconds from each run's request), after
`warmup` runs, and how many runs took a sandbox made ahead. Used by bench/phases-ab.sh and bench/ab-e2e.py.

    bench/phases.py LOG [WARMUP (0)] [LABEL]"""
import re
import statistics
import sys


def summary(path, warmup=0):
    """'N runs: accepted … replied … (K in a sandbox made ahead)' for the log at `path`."""
    rows, ahead = [], 0
    with open(path) as log:
        for line in log:
            m = re.search(r"ms=(.*?) run=", line) if "run phases" in line else None
            if m:
                t = m.group(1).split()
                rows.append({t[i]: float(t[i + 1]) for i in range(0, len(t), 2)})
                ahead += "made ahead" in line
    rows = rows[warmup:]
    if not rows:
        return "no runs"
    medians = "  ".join(f"{k} {statistics.median(r[k] for r in rows):.2f}" for k in rows[0])
    return f"{len(rows)} runs: {medians}" + (f" ({ahead} in a sandbox made ahead)" if ahead else "")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    label = sys.argv[3] + " " if len(sys.argv) > 3 else ""
    print(label + summary(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0))
