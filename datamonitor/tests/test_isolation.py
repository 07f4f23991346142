"""An engine crash costs one file: the worker process, and the same KPIs in and out of it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd
import pytest

from datamonitor.isolation import IsolatedEngine
from datamonitor.profiling import ProfileOptions, profile_file
from datamonitor.sources.files import FileSource

CRASHING = "datamonitor.tests.crashing_engine:profile_file"


def _files(tmp_path: Path, names: list[str]) -> list[Path]:
    out = []
    for i, name in enumerate(names):
        path = tmp_path / name
        pd.DataFrame({"a": range(i + 1), "b": [f"x{j}" for j in range(i + 1)]}).to_csv(path, index=False)
        out.append(path)
    return out


def test_a_crash_fails_that_file_and_the_run_goes_on(tmp_path: Path) -> None:
    paths = _files(tmp_path, ["a.csv", "crash1.csv", "b.csv", "crash2.csv", "c.csv"])
    source = FileSource(paths)
    source.engine_factory = lambda: IsolatedEngine(CRASHING)
    results = list(source.results_iter())
    assert [r.path.name for r in results] == ["a.csv", "crash1.csv", "b.csv", "crash2.csv", "c.csv"]
    for r in results:
        if r.path.name.startswith("crash"):
            assert r.error is not None and r.profile is None
            assert r.error == (f"{r.path}: the file engine crashed while measuring it (signal SIGSEGV); "
                               "the file was skipped and the run goes on")
        else:
            assert r.error is None and r.profile is not None
            assert r.profile.rows == len(pd.read_csv(r.path))


def test_the_command_line_reports_a_crash_in_one_line_and_measures_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import datamonitor.sources.files as files_module
    from datamonitor.cli import main

    paths = _files(tmp_path, ["a.csv", "crash.csv", "b.csv"])
    monkeypatch.setattr(files_module, "IsolatedEngine", lambda: IsolatedEngine(CRASHING))
    code = main(["--home", str(tmp_path / "home"), "file", *map(str, paths)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "a.csv" in out and "b.csv" in out and "Traceback" not in err
    assert f"datamonitor: {paths[1]}: the file engine crashed while measuring it (signal SIGSEGV)" in err


def test_the_worker_gives_the_same_profile_as_this_process(tmp_path: Path, flights_csv: Path) -> None:
    with IsolatedEngine() as engine:
        assert engine.worker_pid is None, "no worker before the first file"
        isolated = engine.profile(flights_csv, None, None)
        assert engine.worker_pid not in (None, os.getpid()), "measured in a process of its own"
    assert engine.worker_pid is None, "closed: the worker is gone"
    here = profile_file(flights_csv)
    assert dataclasses.replace(isolated, seconds=0) == dataclasses.replace(here, seconds=0)


def test_the_kpis_do_not_depend_on_the_chunk_size(flights_csv: Path) -> None:
    """One chunk or many (the pipelined path, merged statistics): the same exact KPIs."""
    whole = profile_file(flights_csv)
    parts = profile_file(flights_csv, ProfileOptions(chunk_bytes=1 << 20))
    assert (parts.rows, parts.bad_rows, parts.sha256) == (whole.rows, whole.bad_rows, whole.sha256)
    for a, b in zip(whole.columns, parts.columns, strict=True):
        assert (a.name, a.type, a.nulls, a.distinct, a.distinct_exact, a.min, a.max, a.min_length, a.max_length) == \
               (b.name, b.type, b.nulls, b.distinct, b.distinct_exact, b.min, b.max, b.min_length, b.max_length)
        for x, y in ((a.mean, b.mean), (a.std, b.std)):
            assert x == y or abs(x - y) <= 1e-9 * max(1.0, abs(x)), a.name
        assert a.quantiles == b.quantiles, a.name


def test_a_worker_that_dies_with_files_in_flight_is_replaced_without_mixing_up_the_answers(tmp_path: Path) -> None:
    """The worker crashes on the second file before the third is queued: the third still gets its own answer."""
    from datamonitor.tests.helpers import wait_until

    paths = _files(tmp_path, ["a.csv", "crash.csv", "b.csv", "c.csv"])
    engine = IsolatedEngine(CRASHING)

    def jobs():
        for i, path in enumerate(paths):
            if i == 2:  # wait for the crash on the file in flight
                wait_until(lambda: engine.worker_pid is None, timeout=60,
                           what="the worker to die on crash.csv", every=0.01)
            yield path, None, path.name

    try:
        answers = [(tag, profile.rows if profile else None, error) for _p, tag, profile, error
                   in engine.profile_many(jobs())]
    finally:
        engine.close()
    assert [(tag, rows) for tag, rows, _e in answers] == [("a.csv", 1), ("crash.csv", None), ("b.csv", 3),
                                                          ("c.csv", 4)]
    assert "crashed" in (answers[1][2] or "")
