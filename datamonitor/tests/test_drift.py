"""Distribution drift: PSI between a file's deciles and its dataset's baseline, by hand and end to end."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datamonitor import DataMonitor
from datamonitor.baseline import Baselines
from datamonitor.drift import STABLE, cdf, psi, reading, shares
from datamonitor.errors import PayloadError
from datamonitor.records import KpiRecord, to_document
from datamonitor.templates import mapping
from datamonitor.tests.helpers import memory_meta

UNIFORM = [float(i) for i in range(11)]  # values spread evenly over 0..10: minimum, deciles 1..9, maximum


def test_the_cdf_of_a_summary_by_hand() -> None:
    assert cdf(UNIFORM, -1) == 0 and cdf(UNIFORM, 10) == 1 and cdf(UNIFORM, 2.5) == pytest.approx(0.25)
    # half the values are 0 (a mass): at 0 the share is all of them
    mass = [0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5]
    assert cdf(mass, 0) == pytest.approx(0.5) and cdf(mass, 1.5) == pytest.approx(0.65)
    assert shares(UNIFORM, [5.0]) == pytest.approx([0.5, 0.5])


def test_psi_against_a_hand_computation() -> None:
    # the same distribution: every bin holds a tenth in both, PSI 0
    assert psi(UNIFORM, [UNIFORM] * 7) == pytest.approx(0.0, abs=1e-12)
    # shifted by one: the baseline's bins are (-inf,1], (1,2], ..., (9,inf), a tenth each; the shifted file has
    # nothing in the first (floored to 1e-4), a tenth in the next eight and a fifth in the last:
    # (1e-4 - 0.1) ln(1e-4 / 0.1) + (0.2 - 0.1) ln 2 = 0.69008 + 0.06931
    shifted = [v + 1 for v in UNIFORM]
    by_hand = (1e-4 - 0.1) * math.log(1e-4 / 0.1) + 0.1 * math.log(2)
    assert psi(shifted, [UNIFORM] * 7) == pytest.approx(by_hand, rel=1e-9)
    assert reading(0.05) == "stable" and reading(0.2) == "a moderate change" and reading(by_hand) == "a shift"


def _deciles(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in np.quantile(values, np.linspace(0, 1, 11)))


def test_psi_of_samples_from_deciles_is_near_the_psi_of_the_samples_themselves() -> None:
    # the oracle: PSI counted on the raw values in the baseline's decile bins (numpy), as it is usually computed
    rng = np.random.default_rng(7)
    base = [rng.normal(0, 1, 5_000) for _ in range(10)]
    for shift, low, high in ((0.0, 0, STABLE), (0.5, 0.1, 0.5), (3.0, 2.0, 20.0)):
        new = rng.normal(shift, 1, 5_000)
        edges = np.quantile(np.concatenate(base), np.linspace(0.1, 0.9, 9))
        e = np.histogram(np.concatenate(base), [-np.inf, *edges, np.inf])[0] / 50_000
        a = np.maximum(np.histogram(new, [-np.inf, *edges, np.inf])[0] / 5_000, 1e-4)
        oracle = float(((a - e) * np.log(a / e)).sum())
        ours = psi(_deciles(new), [_deciles(b) for b in base])
        assert low <= ours <= high and low <= oracle <= high, (shift, ours, oracle)
        assert ours == pytest.approx(oracle, rel=0.35, abs=0.02)


def _summary(day: date, summary: list[float]) -> KpiRecord:
    return KpiRecord(name="column.deciles", subject="delay", deciles=tuple(summary), dataset="datamonitor.file",
                     host="h", file_path=f"/data/flights_{day.isoformat()}.csv",
                     timestamp=datetime(2026, 11, 1, tzinfo=timezone.utc))


def test_baselines_add_a_psi_record_once_a_column_has_history() -> None:
    baselines = Baselines(memory_meta())
    start = date(2013, 6, 1)
    for i in range(7):
        out = baselines.observe([_summary(start + timedelta(days=i), UNIFORM)]).records
        assert [r.name for r in out] == ["column.deciles"], "no PSI before 7 files"
    out = baselines.observe([_summary(start + timedelta(days=7), [v + 1 for v in UNIFORM])]).records
    [drifted] = [r for r in out if r.name == "column.psi"]
    assert drifted.subject == "delay" and drifted.value == pytest.approx(
        (1e-4 - 0.1) * math.log(1e-4 / 0.1) + 0.1 * math.log(2), abs=1e-6)


def test_deciles_are_stored_not_indexed_and_read_back(tmp_path: Path, home: Path) -> None:
    props = mapping()["properties"]["kpi"]["properties"]
    assert props["deciles"] == {"type": "double", "index": False, "doc_values": False}
    with pytest.raises(PayloadError, match="deciles"):
        KpiRecord(name="column.deciles", deciles=(3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0))
    values = pd.Series(np.arange(1, 1001, dtype=float))
    data = tmp_path / "sales_1.csv"
    pd.DataFrame({"price": values, "shop": ["a"] * 1000}).to_csv(data, index=False)
    with DataMonitor() as dm:
        dm.collect_file(data)
        [hit] = dm.search(name="column.deciles")
        stored = hit["_source"]["kpi"]["deciles"]
        # pandas as the oracle: the same linear interpolation
        assert stored == pytest.approx([1.0, *values.quantile(np.linspace(0.1, 0.9, 9)).tolist(), 1000.0])
        assert KpiRecord.from_payload(hit["_source"]).deciles == tuple(stored)
        assert "deciles" in to_document(KpiRecord.from_payload(hit["_source"]))["kpi"]
