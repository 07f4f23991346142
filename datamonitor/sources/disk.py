"""Disk usage per filesystem: bytes, used percent as ``df`` computes it, and inodes.

Paths may be given; otherwise every real mounted filesystem is measured
(psutil's list without pseudo filesystems such as proc, sysfs or tmpfs
overlays). The operating system calls are parameters, so tests need no
monkeypatching.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from ..errors import SourceError
from ..records import KpiRecord

__all__ = ["DiskSource", "real_mounts", "used_percent"]

log = logging.getLogger(__name__)

DATASET = "datamonitor.disk"
_PSEUDO = {"proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "securityfs", "pstore", "debugfs",
           "tracefs", "configfs", "fusectl", "mqueue", "hugetlbfs", "bpf", "autofs", "binfmt_misc", "rpc_pipefs",
           "nsfs", "squashfs", "overlay", "tmpfs", "ramfs", "efivarfs"}


def used_percent(used: int, avail: int) -> float:
    """Used share of the space a user can have, as ``df`` prints it (before it rounds up)."""
    usable = used + avail
    return 100.0 * used / usable if usable else 0.0


def real_mounts(partitions: Callable[..., Any] | None = None) -> list[str]:
    """Mount points of real filesystems, without pseudo and overlay ones."""
    if partitions is None:
        import psutil

        partitions = psutil.disk_partitions
    seen: dict[str, None] = {}
    for part in partitions(all=False):
        if part.fstype and part.fstype not in _PSEUDO:
            seen.setdefault(part.mountpoint, None)
    return list(seen)


class DiskSource:
    """Measures disks: one set of KPIs per path or mount point."""

    name = "disk"

    def __init__(self, paths: Iterable[str] | None = None, *,
                 statvfs: Callable[[str], os.statvfs_result] = os.statvfs,
                 partitions: Callable[..., Any] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.paths = list(paths) if paths else None
        self._statvfs, self._partitions, self._clock = statvfs, partitions, clock
        #: the paths the last ``collect()`` could not measure, each with the reason
        self.errors: list[str] = []

    def targets(self) -> list[str]:
        return self.paths if self.paths is not None else real_mounts(self._partitions)

    def collect(self) -> Iterator[KpiRecord]:
        """The KPIs of every path that can be measured; a path that cannot is logged and kept in ``errors``.

        Raises :class:`~datamonitor.errors.SourceError` only when no path at all could be measured.
        """
        now = self._clock()
        self.errors = []
        targets = self.targets()
        for path in targets:
            try:
                st = self._statvfs(path)
            except OSError as exc:
                message = f"{path}: cannot measure the filesystem: {exc.strerror or exc}"
                self.errors.append(message)
                if len(self.errors) == len(targets):
                    raise SourceError("; ".join(self.errors)) from None
                log.warning("%s", message)
                continue
            total = st.f_blocks * st.f_frsize
            used = (st.f_blocks - st.f_bfree) * st.f_frsize
            avail = st.f_bavail * st.f_frsize
            values: list[tuple[str, float | int, str]] = [
                ("disk.total_bytes", total, "bytes"), ("disk.used_bytes", used, "bytes"),
                ("disk.free_bytes", avail, "bytes"), ("disk.used_pct", used_percent(used, avail), "percent"),
            ]
            if st.f_files:
                values += [("disk.inodes_total", st.f_files, "inodes"), ("disk.inodes_free", st.f_favail, "inodes"),
                           ("disk.inodes_used_pct", 100.0 * (st.f_files - st.f_ffree) / st.f_files, "percent")]
            for name, value, unit in values:
                yield KpiRecord(name=name, value=value, unit=unit, subject=path, dataset=DATASET, timestamp=now)


def df_percent(used: int, avail: int) -> int:
    """The integer ``df`` prints: the used percent rounded up."""
    return math.ceil(used_percent(used, avail))
