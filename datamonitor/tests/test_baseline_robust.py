"""What baselines learn from: an anomaly does not teach them, a lasting change does, a calendar day is not scored,
and a column too incomplete in a file has its mean unscored; the partner's band widens with the partner's value."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from datamonitor import load_config
from datamonitor.bands import Band, robust_band
from datamonitor.baseline import Baselines, BaselineSettings
from datamonitor.errors import ConfigError
from datamonitor.outliers import added
from datamonitor.partner import Series, partner_band, partners
from datamonitor.records import KpiRecord
from datamonitor.tests.helpers import memory_meta

START = date(2013, 3, 4)  # a Monday
KEY = "/data/flights_#-#-#.csv"


def _at(i: int, name: str, value: float, subject: str | None = None, unit: str = "rows") -> KpiRecord:
    day = START + timedelta(days=i)
    return KpiRecord(name=name, value=value, unit=unit, subject=subject, dataset="datamonitor.file", host="h",
                     file_path=f"/data/flights_{day.isoformat()}.csv",
                     timestamp=datetime(2026, 11, 1, tzinfo=timezone.utc) + timedelta(days=i))


# 20 days of rows without a weekly rhythm: median 1000, MAD 10
ROWS = [1000, 1010, 990, 1020, 980, 1005, 995, 1015, 985, 1000, 1010, 990, 1025, 975, 1000, 1012, 988, 1003, 997,
        1000]


def test_an_anomaly_enters_the_history_as_its_expected_value_and_raises_no_later_false_alarm() -> None:
    b = Baselines(memory_meta(), BaselineSettings(min_change=()))
    for i, v in enumerate(ROWS):
        assert b.observe([_at(i, "file.rows", v)]).anomalies == []
    assert b.observe([_at(20, "file.rows", 400)]).anomalies  # a day with 60 % of its rows missing
    history = b.history(KEY, "file.rows||")
    assert history[-1] == 1000.0  # the band's median (that of ROWS), not 400: the Hampel filter
    later = [b.observe([_at(21 + i, "file.rows", v)]).anomalies for i, v in enumerate(ROWS[:8])]
    assert later == [[]] * 8


def test_a_lasting_level_shift_is_learned_after_level_shift_files() -> None:
    b = Baselines(memory_meta(), BaselineSettings(min_change=(), level_shift=3))
    for i, v in enumerate(ROWS):
        b.observe([_at(i, "file.rows", v)])
    new = [v * 2 for v in ROWS]  # twice the rows from day 20 on, for good
    found = [bool(b.observe([_at(20 + i, "file.rows", v)]).anomalies) for i, v in enumerate(new[:10])]
    assert found == [True, True, True] + [False] * 7  # the third confirms the new level; no alarm after it
    history = b.history(KEY, "file.rows||")
    # the 20 old values moved by the run's median less theirs (2000 - 1000), then the values as measured
    assert history[:20] == [v + 1000.0 for v in ROWS]
    assert history[20:] == [float(v) for v in new[:10]]
    assert robust_band(history).median == pytest.approx(2010.0, abs=15)
    assert b.open_anomalies(KEY) == {}  # the anomaly that opened at the change closed


def test_the_run_of_a_level_shift_is_broken_by_a_normal_value_or_the_other_side() -> None:
    band = Band(20, 1000.0, 10.0, 14.826, 940.7, 1059.3)
    runs: dict[str, list[float]] = {}
    history = [1000.0] * 5
    history = added(history, [-1] * 5, runs, 2000.0, -1, band, 67.0, 4.0, 3)
    history = added(history, [-1] * 6, runs, 10.0, -1, band, -67.0, 4.0, 3)  # the other side: a new run
    assert runs == {"all": [-1.0, 10.0]} and history == [1000.0] * 7
    history = added(history, [-1] * 7, runs, 1001.0, -1, band, 0.07, 4.0, 3)
    assert runs == {} and history[-1] == 1001.0
    assert added([], [], runs, 5.0, -1, Band(0), None, 4.0, 3) == [5.0]  # no baseline yet: as measured


def _nulls(i: int, a: float, b: float) -> list[KpiRecord]:
    return [_at(i, "column.null_ratio", a, "dep_time", "ratio"), _at(i, "column.null_ratio", b, "arr_time", "ratio")]


# two columns' nulls that move together: storms cancel flights (usual 1-3 %, stormy days up to 9 %)
STORMS = [0.01, 0.02, 0.015, 0.06, 0.012, 0.018, 0.03, 0.011, 0.09, 0.014, 0.02, 0.016, 0.05, 0.013, 0.019, 0.012,
          0.025, 0.017, 0.07, 0.015, 0.021, 0.014]


def test_a_partner_survives_one_faulty_file_in_the_window() -> None:
    b = Baselines(memory_meta())
    for i, v in enumerate(STORMS):
        b.observe(_nulls(i, v, v + 0.002))
    fault = b.observe(_nulls(22, 0.015, 0.20))  # arr_time alone: 20 % of nulls
    assert [a.subject for a in fault.anomalies] == ["column.null_ratio on arr_time"]
    # the 20 % entered arr_time's history as its expected value: the two columns still correlate
    series = {k: Series(b.history(KEY, k), list(range(23)), 0.0)
              for k in ("column.null_ratio|dep_time|", "column.null_ratio|arr_time|")}
    assert set(partners(series)) == set(series)
    storm = b.observe(_nulls(23, 0.08, 0.083))  # a storm the next day: both columns, no news given the other
    assert storm.anomalies == []


def test_a_weekday_out_of_band_three_weeks_in_a_row_is_a_new_rhythm() -> None:
    band = Band(30, 1000.0, 10.0, 14.826, 940.7, 1059.3)
    runs: dict[str, list[float]] = {}
    history, weekdays = [1000.0] * 7, list(range(7))
    for _week in range(3):  # three Saturdays at 500, a normal Monday between them
        history = added(history, weekdays, runs, 500.0, 5, band, -33.7, 4.0, 3)
        weekdays.append(5)
        history = added(history, weekdays, runs, 1000.0, 0, band, 0.0, 4.0, 3)
        weekdays.append(0)
    assert [v for v, wd in zip(history, weekdays, strict=True) if wd == 5][-3:] == [500.0, 500.0, 500.0]
    assert runs == {}


def _file(i: int, nulls: float, mean: float, distinct: float = 600.0) -> list[KpiRecord]:
    return [_at(i, "file.rows", 1000.0), _at(i, "column.null_ratio", nulls, "dep_time", "ratio"),
            _at(i, "column.mean", mean, "dep_time", None), _at(i, "column.std", 400.0, "dep_time", None),
            _at(i, "column.distinct", distinct, "dep_time", "values")]


def test_the_mean_and_distinct_count_of_an_incomplete_column_are_judged_with_what_the_nulls_explain() -> None:
    b = Baselines(memory_meta())
    for i in range(20):
        b.observe(_file(i, 0.02 + 0.001 * (i % 3), 1350.0 + 5 * (i % 4), 600.0 + 10 * (i % 5)))
    means = b.history(KEY, "column.mean|dep_time|")
    nulls = b.history(KEY, "column.null_ratio|dep_time|")
    # the afternoon's flights cancelled: half the times missing, those left are the morning's, their mean 6 hours
    # early and their distinct count halved
    storm = b.observe(_file(20, 0.5, 990.0, 317.0))
    assert [a.subject for a in storm.anomalies] == ["column.null_ratio on dep_time"]  # the nulls: no partner here
    # the share of the usual values there, q = 0.5 / (1 - 0.021); a mean over it is at most 400 * sqrt((1 - q) / q)
    # from the mean of them all
    usual = robust_band(nulls, 8.0).median
    assert usual == 0.021
    q = 0.5 / (1 - usual)
    bound = 400.0 * np.sqrt((1 - q) / q)
    plain = robust_band(means, 8.0)
    [mean] = [r for r in storm.records if r.name == "column.mean"]
    assert mean.expected == plain.median and mean.score == 0.0  # within what the missing values explain
    assert (mean.lower, mean.upper) == (pytest.approx(plain.lower - bound), pytest.approx(plain.upper + bound))
    [distinct] = [r for r in storm.records if r.name == "column.distinct"]
    lost = 1000 * (0.5 - usual)  # at most one distinct value lost per value missing beyond the usual: 479
    counts = robust_band(b.history(KEY, "column.distinct|dep_time|")[:-1], 8.0)  # median 620, scale 14.826
    assert (counts.median, counts.scale) == (620.0, pytest.approx(14.826))
    assert distinct.score == 0.0 and distinct.lower == pytest.approx(counts.lower - lost)  # 22.4: 317 is in
    assert distinct.upper == counts.upper  # fewer values never make more distinct ones
    # not anomalies: they enter the histories as measured (storms move several columns' values together)
    assert b.history(KEY, "column.distinct|dep_time|")[-1] == 317.0
    assert b.history(KEY, "column.mean|dep_time|")[-1] == 990.0
    # a mean beyond that bound is news even on such a day: 500 is 857.5 below, over the bound by 466
    shifted = b.observe(_file(21, 0.5, 500.0))
    assert "column.mean on dep_time" in [a.subject for a in shifted.anomalies]
    [mean] = [r for r in shifted.records if r.name == "column.mean"]
    band = robust_band(b.history(KEY, "column.mean|dep_time|")[:-1], 8.0)  # the window before day 21
    assert mean.score == pytest.approx((500.0 - (band.median - bound)) / band.scale)  # type: ignore[operator]


def test_a_partner_band_widens_in_proportion_to_the_partner_beyond_its_usual_size() -> None:
    rng = np.random.default_rng(1)
    x = 0.02 + 0.005 * rng.random(30)
    y = 0.4 * x + 0.001 * rng.random(30)
    at = list(range(30))
    usual = partner_band(Series(y, at, 0.0), Series(x, at, float(np.median(x))), "p", 0.9, 0.001)
    storm = partner_band(Series(y, at, 0.0), Series(x, at, 0.5), "p", 0.9, 0.001)
    assert usual is not None and storm is not None
    sxx = float(((x - x.mean()) ** 2).sum())
    widening = np.sqrt(1 + 1 / 30 + (0.5 - x.mean()) ** 2 / sxx) / np.sqrt(1 + 1 / 30 + (np.median(x) - x.mean()) ** 2
                                                                            / sxx)
    assert storm.scale / usual.scale == pytest.approx(widening * 0.5 / float(np.median(x)), rel=1e-9)


def test_a_calendar_day_raises_nothing_and_teaches_nothing() -> None:
    thanksgiving = (START + timedelta(days=20)).isoformat()
    b = Baselines(memory_meta(), BaselineSettings(calendar=(thanksgiving,)))
    for i, v in enumerate(ROWS):
        b.observe([_at(i, "file.rows", v)])
    quiet = b.observe([_at(20, "file.rows", 400)])
    assert quiet.anomalies == [] and quiet.notifications == [] and quiet.records[0].score is None
    assert b.history(KEY, "file.rows||") == [float(v) for v in ROWS]
    # the day after is no holiday: the same drop is news
    assert [a.subject for a in b.observe([_at(21, "file.rows", 400)]).anomalies] == ["file.rows"]


def test_no_missing_file_anomaly_for_a_calendar_day() -> None:
    def sha(i: int) -> KpiRecord:
        return KpiRecord(name="file.sha256", text=f"sha{i}", dataset="datamonitor.file", host="h",
                         file_path=f"/data/flights_{(START + timedelta(days=i)).isoformat()}.csv",
                         timestamp=datetime(2026, 11, 1, tzinfo=timezone.utc))
    off = (START + timedelta(days=10)).isoformat()
    b = Baselines(memory_meta(), BaselineSettings(calendar=[f"{off}..{off}"]))
    for i in range(10):
        b.observe([sha(i)])
    assert b.observe([sha(12)]).anomalies[0].labels["day"] == (START + timedelta(days=11)).isoformat()  # the 11th only


def test_public_holidays_come_from_the_holidays_package() -> None:
    pytest.importorskip("holidays")
    us = BaselineSettings(holidays="US").days_off
    assert "2013-11-28" in us and "2013-07-04" in us  # Thanksgiving, Independence Day
    assert "2013-11-29" not in us  # the day after Thanksgiving is no public holiday
    ny = BaselineSettings(holidays="US-NY", calendar=(date(2013, 12, 24),)).days_off
    assert "2013-02-12" in ny and "2013-12-24" in ny  # Lincoln's Birthday in New York; the listed day
    assert not BaselineSettings().days_off


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_calendar_in_the_config_file(tmp_path: Path) -> None:
    conf = write(tmp_path / "c.toml", '[baseline]\ncalendar = [2026-12-24, "2026-12-30..2027-01-02"]\n'
                 'level_shift = 5\n\n[[baseline.datasets]]\nmatch = "sales*"\nholidays = "US"\n')
    cfg = load_config(conf, env={}, home=tmp_path / "h")
    assert cfg.baseline is not None and cfg.baseline.level_shift == 5
    days = cfg.baseline.days_off
    assert "2026-12-24" in days and "2027-01-01" in days and "2026-12-29" not in days and "2026-11-26" not in days
    sales = cfg.baseline.for_dataset("/in/sales_#.csv").days_off  # Thanksgiving too, and the inherited days
    assert "2026-11-26" in sales and "2026-12-24" in sales


@pytest.mark.parametrize(("text", "message"), [
    ('[baseline]\ncalendar = "2026-12-24"\n', "[baseline]: calendar must be a list of days and ranges"),
    ('[baseline]\ncalendar = ["24/12/2026"]\n', "[baseline]: calendar entry '24/12/2026' is not a day"),
    ('[baseline]\ncalendar = ["2026-12-26..2026-12-24"]\n', "[baseline]: calendar range '2026-12-26..2026-12-24' "
     "ends before it starts"),
    ('[baseline]\nholidays = "XX"\n', "[baseline]: holidays = 'XX': Country XX not available"),
    ('[baseline]\nholidays = 1\n', "[baseline]: holidays must be a country code"),
    ('[[baseline.datasets]]\nmatch = "a"\nlevel_shift = 0\n', "[baseline.datasets][0]: level_shift must be a whole"),
    ('[baseline]\nlevel_shift = "x"\n', "[baseline]: level_shift must be a number"),
])
def test_a_bad_calendar_or_level_shift_is_one_error_naming_the_file_table_and_key(tmp_path: Path, text: str,
                                                                                  message: str) -> None:
    if "holidays = \"XX\"" in text:
        pytest.importorskip("holidays")
    conf = write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError) as err:
        load_config(conf, env={}, home=tmp_path / "h")
    assert str(err.value).startswith(f"{conf}: {message}") and "\n" not in str(err.value)
