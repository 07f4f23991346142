"""'watch start|stop|status': a background watcher with a pid file, log file and stale-pid detection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from datamonitor import DataMonitor, DataMonitorError, daemon, load_config
from datamonitor.cli import main
from datamonitor.tests.helpers import wait_until


def test_start_status_stop_and_the_file_is_measured(tmp_path: Path, home: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    assert main(["watch", "start", str(inbox), "--settle", "0.1"]) == 0
    try:
        assert main(["watch", "status"]) == 0
        assert "running (pid" in capsys.readouterr().out
        assert main(["watch", "start", str(inbox)]) == 1, "a second start is refused"
        assert "already running" in capsys.readouterr().err
        (inbox / "feed.csv").write_text("a,b\n1,2\n3,4\n")
        def rows() -> list:
            with DataMonitor(load_config(home=home)) as dm:
                return dm.search(name="file.rows")

        found = wait_until(rows, what="feed.csv measured by the background watcher")
        assert found[0]["_source"]["kpi"]["value"] == 2
    finally:
        assert main(["watch", "stop"]) == 0
    assert main(["watch", "status"]) == 1
    out = capsys.readouterr().out
    assert "stopped (pid" in out and "not running" in out
    assert "measured 1 file(s)" in (home / "run" / "watch.log").read_text()


def test_a_stale_pid_file_is_detected_and_replaced(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run_dir / "watch.pid").write_text(f"{dead.pid}\n")
    assert daemon.status(run_dir, "watch") == ("stale", dead.pid)
    assert daemon.stop(run_dir, "watch") == "removed a stale pid file"
    assert daemon.status(run_dir, "watch") == ("stopped", None)


def test_a_pid_reused_by_another_program_is_stale(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    other = subprocess.Popen(["sleep", "5"])
    try:
        (run_dir / "watch.pid").write_text(f"{other.pid}\n")
        assert daemon.status(run_dir, "watch")[0] == "stale"
    finally:
        other.kill()
        other.wait()


def test_a_child_that_dies_at_once_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DataMonitorError, match="exited at once"):
        daemon.start(tmp_path / "run", "watch", ["watch", str(tmp_path / "missing")], ready="datamonitor: watching")


def test_a_pid_file_holding_a_number_no_process_can_have_is_stale(tmp_path: Path) -> None:
    # os.kill raised OverflowError: 'watch status' and 'watch stop' were tracebacks
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for text in ("99999999999999999999", "-5", "0"):
        (run_dir / "watch.pid").write_text(f"{text}\n")
        assert daemon.status(run_dir, "watch") == ("stale", None)
    assert daemon.stop(run_dir, "watch") == "removed a stale pid file"


def test_a_start_whose_pid_file_cannot_be_written_leaves_nothing_running(tmp_path: Path) -> None:
    # the watcher was left running, which no 'watch stop' could reach (found by review)
    import os

    from datamonitor.daemon import _pid_file

    run_dir, inbox = tmp_path / "run", tmp_path / "inbox"
    run_dir.mkdir()
    inbox.mkdir()
    _pid_file(run_dir, "watch").mkdir()  # a folder where the pid file goes
    started: list[int] = []
    real = daemon.subprocess.run

    def spy(*args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
        done = real(*args, **kwargs)  # type: ignore[call-overload]
        started.append(int(done.stdout.strip()))
        return done  # type: ignore[no-any-return]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(daemon.subprocess, "run", spy)
        with pytest.raises(DataMonitorError, match="was stopped: its pid file cannot be written"):
            daemon.start(run_dir, "watch", ["watch", str(inbox)], ready="datamonitor: watching")

    def gone() -> bool:
        try:
            os.kill(started[0], 0)
        except ProcessLookupError:
            return True
        return Path(f"/proc/{started[0]}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")

    wait_until(gone, what="the watcher stopped")
    assert not (run_dir / "watch.pid.tmp").exists()
