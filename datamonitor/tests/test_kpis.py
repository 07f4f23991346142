"""The KPI table is true: every KPI each source emits is in it, with the unit the source gives it."""

from __future__ import annotations

from pathlib import Path

from datamonitor import KpiRecord
from datamonitor.kpis import KPIS, find
from datamonitor.notify import Threshold, ThresholdSet
from datamonitor.sources.disk import DiskSource
from datamonitor.sources.files import file_kpis
from datamonitor.sources.udp import UdpListener


def _emitted(tmp_path: Path) -> list[KpiRecord]:
    data = tmp_path / "sales_1.csv"
    data.write_text("id,price,name,day\n1,2.5,ab,2026-11-01\n2,,cde,2026-11-02\n3,4.0,f,2026-11-03\n")
    records = list(file_kpis(data, previous_schema=[["id", "integer"]]).records)
    records += list(DiskSource([str(tmp_path)]).collect())
    listener = UdpListener("127.0.0.1", 0, sink=lambda _r: None)
    records += listener.flush()
    records += ThresholdSet([Threshold("disk.used_pct", above=0)]).check(
        [r for r in records if r.name == "disk.used_pct"])
    return records


def test_every_emitted_kpi_is_in_the_table_with_its_unit(tmp_path: Path) -> None:
    emitted = _emitted(tmp_path)
    names = {r.name for r in emitted}
    assert {"file.rows", "column.p95", "column.max_length", "disk.free_bytes", "udp.received", "notification",
            "file.schema_drift"} <= names, "the sample covers every source"
    for record in emitted:
        entry = find(record.name)
        assert entry is not None, f"{record.name} is emitted but not in datamonitor/kpis.py"
        if record.name != "notification":  # a notification carries the unit of the KPI it is about
            assert entry.unit == record.unit, f"{record.name}: the table says {entry.unit}, the source {record.unit}"


def test_the_table_has_no_duplicates_and_every_entry_is_explained() -> None:
    names = [k.name for k in KPIS]
    assert len(names) == len(set(names))
    assert all(k.meaning and k.source for k in KPIS)
