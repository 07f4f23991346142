"""Command-line start-up: ``python -m datamonitor ARGS`` from two source trees, alternately, medians and ratio.

    python bench/cli_startup.py BASE_TREE [NEW_TREE] [--runs 15] [--args "--version"]

Each tree is put first on PYTHONPATH, so an editable install elsewhere does not
count. The reference is BASE_TREE (e.g. a checkout of main); NEW_TREE defaults to
this checkout. Runs alternate so that load on the machine falls on both alike.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path


def once(tree: Path, args: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    # cwd: the tree itself, since ``-m`` puts the current folder first on sys.path
    subprocess.run([sys.executable, "-m", "datamonitor", *args], env=env, check=True, cwd=tree,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("new", type=Path, nargs="?", default=Path(__file__).resolve().parents[1])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--args", default="--version", help="the command line to time, in one word (quote it)")
    opts = parser.parse_args()
    args = shlex.split(opts.args)
    times: dict[Path, list[float]] = {opts.base: [], opts.new: []}
    for _ in range(opts.runs):
        for tree in times:
            times[tree].append(once(tree, args))
    base, new = (statistics.median(times[t]) * 1000 for t in (opts.base, opts.new))
    print(f"python -m datamonitor {opts.args}: {opts.runs} alternating runs, medians")
    print(f"  base {opts.base}: {base:.0f} ms")
    print(f"  new  {opts.new}: {new:.0f} ms  (new/base {new / base:.2f})")


if __name__ == "__main__":
    main()
