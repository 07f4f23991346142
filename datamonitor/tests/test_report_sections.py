"""The report built from a fixed store: its sections in order, the expected band drawn, no timestamp plotted,
human units, single points said in words, tagged and untagged series kept apart."""

from __future__ import annotations

import base64
import io
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from datamonitor import DataMonitor, KpiRecord

DAY0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
ROWS = [100, 102, 98, 101, 99, 100, 103, 97, 100, 101, 40]
#: the band's fill (#54B399 at alpha 0.22 on white) and the anomaly's ring (#d62728), as 0-255 RGB
BAND_RGB, ANOMALY_RGB = (217, 238, 233), (214, 39, 40)


def _file(day: int, rows: int, folder: str = "/data", name: str = "sales") -> list[KpiRecord]:
    path = f"{folder}/{name}_2026-11-{day:02d}.csv"
    when = DAY0 + timedelta(days=30, minutes=day)  # measured later, in one run: the name's date is the x
    common = {"dataset": "datamonitor.file", "timestamp": when, "file_path": path, "host": "h"}
    mtime = (DAY0 + timedelta(days=day - 1)).timestamp()
    out = [KpiRecord(name="file.rows", value=rows, unit="rows", file_size=rows * 2048, **common),
           KpiRecord(name="file.mtime", value=mtime, unit="s", text="2026-11-01T00:00:00Z", **common),
           KpiRecord(name="column.type", text="datetime", subject="ts", **common),
           KpiRecord(name="column.min", value=mtime, text=f"2026-11-{day:02d}T00:00:00Z", subject="ts", **common),
           KpiRecord(name="column.max", value=mtime + 86399, text=f"2026-11-{day:02d}T23:59:59Z", subject="ts",
                     **common),
           KpiRecord(name="column.type", text="integer", subject="year", **common),
           KpiRecord(name="column.distinct", value=1, unit="values", subject="year", **common)]
    out += [KpiRecord(name=f"column.{k}", value=2026, subject="year", **common) for k in ("min", "max", "mean", "p50")]
    return out


@pytest.fixture
def page(home: Path) -> str:
    with DataMonitor() as dm:
        for day, rows in enumerate(ROWS, start=1):
            dm.record(_file(day, rows), ship=False)
        dm.record([KpiRecord(name="file.rows", value=5, unit="rows", dataset="datamonitor.file", host="h",
                             file_path="/other/once.csv", timestamp=DAY0)], ship=False)
        disk = [KpiRecord(name="disk.used_bytes", value=v * 2 ** 30, unit="bytes", subject="/data",
                          dataset="datamonitor.disk", timestamp=DAY0 + timedelta(hours=i), host="h")
                for i, v in enumerate((10, 11, 12))]
        disk.append(KpiRecord(name="disk.used_pct", value=42.0, unit="percent", subject="/data",
                              dataset="datamonitor.disk", timestamp=DAY0, host="h"))
        statsd = [KpiRecord(name="etl.duration", value=value, unit="s", dataset="datamonitor.statsd", host="h",
                            timestamp=DAY0 + timedelta(hours=i), labels=labels)
                  for i in range(3) for value, labels in ((42.0, {}), (255.0, {"job": "nightly"}))]
        dm.record([*disk, *statsd], ship=False)
        return dm.report()


def _section(page: str, heading: str) -> str:
    start = page.index(heading)
    ends = [i for i in (page.find("<h2", start + 3), page.find("</section>", start)) if i > 0]
    return page[start:min(ends) if ends else len(page)]


def _figures(html_part: str) -> dict[str, object]:
    import matplotlib.image as mpimg

    return {alt: mpimg.imread(io.BytesIO(base64.b64decode(data)), format="png")
            for alt, data in re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html_part)}


def _pixels(image: object, rgb: tuple[int, int, int], tol: int = 8) -> int:
    import numpy as np

    arr = (np.asarray(image)[..., :3] * 255).round()
    return int((np.abs(arr - np.array(rgb)).max(axis=-1) <= tol).sum())


def test_the_sections_come_in_order(page: str) -> None:
    order = [page.index(h) for h in ('<h2 id="overview">', ">once</h2>", ">sales</h2>", "<h2>Disks</h2>",
                                     "<h2>Other KPIs</h2>")]
    assert order == sorted(order)
    assert "<h2>UDP listeners</h2>" not in page, "no UDP KPIs, no UDP section"


def test_the_rows_trend_draws_the_expected_band_and_circles_the_anomaly(page: str) -> None:
    figures = _figures(_section(page, ">sales</h2>"))
    rows, size = figures["Rows per file"], figures["File size"]
    assert _pixels(rows, BAND_RGB) > 500, "the band is filled"
    assert _pixels(rows, ANOMALY_RGB) > 20, "the day with 40 rows is circled"
    assert _pixels(size, BAND_RGB) < 50 and _pixels(size, ANOMALY_RGB) < 5, "file size is not scored: no band"
    assert "<li>sales: 40 rows on 2026-11-11, expected" in page


def test_no_timestamp_is_plotted_and_time_columns_show_dates(page: str) -> None:
    alts = re.findall(r'<img alt="([^"]*)"', page)
    assert not [a for a in alts if "ts" in a.split(":")[0] or "mtime" in a or "year" in a], alts
    sales = _section(page, ">sales</h2>")
    assert "11 files from 2026-11-01 to 2026-11-11" in sales, "each file at its name's date"
    card = re.search(r'<h4>ts <span class="type">datetime</span>.*?</div>', sales).group(0)
    assert "<dd>2026-11-11 to 2026-11-11 23:59</dd>" in card
    year = re.search(r'<h4>year <span class="type">integer</span>.*?</div>', sales).group(0)
    assert "<dd>2026 to 2026</dd>" in year and "<svg" not in year, "a constant column has no strip"


def test_a_single_point_is_said_not_drawn(page: str) -> None:
    once = _section(page, ">once</h2>")
    assert "<b>Rows per file</b>: 5 on 2026-11-01, the only point so far" in once
    assert "<img" not in once
    disks = _section(page, "<h2>Disks</h2>")
    assert list(_figures(disks)) == ["disk.used_bytes"], "used_pct has one point: in the table only"
    assert '<td class="num">12 GiB</td>' in disks and '<td class="num">42%</td>' in disks


def test_tagged_and_untagged_series_are_kept_apart(page: str) -> None:
    other = _section(page, "<h2>Other KPIs</h2>")
    assert re.search(r"<td>etl\.duration</td><td>\(no subject, no tags\)</td><td class=\"num\">42 s</td>", other)
    assert re.search(r"<td>etl\.duration</td><td>\{job=nightly\}</td><td class=\"num\">4\.25 min</td>", other)
    assert list(_figures(other)) == ["etl.duration"]


def test_the_plots_are_capped_and_the_page_says_how_many_were_left_out(home: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from datamonitor import report

    monkeypatch.setattr(report, "MAX_PLOTS", 1)
    with DataMonitor() as dm:
        for day, rows in enumerate(ROWS, start=1):
            dm.record(_file(day, rows), ship=False)
        page = dm.report()
    drawn = re.findall(r'<img alt="([^"]*)"', page)
    assert drawn == ["Rows per file"], "the first one, in the dataset's order"
    assert "; 1 plots not drawn (at most 1 in one report)" in page, "the file size's"
