"""How fast documents go through datamonitor's own pipeline: store, then bulk ship.

    python bench/shipping.py [N]          # default 200,000 documents

It measures datamonitor's side only: building documents, committing them to the
SQLite outbox (WAL, synchronous=FULL, batches of 1,000), then shipping them in
bulk (the client's bulk call, chunk 500) to the in-process ElasticMock
fake and marking the store. The fake answers instantly, so the shipping figure
is an upper bound set by our own code, not by a cluster. Prints docs/s and peak RSS.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from datamonitor import DataMonitor, KpiRecord, load_config
from datamonitor.tests.fakes import fake_elasticsearch


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    batch = 1000
    with tempfile.TemporaryDirectory() as tmp, fake_elasticsearch():
        home = Path(tmp)
        with DataMonitor(load_config(home=home)) as dm:
            t0 = time.perf_counter()
            for start in range(0, n, batch):
                dm.record([KpiRecord(name="column.null_count", value=i, subject=f"col{i % 500}",
                                     file_path="/data/flights.csv", labels={"team": "ops"})
                           for i in range(start, min(n, start + batch))], ship=False)
            put_s = time.perf_counter() - t0
            size = dm.store.stats().size_bytes
        rss_after_put = peak_rss_mb()
        with DataMonitor(load_config(home=home, es_url="http://bench:9200")) as dm:
            t0 = time.perf_counter()
            result = dm.ship()
            ship_s = time.perf_counter() - t0
            assert result.created == n and result.pending == 0, result
        print(f"documents                 {n:,}")
        print(f"store: record + commit    {put_s:8.2f} s   {n / put_s:10,.0f} docs/s   store {size / 1e6:,.1f} MB")
        print(f"ship: bulk + mark         {ship_s:8.2f} s   {n / ship_s:10,.0f} docs/s   (instant fake cluster)")
        print(f"peak RSS                  {rss_after_put:8.1f} MB after store, {peak_rss_mb():.1f} MB at the end "
              "(the fake cluster holds every document in memory)")


if __name__ == "__main__":
    main()
