"""Directory watcher: a 1,000-file rsync burst against `datamonitor file DIR`, and a steady 20 files a second.

    python bench/watch.py [--files 1000] [--rounds 2] [--steady-seconds 30] [--rate 20]

Burst: the same 1,000 small CSV files (200 rows x 3 columns) are measured by
`datamonitor file DIR` (the CLI, in a child process, timed from its start to
its exit) and by the watcher (rsynced into a watched folder, timed from the
start of rsync to the commit of the last file's documents), alternately, in
fresh stores. Every file must become documents, and nothing else may (rsync's
temporary .name.XXXXXX files must not).

Steady: files are written as ``.name.part`` and renamed into the watched
folder at a steady rate; latency runs from each rename to the commit of that
file's documents. Prints p50, p99 and max. The watcher uses the CLI's default
``--settle`` (0.5 s), which is part of every latency here.
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

from datamonitor import DataMonitor, load_config

BODY = "flight,dep_delay,carrier\n" + "".join(f"{i},{i % 37 - 5},UA\n" for i in range(200))


def stored_times(dm: DataMonitor) -> dict[Path, float]:
    """Each file's commit time: when its ``file.rows`` document was stored."""
    rows = dm.store._query(
        "SELECT json_extract(body, '$.file.path'), created FROM documents WHERE name = 'file.rows'")
    return {Path(path): created for path, created in rows}


def run_file_command(src: Path, home: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "datamonitor", "file", str(src), "--home", str(home)], check=True,
                   stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    with DataMonitor(load_config(home=home)) as dm:
        assert len(stored_times(dm)) == len(list(src.iterdir())), "datamonitor file missed files"
    return elapsed


def run_watch_burst(src: Path, work: Path, n: int) -> tuple[float, int, int]:
    """Seconds from rsync's start to the last commit; files with documents; commits."""
    inbox, home = work / "inbox", work / "home"
    inbox.mkdir()
    with DataMonitor(load_config(home=home)) as dm:
        watcher = dm.watcher(inbox)
        watcher.start()
        started = time.time()
        subprocess.run(["rsync", "-r", f"{src}/", f"{inbox}/"], check=True)
        deadline = time.time() + 600
        while watcher.processed + watcher.failed < n and time.time() < deadline:
            time.sleep(0.02)
        watcher.stop()
        stored = stored_times(dm)
        commits = dm.store._query("SELECT COUNT(DISTINCT created) FROM documents")[0][0]
    expected = {p.resolve() for p in inbox.iterdir()}
    assert set(stored) == expected, f"extra {len(set(stored) - expected)}, missing {len(expected - set(stored))}"
    return max(stored.values()) - started, len(stored), commits


def run_steady(work: Path, seconds: float, rate: float) -> list[float]:
    inbox, home = work / "steady", work / "steady-home"
    inbox.mkdir()
    renamed: dict[Path, float] = {}
    with DataMonitor(load_config(home=home)) as dm:
        watcher = dm.watcher(inbox)
        watcher.start()
        start = time.monotonic()
        for i in range(int(seconds * rate)):
            pause = start + i / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            part, final = inbox / f".feed_{i:05d}.csv.part", inbox / f"feed_{i:05d}.csv"
            part.write_text(BODY)
            os.rename(part, final)
            renamed[final.resolve()] = time.time()
        deadline = time.time() + 60
        while watcher.processed + watcher.failed < len(renamed) and time.time() < deadline:
            time.sleep(0.02)
        watcher.stop()
        stored = stored_times(dm)
    assert set(stored) == set(renamed), "the steady run lost or added files"
    return sorted(stored[p] - renamed[p] for p in renamed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steady-seconds", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=20.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "src")
        src.mkdir()
        for i in range(args.files):
            (src / f"batch_{i:05d}.csv").write_text(BODY)
        for r in range(args.rounds):
            work = Path(tmp, f"round{r}")
            work.mkdir()
            file_s = run_file_command(src, work / "file-home")
            watch_s, files, commits = run_watch_burst(src, work, args.files)
            print(f"burst round {r + 1}: datamonitor file DIR {file_s:6.2f} s   watcher (rsync to last commit) "
                  f"{watch_s:6.2f} s   watcher/file {watch_s / file_s:4.2f}   ({files:,} files, {commits} commits)",
                  flush=True)
        latencies = run_steady(Path(tmp), args.steady_seconds, args.rate)
        q = statistics.quantiles(latencies, n=100)
        print(f"steady {args.rate:g} files/s for {args.steady_seconds:g} s ({len(latencies)} files): rename -> stored "
              f"p50 {q[49]:.3f} s   p99 {q[98]:.3f} s   max {latencies[-1]:.3f} s")


if __name__ == "__main__":
    main()
