"""The directory watcher, with real files: writes, rsync, renames, growing files, restarts."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from datamonitor import DataMonitor, load_config
from datamonitor.sources.watch import DirectoryWatcher, Measured, ignored
from datamonitor.tests.helpers import cli_until_sigterm

CSV = "a,b\n" + "".join(f"{i},x{i}\n" for i in range(100))


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def seen(tmp_path: Path) -> Iterator[tuple[Path, list[Path], DirectoryWatcher]]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    measured: list[Path] = []
    watcher = DirectoryWatcher([inbox], measured.append, settle=0.2)
    watcher.start()
    try:
        yield inbox, measured, watcher
    finally:
        watcher.stop()


def settled(watcher: DirectoryWatcher) -> None:
    time.sleep(0.5)
    assert wait_for(watcher.idle)


def test_default_ignore_patterns() -> None:
    for name in ("a.tmp", "a.tmp.1", "a.part", "a.crdownload", ".hidden", ".data.csv.Xy12Ab"):
        assert ignored(Path(name), ("*.tmp*", "*.part", "*.crdownload", ".*")), name
    assert not ignored(Path("data.csv"), ("*.tmp*", "*.part", "*.crdownload", ".*"))


def test_a_written_file_is_measured_once(seen) -> None:
    inbox, measured, watcher = seen
    (inbox / "a.csv").write_text(CSV)
    assert wait_for(lambda: measured == [inbox / "a.csv"])
    settled(watcher)
    assert measured == [inbox / "a.csv"]


@pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed (.ci/run installs it)")
def test_rsync_into_the_folder_gives_the_final_name_only(seen, tmp_path: Path) -> None:
    inbox, measured, watcher = seen
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / f"part{i}.csv").write_text(CSV)
    subprocess.run(["rsync", "-a", f"{src}/", f"{inbox}/"], check=True)
    assert wait_for(lambda: len(measured) == 5)
    settled(watcher)
    assert sorted(p.name for p in measured) == [f"part{i}.csv" for i in range(5)]


def test_a_part_file_renamed_into_place_is_measured_under_its_final_name(seen) -> None:
    inbox, measured, _watcher = seen
    (inbox / "big.csv.part").write_text(CSV)
    time.sleep(0.5)
    assert measured == []
    os.rename(inbox / "big.csv.part", inbox / "big.csv")
    assert wait_for(lambda: measured == [inbox / "big.csv"])


def test_a_growing_file_waits_until_it_holds_still(seen) -> None:
    inbox, measured, watcher = seen
    path = inbox / "growing.csv"
    with path.open("w") as fh:
        fh.write("a,b\n")
        for i in range(8):
            fh.write(f"{i},x\n")
            fh.flush()
            time.sleep(0.1)
    assert wait_for(lambda: measured == [path])
    settled(watcher)
    assert measured == [path]


def test_restart_catches_up_and_never_measures_the_same_content_twice(tmp_path: Path, home: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "old.csv").write_text(CSV)
    with DataMonitor() as dm:
        watcher = dm.watcher(inbox, settle=0.1)
        watcher.start()
        assert wait_for(lambda: watcher.processed == 1)
        watcher.stop()
        (inbox / "while_down.csv").write_text(CSV)  # arrives while nothing watches
        watcher = dm.watcher(inbox, settle=0.1)
        watcher.start()
        assert wait_for(lambda: watcher.processed == 1)
        settled(watcher)
        watcher.stop()
        assert watcher.processed == 1, "old.csv was not measured again"
        names = {h["_source"]["file"]["name"] for h in dm.search(name="file.rows", limit=10)}
        assert names == {"old.csv", "while_down.csv"}


def test_watch_command_until_sigterm(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    def drop() -> None:
        shutil.copy(Path(__file__), inbox / "not-data.py")  # measured as a one-column CSV is fine; proves it reacts
        (inbox / "feed.csv").write_text(CSV)

    code, out, err = cli_until_sigterm(["watch", str(inbox), "--settle", "0.1", "--json"], tmp_path / "home",
                                       start_wait=2.0, during=drop, after_wait=2.0)
    assert code == 0, err
    assert '"processed": 2' in out
    with DataMonitor(load_config(home=tmp_path / "home")) as dm:
        rows = {h["_source"]["file"]["name"]: h["_source"]["kpi"]["value"] for h in dm.search(name="file.rows")}
        assert rows["feed.csv"] == 100


def test_finished_files_are_hashed_once_and_committed_together(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    measured: list[tuple[str, str]] = []
    batches: list[list[str]] = []
    gate = threading.Event()

    def measure(path: Path, digest: str) -> str:
        measured.append((path.name, digest))
        return path.name

    def commit(done: list[Measured]) -> None:
        batches.append([m.value for m in done])
        if len(batches) == 1:
            gate.wait(10)  # a slow commit: the files finished meanwhile must wait, then go in one

    watcher = DirectoryWatcher([inbox], measure=measure, commit=commit, settle=0.1)
    watcher.start()
    try:
        for i in range(12):
            (inbox / f"f{i}.csv").write_text(CSV + str(i))
        assert wait_for(lambda: len(measured) == 12)
        gate.set()
        assert wait_for(lambda: watcher.processed == 12)
        settled(watcher)
    finally:
        gate.set()
        watcher.stop()
    assert sorted(measured) == sorted((f"f{i}.csv", hashlib.sha256((CSV + str(i)).encode()).hexdigest())
                                      for i in range(12))
    assert sorted(name for b in batches for name in b) == sorted(f"f{i}.csv" for i in range(12))
    assert len(batches) <= 2 and max(len(b) for b in batches) > 1


def test_the_watcher_commits_records_schema_and_its_memory_of_a_file_together(tmp_path: Path, home: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with DataMonitor(load_config(home=home)) as dm:
        watcher = dm.watcher(inbox, settle=0.1)
        watcher.start()
        try:
            for i in range(6):
                (inbox / f"sales_{i}.csv").write_text(CSV)
            assert wait_for(lambda: watcher.processed == 6)
        finally:
            watcher.stop()
        meta = dict(dm.store._query("SELECT key, value FROM meta"))
        states = {k for k in meta if k.startswith("state:watch:")}
        assert states == {f"state:watch:{inbox.resolve() / f'sales_{i}.csv'}" for i in range(6)}
        assert sum(k.startswith("schema:") for k in meta) == 1
        shas = {h["_source"]["kpi"]["text"] for h in dm.search(name="file.sha256", limit=10)}
        assert shas == {hashlib.sha256(CSV.encode()).hexdigest()}
        assert len(dm.search(name="file.rows", limit=10)) == 6
