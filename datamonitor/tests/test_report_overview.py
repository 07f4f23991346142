"""The report opens on an overview: datasets, files, rows, open anomalies and threshold breaches first."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from datamonitor import DataMonitor
from datamonitor.notify import Threshold, ThresholdSet
from datamonitor.records import KpiRecord
from datamonitor.tests.test_baseline import JUNE, _rows


def _cards(page: str) -> dict[str, str]:
    return {label: value for value, label in re.findall(r'<div class="card[^"]*"><b>([^<]*)</b>([^<]*)</div>', page)}


def test_the_overview_comes_first_with_counts_anomalies_and_breaches(home: Path) -> None:
    with DataMonitor() as dm:
        for day, value in enumerate([*JUNE, 197_000], start=1):
            dm.record([_rows(day, value)], ship=False)
        dm.record([KpiRecord(name="file.rows", value=10, unit="rows", dataset="datamonitor.file", host="h",
                             file_path="/data/sales_2013-06-01.csv",
                             timestamp=datetime(2026, 11, 2, tzinfo=timezone.utc))], ship=False)
        disk = KpiRecord(name="disk.used_pct", value=95.0, unit="percent", subject="/data", dataset="datamonitor.disk")
        notes = ThresholdSet([Threshold("disk.used_pct", above=90)]).check([disk])
        dm.record([disk, *notes], ship=False)
        page = dm.report()
        assert page.index('<h2 id="overview">Overview</h2>') < page.index(">flights</h2>") < page.index("<h2>Disks</h2>")
        assert _cards(page) == {"datasets": "2", "files": "15", "rows": f"{sum(JUNE) + 197_000 + 10:,}",
                                "open anomalies": "1", "threshold breaches": "1"}
        assert '<div class="card bad"><b>1</b>open anomalies</div>' in page
        assert "<li>flights: 197,000 rows on 2013-06-14, expected 317,674\u2013347,326</li>" in page
        assert "<li>disk.used_pct on /data is 95%, above 90%</li>" in page
        assert re.search(r"<tr><td><a href=\"#ds-data-flights-csv\">flights</a></td><td>/data/flights_#-#-#\.csv</td>"
                         r"<td class=\"num\">14</td>"
                         r"<td class=\"num\">[\d,]+</td><td>flights_2013-06-14\.csv</td>"
                         r"<td class=\"num\">197,000</td><td class=\"num\">1</td></tr>", page)
        assert 'alt="anomaly"' not in page and 'alt="notification"' not in page, "events are not plotted"
        dm.record([_rows(15, 333_000)], ship=False)  # back to normal: the anomaly closes
        page = dm.report()
        assert _cards(page)["open anomalies"] == "0" and "<h3>Open anomalies</h3>" not in page


def test_a_threshold_given_to_the_report_counts_as_a_breach(home: Path) -> None:
    with DataMonitor() as dm:
        dm.record([KpiRecord(name="column.null_ratio", value=0.3, unit="ratio", subject="dep_delay",
                             dataset="datamonitor.file", file_path="/data/flights_2013-06-01.csv")], ship=False)
        page = dm.report(thresholds={"column.null_ratio": 0.1})
    assert _cards(page)["threshold breaches"] == "1"
    assert "column.null_ratio on flights_#-#-#.csv / dep_delay is 0.3 ratio, above 0.1" in page
