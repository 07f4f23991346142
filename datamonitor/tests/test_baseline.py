"""Learned baselines: robust statistics checked by hand and against numpy, anomalies, their alerts and drift."""

from __future__ import annotations

import dataclasses
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from datamonitor import DataMonitor
from datamonitor.baseline import (
    CONSTANT_SCORE,
    Baselines,
    BaselineSettings,
    MinChange,
    SchemaHistory,
    dataset_name,
    grouped,
    robust_band,
    score,
)
from datamonitor.errors import ConfigError
from datamonitor.records import KpiRecord
from datamonitor.tests.helpers import memory_meta

# 13 days whose median is 332,500 and whose MAD is 2,500 (worked out in test_the_known_history_by_hand)
JUNE = [332_500, 332_500, 332_500, 331_000, 334_500, 330_000, 335_000, 330_000, 335_500, 329_000, 336_500,
        328_000, 337_500]


def _rows(day: int, value: int, *, folder: str = "/data") -> KpiRecord:
    when = datetime(2026, 11, 1, tzinfo=timezone.utc).replace(day=day)
    path = f"{folder}/flights_2013-06-{day:02d}.csv"
    return KpiRecord(name="file.rows", value=value, unit="rows", dataset="datamonitor.file", timestamp=when,
                     file_path=path, host="h")


class Recording:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def notify(self, title: str, message: str) -> None:
        self.sent.append((title, message))


def test_the_known_history_by_hand() -> None:
    # sorted: 328000 329000 330000 330000 331000 332500 [332500] 332500 334500 335000 335500 336500 337500
    # |x - 332500| sorted: 0 0 0 1500 2000 2500 [2500] 2500 3000 3500 4000 4500 5000
    band = robust_band(JUNE)
    assert band.median == 332_500 and band.mad == 2_500
    assert band.scale == pytest.approx(1.4826 * 2_500)  # 3,706.5: above the floor of 1 % of the median
    assert (band.lower, band.upper) == pytest.approx((332_500 - 4 * 3_706.5, 332_500 + 4 * 3_706.5))
    # numpy as the oracle
    h = np.array(JUNE, dtype=float)
    assert band.median == np.median(h) and band.mad == np.median(np.abs(h - np.median(h)))
    assert score(197_000, band) == pytest.approx((197_000 - 332_500) / 3_706.5)


def test_a_series_that_barely_varies_has_a_scale_of_one_percent_of_its_median() -> None:
    band = robust_band([1000, 1001, 1000, 999, 1000, 1002, 1000])  # MAD 0, mean deviation 4/7: under 1 % of 1000
    assert band.mad == 0 and band.scale == 10.0 and score(1030, band) == 3.0


def test_an_even_history_and_an_outlier_by_hand() -> None:
    # median of 1..8 is 4.5; deviations 3.5 2.5 1.5 .5 .5 1.5 2.5 3.5 have the median 2
    band = robust_band([1, 2, 3, 4, 5, 6, 7, 8])
    assert (band.median, band.mad) == (4.5, 2.0)
    # one wild value moves neither the median nor the MAD much: that is why they are used
    band = robust_band([10, 12, 11, 13, 50, 12, 11])  # sorted 10 11 11 12 12 13 50; deviations 0 0 1 1 1 2 38
    assert (band.median, band.mad) == (12, 1)
    assert band.upper == pytest.approx(12 + 4 * 1.4826)
    assert score(20, band) == pytest.approx(8 / 1.4826)


def test_a_mad_of_zero_falls_back_to_the_mean_deviation_a_step_then_to_the_constant_rule() -> None:
    band = robust_band([0.5, 0.5, 0.5, 0.5, 0.5, 0.501, 0.7])  # MAD 0: mean |x - 0.5| is 0.201/7
    assert band.mad == 0 and band.scale == pytest.approx(1.2533 * 0.201 / 7)
    # whole numbers come in steps of 1: 1.2533 * 3/7 = 0.54 is raised to one step
    assert robust_band([5, 5, 5, 5, 5, 6, 7]).scale == 1.0
    constant = robust_band([5] * 7)
    assert constant.scale == 0 and (constant.lower, constant.upper) == (5, 5)
    assert score(5, constant) == 0 and score(6, constant) == CONSTANT_SCORE and score(4, constant) == -CONSTANT_SCORE


def test_not_enough_history_yet() -> None:
    band = robust_band([1, 2, 3, 4, 5, 6])
    assert not band.enough and band.state == "not enough history yet" and score(3, band) is None
    assert robust_band([1, 2, 3, 4, 5, 6, 7]).state == "baseline"
    assert robust_band([1, 2, 3], min_history=3).enough


def test_bad_settings_are_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="hysteresis must be in"):
        BaselineSettings(k=2, hysteresis=3)
    with pytest.raises(ConfigError, match="window"):
        BaselineSettings(window=5)


def test_dataset_names_for_people() -> None:
    assert dataset_name("/in/flights_#-#-#.csv") == "flights"
    assert dataset_name("/in/sales_#.csv.gz") == "sales"
    assert dataset_name("datamonitor.udp@host") == "datamonitor"


def test_a_known_outlier_alerts_once_with_its_line_and_clears(home: Path) -> None:
    notifier = Recording()
    with DataMonitor() as dm:
        dm.notifiers = [notifier]
        for day, value in enumerate(JUNE, start=1):
            dm.record([_rows(day, value)], ship=False)
        assert dm.search(name="anomaly") == []
        dm.record([_rows(14, 197_000)], ship=False)
        dm.record([_rows(15, 333_000)], ship=False)
        line = "flights: 197,000 rows on 2013-06-14, expected 317,674\u2013347,326"
        assert notifier.sent == [
            ("ANOMALY: flights file.rows", line),
            ("OK: flights file.rows is back to normal",
             "flights: 333,000 rows on 2013-06-15, back within 317,674\u2013347,326"),
        ]
        [anomaly] = [h["_source"] for h in dm.search(name="anomaly")]
        assert anomaly["message"] == line and anomaly["labels"]["kpi"] == "file.rows"
        assert anomaly["kpi"]["expected"] == 332_500
        assert anomaly["kpi"]["score"] == pytest.approx((197_000 - 332_500) / 3_706.5, abs=1e-6)
        # the observation itself carries its band, in the same four fields for every KPI
        day14 = next(h["_source"] for h in dm.search(name="file.rows", limit=50)
                     if h["_source"]["file"]["name"] == "flights_2013-06-14.csv")
        assert day14["kpi"]["lower"] == pytest.approx(332_500 - 4 * 3_706.5)
        first = next(h["_source"] for h in dm.search(name="file.rows", limit=50)
                     if h["_source"]["file"]["name"] == "flights_2013-06-01.csv")
        assert "expected" not in first["kpi"], "no baseline before 7 observations"
        states = [h["_source"]["labels"]["state"] for h in dm.search(name="notification")]
        assert sorted(states) == ["alert", "ok"]


def test_hysteresis_keeps_one_alert_while_the_anomaly_lasts() -> None:
    meta = memory_meta()
    baselines = Baselines(meta, BaselineSettings(min_change=()))  # the band alone: no least change
    notes, anomalies = [], []
    for day, value in enumerate([*JUNE, 100_000, 120_000, 319_500], start=1):
        scored = baselines.observe([_rows(day, value)])
        baselines.commit()
        notes += scored.notifications
        anomalies += scored.anomalies
    assert len(anomalies) == 2, "two days out of their band"
    # day 16 scores (319,500 - 332,500) / 3,706.5 = -3.5 (the MAD is still 2,500): beyond k - hysteresis = 3 but
    # within k = 4, so the anomaly stays open
    assert [n.labels["state"] for n in notes] == ["alert"]
    assert len(meta.get_meta("baseline:/data/flights_#-#-#.csv")["open"]) == 1


def test_a_ratio_band_starts_at_zero_and_many_alerts_of_one_file_are_one_message() -> None:
    baselines = Baselines(memory_meta())
    history = [0.01, 0.02, 0.01, 0.03, 0.02, 0.01, 0.02]  # median 0.02, MAD 0.01: m - 4s is below 0
    for day, ratio in enumerate([*history, 0.2], start=1):
        scored = baselines.observe([
            _rows(day, 1000 + day if day < 8 else 10),
            KpiRecord(name="column.null_ratio", value=ratio, unit="ratio", subject="dep_delay", host="h",
                      dataset="datamonitor.file", file_path=f"/data/flights_2013-06-{day:02d}.csv",
                      timestamp=datetime(2026, 11, day, tzinfo=timezone.utc)),
        ])
    # rows 1001..1007: median 1004, |x - 1004| sorted 0 1 1 [2] 2 3 3: 1.4826 * 2 is under 1 % of 1004, so the
    # band is 1004 ± 4 * 10.04 = 963.84..1044.16
    nulls = scored.records[1]
    # a column KPI's band is column_k = 8 scaled MADs wide on each side
    assert nulls.lower == 0 and nulls.upper == pytest.approx(0.02 + 8 * 1.4826 * 0.01)
    assert [a.message for a in scored.anomalies] == [
        "flights: 10 rows on 2013-06-08, expected 964\u20131,044",
        "flights: dep_delay nulls 20% on 2013-06-08, expected 0%\u201313.9%",
    ]
    assert grouped(scored.notifications) == [(
        "ANOMALY: flights: 2 KPIs out of their band",
        "flights: 10 rows on 2013-06-08, expected 964\u20131,044\n"
        "flights: dep_delay nulls 20% on 2013-06-08, expected 0%\u201313.9%")]


def test_series_are_kept_apart_by_subject_labels_and_dataset() -> None:
    meta = memory_meta()
    baselines = Baselines(meta)
    for i in range(8):
        baselines.observe([
            KpiRecord(name="requests", value=10 + i, labels={"route": "/a"}, host="h"),
            KpiRecord(name="requests", value=1000 + i, host="h"),
            _rows(i + 1, 500 + i, folder="/x"),
            _rows(i + 1, 900 + i, folder="/y"),
        ])
    baselines.commit()
    assert baselines.history("datamonitor.kpi@h", "requests||route=/a") == [10, 11, 12, 13, 14, 15, 16, 17]
    assert baselines.history("datamonitor.kpi@h", "requests||")[0] == 1000
    assert baselines.history("/x/flights_#-#-#.csv", "file.rows||")[-1] == 507
    assert baselines.band("/y/flights_#-#-#.csv", "file.rows||").median == 903.5


def _write_day(folder: Path, day: int, rows: int, columns: str = "id,amount") -> Path:
    path = folder / f"sales_2026-11-{day:02d}.csv"
    extra = ",x" * (columns.count(",") - 1)
    path.write_text(columns + "\n" + "".join(f"{i},{i * 1.5}{extra}\n" for i in range(rows)))
    return path


def test_files_are_scored_as_they_are_collected_and_a_file_measured_again_is_not_history(tmp_path: Path,
                                                                                           home: Path) -> None:
    sizes = [100, 104, 98, 101, 99, 103, 96, 102, 97, 40]  # no two days alike: equal bytes are one file
    for day, rows in enumerate(sizes, start=1):
        _write_day(tmp_path, day, rows)
    with DataMonitor() as dm:
        for day in range(1, 11):
            dm.collect_file(tmp_path / f"sales_2026-11-{day:02d}.csv")
        anomalies = [h["_source"] for h in dm.search(name="anomaly", limit=100)]
        # 40 rows of 0..39 also move the columns' means, medians, p95s and distinct counts
        assert {a["kpi"]["subject"] for a in anomalies} >= {"file.rows", "column.mean on id", "column.distinct on id"}
        assert {a["file"]["name"] for a in anomalies} == {"sales_2026-11-10.csv"}
        [rows] = [a for a in anomalies if a["kpi"]["subject"] == "file.rows"]
        # the first 9 days: median 100, |x - 100| sorted 0 1 1 2 [2] 3 3 4 4: MAD 2, the band 100 ± 4 * 2.9652,
        # 88.14 to 111.86, whose whole numbers are 89 to 111
        assert rows["message"] == "sales: 40 rows on 2026-11-10, expected 89\u2013111"
        key = str(tmp_path / "sales_#-#-#.csv")
        before = dm.baselines.history(key, "file.rows||")
        assert before == [*sizes[:-1], 100]  # the anomaly entered as its expected value (see datamonitor.outliers)
        dm.collect_file(tmp_path / "sales_2026-11-09.csv")  # the same bytes again
        assert dm.baselines.history(key, "file.rows||") == before
        assert len(dm.search(name="anomaly", limit=100)) == len(anomalies)


def test_schema_drift_is_against_the_dataset_baseline_and_never_for_the_same_file(tmp_path: Path,
                                                                                 home: Path) -> None:
    for day in (1, 2, 3):
        _write_day(tmp_path, day, 5)
    odd = _write_day(tmp_path, 4, 5, columns="id,amount,region")
    _write_day(tmp_path, 5, 5)
    with DataMonitor() as dm:
        results = {r.path.name: r.drift for r in dm.collect_file(tmp_path)}
        assert results == {
            "sales_2026-11-01.csv": None, "sales_2026-11-02.csv": None, "sales_2026-11-03.csv": None,
            "sales_2026-11-04.csv": {"added": ["region"], "removed": [], "retyped": []},
            # against the baseline (the most common recent schema), not the odd file before it
            "sales_2026-11-05.csv": None,
        }
        assert dm.collect_file(tmp_path / "sales_2026-11-01.csv")[0].drift is None
        # re-measuring the odd file is not drift again: it was measured, and reported, once
        assert dm.collect_file(odd)[0].drift is None
        assert len(dm.search(name="file.schema_drift")) == 1


def test_schema_history_reads_the_old_single_schema_format() -> None:
    meta = memory_meta()
    meta.set_meta("schema:k", [["a", "integer"]])
    history = SchemaHistory(meta)
    assert history.get("k") == {"schema": [["a", "integer"]], "sha256": []}
    history.set("k", {"schema": [["a", "string"]], "sha256": "f1"})
    history.set("k", {"schema": [["a", "string"]], "sha256": "f1"})
    assert history.get("k") == {"schema": [["a", "string"]], "sha256": ["f1"]}, "a tie goes to the newest"


def test_histories_outlive_the_process_written_at_least_on_close(home: Path) -> None:
    with DataMonitor() as dm:
        for day in (1, 2, 3):
            dm.record([_rows(day, 1000 + day)], ship=False)
    with DataMonitor() as dm:
        assert dm.baselines.history("/data/flights_#-#-#.csv", "file.rows||") == [1001, 1002, 1003]


def _sha(day: int, sha: str) -> KpiRecord:
    return KpiRecord(name="file.sha256", text=sha, dataset="datamonitor.file", host="h",
                     file_path=f"/data/flights_2013-06-{day:02d}.csv",
                     timestamp=datetime(2026, 11, day, tzinfo=timezone.utc))


def test_a_day_without_a_file_and_a_file_delivered_twice_are_anomalies() -> None:
    baselines = Baselines(memory_meta())
    for day in range(1, 9):
        assert baselines.observe([_sha(day, f"s{day}")]).anomalies == []
    gap = baselines.observe([_sha(10, "s10")])
    assert [a.message for a in gap.anomalies] == [
        "flights: no file for 2013-06-09 (one comes a day; the next came for 2013-06-10)"]
    assert gap.anomalies[0].labels["day"] == "2013-06-09" and gap.anomalies[0].labels["kind"] == "missing"
    twice = baselines.observe([_sha(11, "s3"), _rows(11, 5)])
    assert [a.message for a in twice.anomalies] == [
        "flights: flights_2013-06-11.csv has the same bytes as flights_2013-06-03.csv, delivered before"]
    assert [n.labels["state"] for n in twice.notifications] == ["alert"]
    assert baselines.history("/data/flights_#-#-#.csv", "file.rows||") == [], "a copy is not observed again"
    again = baselines.observe([_sha(3, "s3")])  # the same file measured again: nothing at all
    assert again.anomalies == [] and again.notifications == []


def _on(day: date, name: str, value: float, subject: str | None = None, unit: str | None = "rows") -> KpiRecord:
    return KpiRecord(name=name, value=value, unit=unit, subject=subject, dataset="datamonitor.file", host="h",
                     file_path=f"/data/flights_{day.isoformat()}.csv",
                     timestamp=datetime(2026, 11, 1, tzinfo=timezone.utc) + timedelta(days=day.toordinal() % 1000))


def test_a_weekly_rhythm_gets_the_weekday_band() -> None:
    week = [1000, 1004, 996, 1002, 998, 750, 900]  # Monday to Sunday: Saturdays are quiet
    start = date(2013, 6, 3)  # a Monday
    history = [float(week[i % 7]) for i in range(28)]
    plain = robust_band(history)
    assert score(750, plain) < -4, "against all days, every Saturday would be an anomaly"
    # a quarter fewer rows is under the least change news for rows (a third): without it, the band alone
    assert BaselineSettings().least_change("file.rows", 1000) == 300
    baselines = Baselines(memory_meta(), BaselineSettings(min_change=()))
    flagged = [i for i in range(28)
               if baselines.observe([_on(start + timedelta(days=i), "file.rows", week[i % 7])]).anomalies]
    # the weekday band needs 21 values and 3 of the weekday: until then Saturdays and Sundays stand out, and enter
    # the history as the expected value (datamonitor.outliers) until the third Saturday (day 26; day 5 was before
    # min_history) and Sunday out of band in a row are a new rhythm, kept as measured
    assert flagged == [12, 13, 19, 20, 26, 27]
    saturday = start + timedelta(days=33)
    assert saturday.weekday() == 5
    quiet = baselines.observe([_on(saturday, "file.rows", 760)]).records[0]
    # the Saturdays' median; the residuals from each weekday's median are all 0, half the plain scale is
    # 0.5 * 1.4826 * 4 (the MAD of the 28 values about their median 998), and 1 % of 750 is more: 7.5
    assert quiet.expected == 750 and quiet.score == pytest.approx(10 / 7.5, abs=1e-6)
    cut = baselines.observe([_on(saturday + timedelta(days=7), "file.rows", 450)])
    assert [a.message for a in cut.anomalies] == ["flights: 450 rows on 2013-07-13, expected 720\u2013780"]


def test_a_column_with_one_value_in_a_file_labels_it_and_is_not_scored() -> None:
    baselines = Baselines(memory_meta())
    start = date(2013, 6, 20)
    for i in range(14):
        day = start + timedelta(days=i)
        scored = baselines.observe([
            _on(day, "column.distinct", 1, "month", "values"),
            _on(day, "column.mean", day.month, "month", None),
            _on(day, "column.distinct", 2, "carrier", "values"),
        ])
        assert scored.anomalies == [], f"July is not an anomaly of the month column ({day})"
    assert baselines.history("/data/flights_#-#-#.csv", "column.mean|month|") == []
    assert len(baselines.history("/data/flights_#-#-#.csv", "column.distinct|carrier|")) == 14


def test_a_column_is_scored_given_its_partner_a_storm_is_not_news_one_column_alone_is() -> None:
    # dep_time's and dep_delay's nulls move together (a cancelled flight has neither); one stormy day at 10 %
    together = [0.01, 0.02, 0.01, 0.03, 0.02, 0.01, 0.02, 0.10, 0.02, 0.01, 0.03, 0.02, 0.01, 0.02]
    baselines = Baselines(memory_meta())
    start = date(2013, 6, 1)

    def day(i: int, dep_time: float, dep_delay: float) -> list[KpiRecord]:
        when = start + timedelta(days=i)
        return [_on(when, "column.null_ratio", dep_time, "dep_time", "ratio"),
                _on(when, "column.null_ratio", dep_delay, "dep_delay", "ratio")]

    for i, v in enumerate(together):
        baselines.observe(day(i, v, v))
    # a storm: both at 15 %. Against its own history dep_delay is out of its band: median 0.02, MAD 0.01 (six
    # deviations of 0, seven of 0.01, one of 0.08), 0.13 / 0.014826 = 8.8 scaled MADs > column_k = 8 ...
    plain = robust_band(together, 8)
    assert plain.median == 0.02 and plain.mad == pytest.approx(0.01) and score(0.15, plain) > 8
    storm = baselines.observe(day(14, 0.15, 0.15))
    # ... but given dep_time's 15 % it is just what was expected: Theil-Sen's slope 1, intercept 0
    assert storm.anomalies == [] and [r.expected for r in storm.records] == pytest.approx([0.15, 0.15])
    # dep_delay's nulls alone at 20 %: far out of the band given dep_time's 2 %
    fault = baselines.observe(day(15, 0.02, 0.20))
    [anomaly] = fault.anomalies
    assert anomaly.subject == "column.null_ratio on dep_delay" and anomaly.expected == pytest.approx(0.02)
    # the scale (numpy as the oracle): the residuals are all 0, so the floor, a tenth of the plain scale,
    # widened as a regression's prediction interval at dep_time's 2 %
    x = np.array([*together, 0.15])
    y = x
    plain_scale = 1.4826 * np.median(np.abs(y - np.median(y)))
    scale = 0.1 * plain_scale * np.sqrt(1 + 1 / len(x) + (0.02 - x.mean()) ** 2 / ((x - x.mean()) ** 2).sum())
    assert anomaly.score == pytest.approx((0.20 - 0.02) / scale, rel=1e-5)
    low, high = 0.02 - 8 * scale, 0.02 + 8 * scale
    assert anomaly.message == (f"flights: dep_delay nulls 20% on 2013-06-16, expected {low * 100:,.3g}%\u2013"
                               f"{high * 100:,.3g}% given dep_time nulls 2%")


def test_a_change_under_the_least_change_is_no_anomaly() -> None:
    settings = BaselineSettings()
    assert settings.least_change("column.null_ratio", 0.02) == 0.05
    assert settings.least_change("column.mean", 10.0, spread=40.0) == 20.0
    assert settings.least_change("column.mean", 10.0) == 0.0 and settings.least_change("udp.x", 5.0) == 0.0
    baselines = Baselines(memory_meta())
    for day, value in enumerate(JUNE, start=1):
        baselines.observe([_rows(day, value)])
    # 300,000 rows is 8.8 scaled MADs under the median (32,500 / 3,706.5), but only a tenth fewer: not news
    quiet = baselines.observe([_rows(14, 300_000)])
    assert quiet.records[0].score == pytest.approx(-32_500 / 3_706.5, abs=1e-6) and quiet.anomalies == []
    with pytest.raises(ConfigError, match="must not be negative"):
        MinChange("file.rows", relative=-1)


def _delivered(day: date, hour: int = 10, minute: int = 0) -> list[KpiRecord]:
    """A file's checksum and its modification time (when it was delivered)."""
    mtime = datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc).timestamp()
    return [KpiRecord(name="file.sha256", text=f"sha-{day.isoformat()}", dataset="datamonitor.file", host="h",
                      file_path=f"/data/flights_{day.isoformat()}.csv",
                      timestamp=datetime(2026, 11, 1, tzinfo=timezone.utc)),
            _on(day, "file.mtime", mtime, unit="s")]


def test_a_late_file_is_an_anomaly_before_the_next_one_comes() -> None:
    baselines = Baselines(memory_meta())
    start = date(2013, 6, 1)
    for i in range(10):  # a file every day at 10:00
        assert baselines.observe(_delivered(start + timedelta(days=i))).anomalies == []
    baselines.commit()
    last = datetime(2013, 6, 10, 10, 0, tzinfo=timezone.utc)
    # by hand: 9 intervals of 86,400 s, MAD 0, so the spread is its floor, a tenth of the interval (8,640 s);
    # the next file is expected at 2013-06-11 10:00 and late k = 4 spreads (9.6 hours) later, at 19:36
    assert baselines.overdue(last + timedelta(days=1, hours=9, minutes=35)).anomalies == []
    late = baselines.overdue(last + timedelta(days=1, hours=9, minutes=37))
    [anomaly] = late.anomalies
    assert anomaly.message == ("flights: no file since 2013-06-10 10:00 UTC; one comes every 1 day, "
                               "expected 2013-06-11 10:00 UTC, late since 2013-06-11 19:36 UTC")
    assert anomaly.labels["kind"] == "late" and anomaly.labels["day"] == "2013-06-11"
    assert anomaly.value == pytest.approx(86_400 + 9 * 3_600 + 37 * 60)
    assert anomaly.score == pytest.approx((9 * 3_600 + 37 * 60) / 8_640, abs=1e-6)
    assert [n.text for n in late.notifications] == ["ANOMALY: flights file.arrival"]
    # said once: the next tick finds nothing new
    assert baselines.overdue(last + timedelta(days=2)).anomalies == []
    # the file comes: on time again
    scored = baselines.observe(_delivered(date(2013, 6, 11), 23, 0))
    assert [n.text for n in scored.notifications] == ["OK: flights file.arrival is back to normal"]
    assert scored.notifications[0].message == "flights: a file came at 2013-06-11 23:00 UTC"


def test_late_files_are_found_after_a_restart_stored_and_announced(home: Path) -> None:
    notifier = Recording()
    with DataMonitor() as dm:
        for i in range(8):
            dm.record(_delivered(date(2013, 6, 1) + timedelta(days=i)), ship=False)
    with DataMonitor() as dm:  # a new process: the datasets come from the store's index
        dm.notifiers = [notifier]
        assert dm.check_overdue(datetime(2013, 6, 9, 12, tzinfo=timezone.utc)) == []
        [anomaly] = dm.check_overdue(datetime(2013, 6, 10, tzinfo=timezone.utc))
        assert anomaly.subject == "file.arrival"
        assert [h["_source"]["kpi"]["subject"] for h in dm.search(name="anomaly")] == ["file.arrival"]
        assert notifier.sent == [("ANOMALY: flights file.arrival", anomaly.message)]


def test_the_watcher_calls_its_timer(tmp_path: Path) -> None:
    from datamonitor.sources.watch import DirectoryWatcher

    ticks = threading.Event()
    watcher = DirectoryWatcher([tmp_path], process=lambda p: None, tick=ticks.set, tick_every=0.0)
    watcher.start(catch_up=False)
    try:
        assert ticks.wait(timeout=10)
    finally:
        watcher.stop()


def test_settings_from_a_config_table_and_one_clear_error_for_a_bad_one() -> None:
    settings = BaselineSettings.from_mapping({"k": 5, "window": 60, "file_kpis": ["file.rows"],
                                              "min_change": [{"kpi": "file.rows", "relative": 0.2}]})
    assert settings.k == 5 and settings.window == 60 and settings.file_kpis == ("file.rows",)
    assert settings.least_change("file.rows", 1000) == 200
    with pytest.raises(ConfigError, match=r"\[baseline\]: unknown key 'kk'"):
        BaselineSettings.from_mapping({"kk": 5})
    with pytest.raises(ConfigError, match="k must be a number"):
        BaselineSettings.from_mapping({"k": "five"})
    with pytest.raises(ConfigError, match="window"):
        BaselineSettings.from_mapping({"window": 3})
    with pytest.raises(ConfigError, match=r"\[baseline\]: .*unexpected keyword argument 'share'"):
        BaselineSettings.from_mapping({"min_change": [{"kpi": "file.rows", "share": 0.2}]})


def _day_rows(name: str, day: int, value: int) -> KpiRecord:
    return dataclasses.replace(_rows(day, value), file_path=f"/data/{name}_2013-06-{day:02d}.csv")


def test_two_datasets_in_one_store_have_their_own_settings_and_bands() -> None:
    # flights: k 2 over its last 10 values; trips inherits k 4 and window 30; both inherit min_change = []
    settings = BaselineSettings.from_mapping({"min_change": [], "datasets": [
        {"match": "flights*", "k": 2, "window": 10}, {"match": "flights", "k": 9}]})
    baselines = Baselines(memory_meta(), settings)
    for day, value in enumerate(JUNE, start=1):
        baselines.observe([_day_rows("flights", day, value), _day_rows("trips", day, value)])
    flights, trips = "/data/flights_#-#-#.csv", "/data/trips_#-#-#.csv"
    assert (baselines.settings_for(flights).k, baselines.settings_for(flights).window) == (2, 10)  # the first match
    assert baselines.settings_for(trips) is settings and settings.min_change == ()
    # flights' last 10: sorted 328000 329000 330000 330000 331000 | 334500 335000 335500 336500 337500: median 332,750;
    # |x - 332750| sorted 1750 1750 2250 2750 2750 | 2750 3750 3750 4750 4750: MAD 2,750
    last10 = np.array(JUNE[-10:], dtype=float)
    assert (np.median(last10), np.median(np.abs(last10 - np.median(last10)))) == (332_750, 2_750)
    series = "file.rows||"
    band = baselines.band(flights, series)
    assert (band.median, band.mad) == (332_750, 2_750)
    assert (band.lower, band.upper) == pytest.approx((332_750 - 2 * 1.4826 * 2_750, 332_750 + 2 * 1.4826 * 2_750))
    band = baselines.band(trips, series)  # all 13: median 332,500, MAD 2,500 (test_the_known_history_by_hand), k 4
    assert (band.lower, band.upper) == pytest.approx((332_500 - 4 * 3_706.5, 332_500 + 4 * 3_706.5))
    # 320,000 scores (320000 - 332750) / 4077.15 = -3.13 for flights (beyond 2) and -3.37 for trips (within 4)
    scored = baselines.observe([_day_rows("flights", 14, 320_000), _day_rows("trips", 14, 320_000)])
    [anomaly] = scored.anomalies
    assert anomaly.text == "flights" and anomaly.score == pytest.approx((320_000 - 332_750) / (1.4826 * 2_750))
    assert anomaly.lower == pytest.approx(332_750 - 2 * 1.4826 * 2_750)
    [trips_day] = [r for r in scored.records if "trips" in (r.file_path or "")]
    assert trips_day.score == pytest.approx((320_000 - 332_500) / 3_706.5)
    assert len(baselines.history(flights, series)) == 10 and len(baselines.history(trips, series)) == 14


def test_a_dataset_table_matches_the_name_or_the_key_and_inherits_the_rest() -> None:
    settings = BaselineSettings.from_mapping({"k": 5, "hysteresis": 2, "datasets": [
        {"match": "/in/*", "column_k": 10}, {"match": "sales", "hysteresis": 0.5, "file_kpis": ["file.rows"]}]})
    by_key = settings.for_dataset("/in/flights_#.csv")
    assert (by_key.k, by_key.column_k, by_key.hysteresis) == (5, 10, 2)
    by_name = settings.for_dataset("/elsewhere/sales_#.csv.gz")
    assert (by_name.k, by_name.hysteresis, by_name.file_kpis) == (5, 0.5, ("file.rows",))
    assert settings.for_dataset("/elsewhere/flights_#.csv") is settings
    assert by_key.datasets == () and by_name.commit_every == settings.commit_every
    # without the table, nothing changes: the same defaults, and every dataset gets them
    assert BaselineSettings.from_mapping({}) == BaselineSettings() and BaselineSettings().datasets == ()
    plain = Baselines(memory_meta(), BaselineSettings())
    assert plain.settings_for("/in/flights_#.csv") is plain.settings


@pytest.mark.parametrize(("table", "message"), [
    ({"datasets": [{"k": 3}]}, "[baseline.datasets][0]: match must be a shell pattern"),
    ({"datasets": [{"match": "a"}, {"match": "b", "kk": 3}]}, "[baseline.datasets][1]: unknown key 'kk'"),
    ({"datasets": [{"match": "a", "commit_every": 3}]}, "[baseline.datasets][0]: commit_every is for every dataset"),
    ({"datasets": [{"match": "a", "datasets": []}]}, "[baseline.datasets][0]: datasets is for every dataset"),
    ({"k": 3, "datasets": [{"match": "a", "hysteresis": 3}]}, "[baseline.datasets][0]: hysteresis must be in"),
    ({"datasets": {"match": "a"}}, "[baseline]: datasets must be a list of tables"),
])
def test_a_bad_dataset_table_is_one_error_naming_it_and_its_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        BaselineSettings.from_mapping(table, "c.toml: [baseline]")
    assert str(err.value).startswith("c.toml: " + message) and "\n" not in str(err.value)


def test_the_outcome_does_not_depend_on_how_many_files_a_batch_holds(tmp_path: Path, flights_df: Any) -> None:
    """The watcher and `file DIR` store finished files in batches whose size depends on timing; a file's scores
    and anomalies must be the same whether it came alone or beside others (they once were not: the partner
    columns and today's values were taken from the batch's last file)."""
    from datamonitor.sources.files import file_kpis

    flights = flights_df
    records = []
    for day in range(1, 21):
        part = flights[(flights.month == 3) & (flights.day == day)].copy()
        if day == 15:
            part.loc[part.sample(frac=0.3, random_state=1).index, "dep_delay"] = None  # nulls jump
        if day == 17:
            part = part.iloc[: len(part) // 2]  # half the rows
        path = tmp_path / f"flights_2013-03-{day:02d}.csv"
        part.to_csv(path, index=False)
        records.append(file_kpis(path).records)

    def outcome(batches: list[list[KpiRecord]]) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        baselines = Baselines(memory_meta())
        scores, anomalies = [], []
        for batch in batches:
            scored = baselines.observe(batch)
            scores += [(r.file_path, r.name, r.subject, r.score) for r in scored.records if r.score is not None]
            anomalies += [(r.file_path, r.subject, r.text) for r in scored.anomalies]
        return scores, anomalies

    alone = outcome(records)
    assert alone == outcome([[r for file in records[i:i + 4] for r in file] for i in range(0, 20, 4)])
    assert alone == outcome([[r for file in records for r in file]])
    flagged = {Path(str(path)).name for path, _subject, _text in alone[1]}
    assert {"flights_2013-03-15.csv", "flights_2013-03-17.csv"} <= flagged  # the two faults are found
