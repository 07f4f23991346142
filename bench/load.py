"""One million KPI documents through the store and out to the mock cluster, with memory watched.

    python bench/load.py [N]              # default 1,000,000 documents

Collection commits batches of 1,000 records to the SQLite outbox (WAL,
synchronous=FULL); shipping then drains it in bulk (chunks of 500) to an
ElasticMock subclass that counts what it accepts instead of keeping it, so the
memory measured is datamonitor's own. RSS is sampled every 100,000 documents in
each phase: it must stay flat, not grow with the backlog. Prints docs/s and RSS.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
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


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    batch, step = 1000, max(1000, n // 10)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        samples: list[str] = []
        with DataMonitor(load_config(home=home)) as dm:
            t0 = last = time.perf_counter()
            for start in range(0, n, batch):
                dm.record([KpiRecord(name="column.null_count", value=i, subject=f"col{i % 500}",
                                     file_path="/data/flights.csv", labels={"team": "ops"})
                           for i in range(start, min(n, start + batch))], ship=False)
                if (start + batch) % step == 0:
                    now = time.perf_counter()
                    samples.append(f"{start + batch:>9,}: {rss_mb():6.1f} MB {step / (now - last):8,.0f}/s")
                    last = now
            put_s = time.perf_counter() - t0
            size = dm.store.stats().size_bytes
        print(f"documents                 {n:,}")
        print(f"store: record + commit    {put_s:8.2f} s   {n / put_s:10,.0f} docs/s   store {size / 1e6:,.1f} MB")
        print("  RSS and rate while storing:\n    " + "\n    ".join(samples))

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
