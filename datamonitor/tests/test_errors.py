"""The one exception tree: each branch's exit code from the one table, errors that carry their parts, and loops
that outlive any failing step."""

from __future__ import annotations

import logging
import pickle
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from datamonitor import errors
from datamonitor.errors import (
    AuthenticationFailed,
    BacklogFull,
    ClusterUnreachable,
    ConfigError,
    DaemonError,
    DataMonitorError,
    NotConfigured,
    PayloadError,
    RequestRejected,
    ResourceUnavailable,
    SourceError,
    StoreError,
    UnknownKey,
    exit_code,
)
from datamonitor.loop import Monitor
from datamonitor.profiling import profile_file
from datamonitor.records import KpiRecord


@pytest.mark.parametrize("exc, code", [
    (ConfigError("x"), 2), (UnknownKey("x", key="k", known=()), 2), (NotConfigured("x"), 2), (PayloadError("x"), 2),
    (SourceError("x"), 1), (StoreError("x"), 1), (BacklogFull("x"), 1), (DaemonError("x"), 1),
    (DataMonitorError("x"), 1), (AuthenticationFailed("x"), 1), (RequestRejected("x"), 1),
    (ClusterUnreachable("x"), 3), (ResourceUnavailable("x"), 5), (PermissionError(13, "denied"), 5),
    (KeyboardInterrupt(), 130), (ValueError("a bug"), 1),
])
def test_each_branch_has_its_exit_code(exc: BaseException, code: int) -> None:
    assert exit_code(exc) == code


def test_the_tree_in_the_docstring_names_every_error_class() -> None:
    doc = errors.__doc__ or ""
    classes = [name for name in errors.__all__ if isinstance(getattr(errors, name), type)]
    assert len(classes) == 18
    for name in classes:
        assert re.search(rf"^    (.*── )?{name}\b", doc, re.M), f"{name} is not drawn in errors.py's docstring"


def test_errors_carry_their_parts_so_nothing_parses_a_message() -> None:
    err = ClusterUnreachable("Elasticsearch at http://x:9200 timed out", action="search")
    assert (str(err), err.reason, err.action) == ("search: Elasticsearch at http://x:9200 timed out",
                                                  "Elasticsearch at http://x:9200 timed out", "search")
    err2 = ConfigError.at("monitors[0].interval", "must be positive, not 0")
    assert (str(err2), err2.reason) == ("monitors[0].interval: must be positive, not 0", "must be positive, not 0")
    many = ConfigError(problems=["a: one", "b: two"])
    assert many.lines == ["a: one", "b: two"] and str(many) == "a: one\nb: two"


def test_a_source_error_carries_its_file_and_survives_the_engine_process(tmp_path: Path) -> None:
    """The file engine's worker sends its SourceError through a pipe: the path must not melt into the text."""
    err = SourceError("not a regular file (a FIFO)", path=tmp_path / "in.csv")
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), str(back), back.reason, back.path) == (
        SourceError, f"{tmp_path / 'in.csv'}: not a regular file (a FIFO)", "not a regular file (a FIFO)",
        tmp_path / "in.csv")
    plain = pickle.loads(pickle.dumps(SourceError("no file matches")))
    assert (str(plain), plain.path) == ("no file matches", None)
    # a reader's error without the file gets it from profile_file, once; one that names it is left alone
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(SourceError) as got:
        profile_file(bad)
    assert got.value.path == bad and str(got.value).count(str(bad)) == 1
    assert str(got.value) == f"{bad}: {got.value.reason}"


def test_a_bad_interval_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="interval must be positive, not 0") as err:
        Monitor(Flaky([]), interval=0)
    assert err.value.key == "interval"


class Flaky:
    """A source whose steps raise what it is given, in turn; None yields one record."""

    name = "flaky"

    def __init__(self, steps: list[BaseException | None]) -> None:
        self.steps = steps

    def collect(self) -> Iterator[KpiRecord]:
        exc = self.steps.pop(0) if self.steps else None
        if exc is not None:
            raise exc
        yield KpiRecord(name="ok", value=1)


def test_a_step_that_raises_anything_does_not_end_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[list[KpiRecord]] = []
    mon = Monitor(Flaky([SourceError("flaky: gone"), ZeroDivisionError("a bug"), None, None]), interval=0.01)
    caplog.set_level(logging.ERROR, logger="datamonitor.loop")
    # duration 0: each loop takes one step; the two that fail are not counted, and the loop returns
    taken = sum(mon.loop(duration=0.0, on_step=seen.append) for _ in range(4))
    assert taken == 2 and [[r.name for r in step] for step in seen] == [["ok"], ["ok"]]
    messages = [(r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert ("flaky: flaky: gone", False) in messages, "a DataMonitorError is one line"
    assert ("flaky: a step failed", True) in messages, "anything else is logged with its traceback"
