"""``datamonitor show FILE|DATASET`` through the command line: columns, bad rows, trend, open anomalies, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from datamonitor.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _day(folder: Path, day: int, rows: int) -> Path:
    path = folder / f"sales_2026-11-{day:02d}.csv"
    path.write_text("id,amount,region\n" + "".join(
        f"{i},{'' if i % 10 == 0 else i * 1.5},{'eu' if i % 2 else 'us'}\n" for i in range(rows)))
    return path


def test_show_a_file_measures_it_and_gives_one_line_per_column(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path, home: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,amount\n1,2.5\n2\n3,4.5\n4,x,y\n5,\n")
    code, out, err = run(capsys, "show", str(path))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith(f"bad: {path} (3 rows, 2 columns, measured now)")
    assert lines[1].split() == ["column", "type", "null", "%", "distinct", "min", "max", "mean", "p50", "p95"]
    # pandas, reading the same good rows, is the oracle
    df = pd.DataFrame({"id": [1, 3, 5], "amount": [2.5, 4.5, None]})
    assert lines[2].split()[:7] == ["id", "integer", "0.0%", str(df.id.nunique()), str(df.id.min()), str(df.id.max()),
                                    f"{df.id.mean():g}"]
    amount = lines[3].split()
    assert amount[:3] == ["amount", "float", f"{df.amount.isna().mean() * 100:.1f}%"]
    assert float(amount[6]) == df.amount.mean()
    assert "bad rows: 2 (line 3: expected 2 fields, found 1; line 5: expected 2 fields, found 3)" in out
    assert "rows per file: nothing stored yet" in out and "open anomalies: none" in out
    code, out, _ = run(capsys, "show", str(path), "--json")
    summary = json.loads(out)
    assert code == 0 and summary["rows"] == 3 and [c["name"] for c in summary["columns"]] == ["id", "amount"]
    assert summary["bad_row_lines"] == [{"line": 3, "why": "expected 2 fields, found 1"},
                                        {"line": 5, "why": "expected 2 fields, found 3"}]
    assert summary["columns"][1]["null_pct"] == pytest.approx(100 / 3)


def test_show_a_dataset_from_the_store_with_its_trend_and_open_anomalies(capsys: pytest.CaptureFixture[str],
                                                                        tmp_path: Path, home: Path) -> None:
    sizes = [100, 104, 98, 101, 99, 103, 96, 102, 97, 40]
    for day, rows in enumerate(sizes, start=1):
        _day(tmp_path, day, rows)
        assert run(capsys, "file", str(tmp_path / f"sales_2026-11-{day:02d}.csv"))[0] == 0
    code, out, err = run(capsys, "show", "sales")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"sales: {tmp_path / 'sales_2026-11-10.csv'} (40 rows, 3 columns, measured 20")
    assert [line.split()[0] for line in lines[2:5]] == ["id", "amount", "region"], "the file's column order"
    amount = pd.read_csv(tmp_path / "sales_2026-11-10.csv")["amount"]
    assert lines[3].split()[2] == f"{amount.isna().mean() * 100:.1f}%" and lines[3].split()[3] == "36"
    trend = lines[lines.index("rows per file (last 10):") + 1:][:10]
    assert [int(t.split()[2]) for t in trend] == sizes
    assert trend[-1].endswith("40  expected 89\u2013111")
    assert "  sales: 40 rows on 2026-11-10, expected 89\u2013111" in lines
    code, out, _ = run(capsys, "show", str(tmp_path / "sales_#-#-#.csv"), "--json")
    summary = json.loads(out)
    assert summary["dataset"] == str(tmp_path / "sales_#-#-#.csv") and summary["name"] == "sales"
    assert [t["rows"] for t in summary["trend"]] == sizes and summary["trend"][0]["expected"] is None
    assert "sales: 40 rows on 2026-11-10, expected 89\u2013111" in summary["anomalies"]


def test_show_something_unknown_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path, home: Path) -> None:
    code, out, err = run(capsys, "show", "nothing")
    assert code != 0 and out == ""
    assert err == "datamonitor: nothing: no such file, and no dataset of that name in the store (known: none yet)\n"
