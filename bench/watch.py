"""Directory watcher latency: 1,000 files rsynced into a watched folder in one burst.

    python bench/watch.py [--files 1000]

Every file must become documents, and nothing else may (rsync's temporary
.name.XXXXXX files must not). Latency runs from a file's last write (rsync
without -t, so its modification time is when rsync finished it, just before the
rename) to the moment its documents were committed to the store. Prints p50,
p99 and max.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from datamonitor import DataMonitor, load_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, inbox, home = Path(tmp, "src"), Path(tmp, "inbox"), Path(tmp, "home")
        src.mkdir()
        inbox.mkdir()
        body = "flight,dep_delay,carrier\n" + "".join(f"{i},{i % 37 - 5},UA\n" for i in range(200))
        for i in range(args.files):
            (src / f"batch_{i:05d}.csv").write_text(body)
        with DataMonitor(load_config(home=home)) as dm:
            watcher = dm.watcher(inbox, settle=0.2)
            watcher.start()
            started = time.time()
            subprocess.run(["rsync", "-r", f"{src}/", f"{inbox}/"], check=True)
            rsync_s = time.time() - started
            deadline = time.time() + 120
            while watcher.processed < args.files and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)
            watcher.stop()
            rows = dm.store._query(
                "SELECT json_extract(body, '$.file.path'), created FROM documents WHERE name = 'file.rows'")
        stored = {Path(path): created for path, created in rows}
        expected = {p.resolve() for p in inbox.iterdir()}
        latencies = sorted(stored[p] - os.stat(p).st_mtime for p in expected if p in stored)
        print(f"files rsynced        {args.files:,} in {rsync_s:.2f} s")
        print(f"measured             {watcher.processed:,}; documents for {len(stored):,} files; "
              f"extra {len(set(stored) - expected)}, missing {len(expected - set(stored))}")
        q = statistics.quantiles(latencies, n=100)
        print(f"latency write->store p50 {q[49]:.3f} s   p99 {q[98]:.3f} s   max {latencies[-1]:.3f} s")


if __name__ == "__main__":
    main()
