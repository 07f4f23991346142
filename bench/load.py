"""One million KPI documents through the store and out to the mock cluster, with memory watched.

    python bench/load.py [N]              # default 1,000,000 documents

Collection commits batches of 1,000 records to the SQLite outbox (WAL,
synchronous=FULL) through ``DataMonitor.record``, the records made in the timed
loop. Beside it, in the same process and alternating with it every tenth of the
run, runs the reference of issue 10: a plain script that builds the same
documents as dicts, ``json.dumps`` them, takes SHA-256 ids and commits them with
``executemany`` to its own SQLite file (WAL, synchronous=FULL, same batches).
Each tenth prints both rates and their ratio. Shipping then drains the store in
bulk (chunks of 500) to an ElasticMock subclass that counts what it accepts
instead of keeping it, so the memory measured is datamonitor's own. RSS is
sampled every tenth in each phase: it must stay flat, not grow with the backlog.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import socket
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

from datamonitor import DataMonitor, KpiRecord, load_config
from datamonitor.store import PENDING
from datamonitor.tests.fakes import FakeCluster, fake_elasticsearch


class CountingCluster(FakeCluster):
    """Answers bulk creates as the fake does, but keeps only a count (a million documents would be its memory)."""

    created = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log_requests = False

    def _bulk_item(self, op: str, idx: str, doc_id: str, source: dict[str, Any]) -> dict[str, Any]:
        CountingCluster.created += 1
        return {op: {"_index": idx, "_id": doc_id, "status": 201, "result": "created", "_version": 1}}


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / (1 << 20)


class Reference:
    """Issue 10's plain script: dict documents, json.dumps, SHA-256 ids, executemany; WAL and synchronous=FULL."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE docs (id TEXT PRIMARY KEY, idx TEXT, ts TEXT, body TEXT)")
        self.host = socket.gethostname()

    def put(self, start: int, stop: int) -> None:
        rows = []
        for i in range(start, stop):
            now = datetime.now(timezone.utc)
            ts = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            doc = {"@timestamp": ts, "event": {"dataset": "datamonitor.kpi", "kind": "metric"},
                   "host": {"name": self.host}, "file": {"path": "/data/flights.csv", "name": "flights.csv"},
                   "kpi": {"name": "column.null_count", "value": i, "subject": f"col{i % 500}"},
                   "labels": {"team": "ops"}}
            identity = json.dumps([ts, "column.null_count", f"col{i % 500}", self.host, "/data/flights.csv"])
            rows.append((hashlib.sha256(identity.encode()).hexdigest()[:40], f"dm-kpi-{ts[:7]}", ts, json.dumps(doc)))
        self.db.execute("BEGIN")
        self.db.executemany("INSERT OR IGNORE INTO docs VALUES (?, ?, ?, ?)", rows)
        self.db.execute("COMMIT")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    batch, step = 1000, max(1000, n // 10)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        samples: list[str] = []
        ref = Reference(home / "reference.db")
        put_s = ref_s = put_cpu = ref_cpu = 0.0
        with DataMonitor(load_config(home=home)) as dm:
            for seg in range(0, n, step):
                c0, t0 = time.process_time(), time.perf_counter()
                for start in range(seg, min(n, seg + step), batch):
                    dm.record([KpiRecord(name="column.null_count", value=i, subject=f"col{i % 500}",
                                         file_path="/data/flights.csv", labels={"team": "ops"})
                               for i in range(start, min(n, start + batch))], ship=False)
                c1, t1 = time.process_time(), time.perf_counter()
                for start in range(seg, min(n, seg + step), batch):
                    ref.put(start, min(n, start + batch))
                c2, t2 = time.process_time(), time.perf_counter()
                put_s, ref_s = put_s + t1 - t0, ref_s + t2 - t1
                put_cpu, ref_cpu = put_cpu + c1 - c0, ref_cpu + c2 - c1
                done = min(n, seg + step) - seg
                samples.append(f"{seg + done:>9,}: {rss_mb():6.1f} MB {done / (t1 - t0):8,.0f}/s   reference "
                               f"{done / (t2 - t1):8,.0f}/s   ratio {(t2 - t1) / (t1 - t0):4.2f}")
            size = dm.store.stats().size_bytes
        print(f"documents                 {n:,}")
        print(f"store: record + commit    {put_s:8.2f} s   {n / put_s:10,.0f} docs/s   store {size / 1e6:,.1f} MB")
        print(f"reference: plain script   {ref_s:8.2f} s   {n / ref_s:10,.0f} docs/s   "
              f"datamonitor/reference speed {ref_s / put_s:4.2f}")
        print(f"  per CPU second (this process; the machine may be shared): datamonitor {n / put_cpu:,.0f} docs, "
              f"reference {n / ref_cpu:,.0f} docs; load average {os.getloadavg()[0]:.1f} at the end")
        print("  RSS, rates and speed ratio for each tenth while storing:\n    " + "\n    ".join(samples))

        shipped: list[str] = []
        with fake_elasticsearch(CountingCluster), DataMonitor(load_config(home=home, es_url="http://bench:9200")) as dm:
            marks = iter(range(step, n + step, step))
            next_mark = next(marks)

            def progress(done: int, _total: int) -> None:
                nonlocal next_mark
                while done >= next_mark:
                    shipped.append(f"{next_mark:>9,}: {rss_mb():6.1f} MB")
                    next_mark = next(marks, n * 10)

            t0 = time.perf_counter()
            result = dm.ship(progress=progress)
            ship_s = time.perf_counter() - t0
            assert result.created == n == CountingCluster.created and result.pending == 0, result
            assert dm.store.count(PENDING) == 0
        print(f"ship: bulk + mark         {ship_s:8.2f} s   {n / ship_s:10,.0f} docs/s   (counting fake cluster)")
        print("  RSS while shipping:\n    " + "\n    ".join(shipped))
        print(f"peak RSS                  {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.1f} MB "
              "(MB here are MiB)")


if __name__ == "__main__":
    main()
