"""Disk KPIs: the figures df prints, real mounts only, inodes."""

from __future__ import annotations

import os
import subprocess
from collections import namedtuple
from pathlib import Path

import pytest

from datamonitor import DataMonitor, SourceError
from datamonitor.sources.disk import DiskSource, df_percent, real_mounts, used_percent


def by_name(records) -> dict[str, float]:
    return {r.name: r.value for r in records}


def test_bytes_and_used_percent_match_df(tmp_path: Path) -> None:
    line = subprocess.run(["df", "-P", "-B1", str(tmp_path)], capture_output=True, text=True, check=True
                          ).stdout.splitlines()[1].split()
    total, used, avail, capacity = int(line[1]), int(line[2]), int(line[3]), int(line[4].rstrip("%"))
    kpis = by_name(DiskSource([str(tmp_path)]).collect())
    # df and we read the filesystem a moment apart: allow what a busy disk changes in between
    assert kpis["disk.total_bytes"] == total
    assert abs(kpis["disk.used_bytes"] - used) < 64 << 20 and abs(kpis["disk.free_bytes"] - avail) < 64 << 20
    assert abs(df_percent(int(kpis["disk.used_bytes"]), int(kpis["disk.free_bytes"])) - capacity) <= 1


def test_inodes_match_df_i(tmp_path: Path) -> None:
    line = subprocess.run(["df", "-P", "-i", str(tmp_path)], capture_output=True, text=True, check=True
                          ).stdout.splitlines()[1].split()
    kpis = by_name(DiskSource([str(tmp_path)]).collect())
    if int(line[1]) == 0:
        pytest.skip("this filesystem has no inode count")
    assert kpis["disk.inodes_total"] == int(line[1])
    assert abs(kpis["disk.inodes_free"] - int(line[3])) < 10_000


Stat = namedtuple("Stat", "f_frsize f_blocks f_bfree f_bavail f_files f_ffree f_favail")


def test_used_percent_is_computed_as_df_does_with_reserved_blocks() -> None:
    # 1000 blocks of 4 KiB, 300 free of which 250 are available to users (50 reserved for root)
    src = DiskSource(["/data"], statvfs=lambda _p: Stat(4096, 1000, 300, 250, 100, 40, 40))
    kpis = by_name(src.collect())
    assert kpis["disk.used_bytes"] == 700 * 4096 and kpis["disk.free_bytes"] == 250 * 4096
    assert kpis["disk.used_pct"] == pytest.approx(100 * 700 / 950)
    assert df_percent(700, 250) == 74 and used_percent(0, 0) == 0.0
    assert kpis["disk.inodes_used_pct"] == pytest.approx(60.0)


def test_pseudo_filesystems_are_skipped() -> None:
    Part = namedtuple("Part", "device mountpoint fstype opts")
    parts = [Part("/dev/sda1", "/", "ext4", "rw"), Part("proc", "/proc", "proc", "rw"),
             Part("tmpfs", "/run", "tmpfs", "rw"), Part("/dev/sdb1", "/data", "xfs", "rw"),
             Part("overlay", "/var/lib/docker/x", "overlay", "rw"), Part("/dev/sdb1", "/data", "xfs", "rw")]
    assert real_mounts(lambda **_kw: parts) == ["/", "/data"]
    assert "/" in real_mounts() or real_mounts() == []  # the real list, on this machine


def test_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=str(tmp_path / "nope")):
        list(DiskSource([str(tmp_path / "nope")]).collect())


def test_disk_kpis_are_stored_with_the_mount_as_subject(tmp_path: Path, home: Path) -> None:
    with DataMonitor() as dm:
        monitor = dm.monitor(DiskSource([str(tmp_path)]), interval=1)
        monitor.step()
        hit = dm.search(name="disk.used_pct")[0]["_source"]
        assert hit["kpi"]["subject"] == str(tmp_path) and hit["event"]["dataset"] == "datamonitor.disk"
        assert 0 <= hit["kpi"]["value"] <= 100 and os.path.isdir(hit["kpi"]["subject"])
