"""The two paths of a big CSV give the same KPIs: Polars' streaming scan after the first chunk (csvscan) and the
chunk path, which reads every chunk itself. A row the scan cannot judge sends the file back to the chunk path,
whose KPIs, bad rows and line numbers it then has."""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from datamonitor import csvscan, profiling
from datamonitor.csvreader import CsvReader
from datamonitor.profiling import ProfileOptions, TableProfile, profile_file
from datamonitor.texttypes import Rescan

SMALL = ProfileOptions(chunk_bytes=64 << 10)


def profiles(path: Path, monkeypatch: pytest.MonkeyPatch,
             options: ProfileOptions = SMALL) -> tuple[TableProfile, TableProfile, Counter[str]]:
    """The file through the scan (when it takes it) and through the chunk path alone, and what the scan did."""
    used: Counter[str] = Counter()
    scan = CsvReader._scanned
    one_pass = profiling._pass

    def counted(*args: Any, **kwargs: Any) -> Iterator[Any]:
        used["scans"] += 1
        for batch in scan(*args, **kwargs):
            used["batches"] += 1
            yield batch

    def passed(*args: Any, **kwargs: Any) -> Any:
        try:
            return one_pass(*args, **kwargs)
        except Rescan:  # from the scan, or from the statistics (a scanned time not in its layout)
            used["rescans"] += 1
            raise

    with monkeypatch.context() as m:
        m.setattr(CsvReader, "_scanned", counted)
        m.setattr(profiling, "_pass", passed)
        scanned = profile_file(path, options)
    with monkeypatch.context() as m:
        m.setattr(csvscan, "available", lambda: False)
        chunked = profile_file(path, options)
    return scanned, chunked, used


def same(a: TableProfile, b: TableProfile) -> None:
    """Equal in every field but the time taken; a mean or std may differ in its last bits (other batch sums)."""
    da, db = asdict(a), asdict(b)
    da.pop("seconds"), db.pop("seconds")
    ca, cb = da.pop("columns"), db.pop("columns")
    assert da == db
    assert [c["name"] for c in ca] == [c["name"] for c in cb]
    for x, y in zip(ca, cb, strict=True):
        for key in ("mean", "std"):
            vx, vy = x.pop(key), y.pop(key)
            assert (vx is None) == (vy is None) and (vx is None or math.isclose(vx, vy, rel_tol=1e-12)), (x["name"], key)
        assert x == y, x["name"]


def test_real_flights_take_the_scan_and_match_the_chunk_path_and_pandas(flights_csv: Path, monkeypatch) -> None:
    scanned, chunked, used = profiles(flights_csv, monkeypatch, ProfileOptions(chunk_bytes=1 << 20))
    assert used["batches"] > 1 and not used["rescans"]
    same(scanned, chunked)
    df = pd.read_csv(flights_csv)
    assert scanned.rows == len(df) and scanned.bad_rows == 0
    for col in scanned.columns:
        assert col.nulls == int(df[col.name].isna().sum()), col.name
        if col.type in ("integer", "float"):
            assert col.min == df[col.name].min() and col.max == df[col.name].max(), col.name
            assert math.isclose(col.mean, df[col.name].mean(), rel_tol=1e-12), col.name
            assert math.isclose(col.std, df[col.name].std(), rel_tol=1e-9), col.name
            assert col.distinct == df[col.name].nunique(), col.name


def _messy(rows: int = 30_000, late: dict[int, str] | None = None, crlf: bool = True) -> bytes:
    """Clean but awkward CSV: quoted delimiters, quotes and newlines, Unicode, a null marker first seen late in a
    text column, times, booleans, a column with no value in the first rows, CRLF; ``late``: raw lines put in."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
    w.writerow(["id", "amount", "note", "when", "flag", "late", "code"])
    for i in range(rows):
        note = ["plain", 'say "hi", then go', "two\nlines", "café ☕", "NULL" if i > rows // 2 else "x", ""][i % 6]
        when = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00"
        w.writerow([i, f"{(i % 997) * 1.25 - 300:.2f}", note, when, ["true", "False"][i % 2],
                    "" if i < rows // 3 else i % 50, f"C{i % 400}"])
    text = out.getvalue()
    if late:
        lines = text.split("\r\n" if crlf else "\n")
        for at, raw in sorted(late.items(), reverse=True):
            lines.insert(at, raw)
        text = ("\r\n" if crlf else "\n").join(lines)
    return text.encode()


def test_awkward_but_clean_text_is_the_same_through_the_scan(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "data[1].csv"  # a name that is a glob pattern: the scan takes it literally
    path.write_bytes(_messy())
    scanned, chunked, used = profiles(path, monkeypatch)
    assert used["batches"] > 0 and not used["rescans"]
    same(scanned, chunked)
    got = {c.name: c for c in scanned.columns}
    assert scanned.rows == 30_000 and scanned.bad_rows == 0
    assert got["late"].type == "integer" and got["late"].nulls == 10_000  # typed by its late values, a second pass
    assert got["note"].nulls == sum(1 for i in range(30_000) if i % 6 == 5 or (i % 6 == 4 and i > 15_000))
    assert got["when"].type == "datetime" and got["flag"].type == "boolean"
    assert got["note"].max_length == 17 and got["note"].min_length == 1


@pytest.mark.parametrize(("raw", "bad"), [
    ("1,2", 1),  # too few fields: Polars fills them
    ("", 0),  # a blank line: Polars reads a row of nulls
    ("1,2.5,x,2024-01-01 00:00:00,true,3,C1,extra", 1),  # too many fields
    ("2.5,1.0,x,2024-01-01 00:00:00,true,3,C1", 0),  # a float in an integer column: it widens
    ("7,NA,x,2024-01-01 00:00:00,true,3,C1", 0),  # a null marker the first rows did not use, in a number column
    ("7,1.0,x,01/02/2024,true,3,C1", 0),  # a time in another layout: the column is text
])
def test_a_late_row_the_scan_cannot_judge_sends_the_file_to_the_chunk_path(tmp_path: Path, monkeypatch,
                                                                          raw: str, bad: int) -> None:
    path = tmp_path / "late.csv"
    path.write_bytes(_messy(late={25_000: raw}, crlf=False))
    scanned, chunked, used = profiles(path, monkeypatch)
    assert used["rescans"] == 1
    same(scanned, chunked)
    assert scanned.bad_rows == bad
    if bad:
        line = path.read_bytes().decode().split("\n").index(raw) + 1
        assert scanned.bad_row_examples[0][0] == line, scanned.bad_row_examples


def test_a_file_whose_first_rows_are_ragged_never_takes_the_scan(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "ragged.csv"
    path.write_bytes(_messy(late={10: "1,2"}, crlf=False))
    scanned, chunked, used = profiles(path, monkeypatch)
    assert not used["scans"]
    same(scanned, chunked)
    assert scanned.bad_rows == 1


@pytest.mark.parametrize("budget", [None, 1000])  # exact distinct values, and past the budget (a sketch)
def test_null_markers_first_met_late_in_text_columns_are_nulls_on_both_paths(tmp_path: Path, monkeypatch,
                                                                             budget: int | None) -> None:
    """The markers a text column holds are found among its distinct values (or counted past the budget)."""
    rows = [f"{i},k{i % 3000},{'N/A' if i % 997 == 0 and i > 20_000 else f'v{i % 7}'},{'None' if i == 29_999 else 'z'}"
            for i in range(30_000)]
    path = tmp_path / "markers.csv"
    path.write_text("id,key,val,last\n" + "\n".join(rows) + "\n")
    options = ProfileOptions(chunk_bytes=64 << 10, **({"exact_distinct_values": budget} if budget else {}))
    scanned, chunked, used = profiles(path, monkeypatch, options)
    assert used["batches"] > 0 and not used["rescans"]
    same(scanned, chunked)
    df = pd.read_csv(path, keep_default_na=False, na_values=["N/A", "None"])
    got = {c.name: c for c in scanned.columns}
    for name in ("val", "last"):
        assert got[name].nulls == int(df[name].isna().sum()) > 0, name
        assert got[name].distinct == df[name].nunique(), name
        assert got[name].min_length == df[name].dropna().str.len().min(), name


def test_a_file_written_while_it_is_scanned_is_measured_from_one_read(tmp_path: Path, monkeypatch) -> None:
    """The scan opens the file a second time: rows appended meanwhile would be counted but not hashed (found by
    review). The file's identity is compared at the end, and a changed file is measured again on the chunk path."""
    import hashlib

    path = tmp_path / "growing.csv"
    path.write_bytes(_messy(crlf=False))
    scan = csvscan.scan_batches

    def appending(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for i, batch in enumerate(scan(*args, **kwargs)):
            if i == 0:
                with path.open("ab") as fh:
                    fh.write(b"".join(b"%d,1.0,x,2024-01-01 00:00:00,true,3,C1\n" % i for i in range(5000)))
            yield batch

    monkeypatch.setattr(csvscan, "scan_batches", appending)
    prof = profile_file(path, SMALL)
    data = path.read_bytes()
    assert prof.sha256 == hashlib.sha256(data).hexdigest()
    assert prof.rows == 35_000 == len(pd.read_csv(io.BytesIO(data)))


def test_a_path_starting_with_a_tilde_is_the_file_it_names(tmp_path: Path, monkeypatch) -> None:
    """Polars expands a leading ``~`` to the home folder; the scan is given the absolute path (found by review)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "data.csv").write_bytes(_messy(rows=40_000, crlf=False))
    (tmp_path / "~").mkdir()
    (tmp_path / "~" / "data.csv").write_bytes(_messy(rows=20_000, crlf=False))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    scanned, chunked, used = profiles(Path("~/data.csv"), monkeypatch)
    assert used["batches"] > 0
    same(scanned, chunked)
    assert scanned.rows == 20_000


def test_quantiles_stay_exact_when_the_first_chunk_rows_are_narrower_than_the_rest(tmp_path: Path) -> None:
    """The rows of a file are estimated from its first chunk; narrow first rows overshot, and a file whose values
    fit the budget was sampled (found by review: the scan's first chunk is smaller than the chunk path's)."""
    import numpy as np

    rng = np.random.default_rng(0)
    narrow = [f"{v},k" for v in rng.integers(0, 10**6, 9_000)]  # about 72 KiB: past the first chunk
    wide = [f"{v},{'w' * 30}" for v in rng.integers(0, 10**6, 9_000)]
    path = tmp_path / "q.csv"
    path.write_text("x,note\n" + "\n".join(narrow + wide) + "\n")
    x = np.array([int(r.split(",")[0]) for r in narrow + wide], dtype=np.float64)
    options = ProfileOptions(chunk_bytes=64 << 10, quantile_values=20_000, deciles=False)
    got = profile_file(path, options).columns[0].quantiles
    assert got == {q: pytest.approx(float(np.quantile(x, q)), rel=1e-12) for q in options.quantiles}


@pytest.mark.parametrize("tail", ["\n", "\n\n\n", "\r\n \r\n"])
def test_blank_lines_at_the_end_keep_the_scan(tmp_path: Path, monkeypatch, tail: str) -> None:
    """Blank lines end many files: the scan drops their rows of nulls instead of reading the file again."""
    path = tmp_path / "tail.csv"
    path.write_bytes(_messy(crlf=False) + tail.encode())
    scanned, chunked, used = profiles(path, monkeypatch)
    assert used["batches"] > 0 and not used["rescans"]
    same(scanned, chunked)
    assert scanned.rows == 30_000 and scanned.bad_rows == 0


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["big.csv", "big.jsonl", "big.csv.gz"])
def test_a_big_file_hashed_apart_has_the_digest_of_its_bytes(tmp_path: Path, name: str) -> None:
    """A big file is hashed in a thread of its own (rawinput.EarlyDigest) while the pass reads it without hashing:
    the digest is still hashlib's of the file's bytes, on the scan, the chunk path and a compressed file."""
    import gzip
    import json

    path = tmp_path / name
    if name.endswith(".jsonl"):
        path.write_text("".join(json.dumps({"a": i, "b": f"v{i % 7}"}) + "\n" for i in range(30_000)))
    elif name.endswith(".gz"):
        path.write_bytes(gzip.compress(_messy(crlf=False)))
    else:
        path.write_bytes(_messy(crlf=False))
    assert path.stat().st_size > SMALL.chunk_bytes
    prof = profile_file(path, SMALL)
    assert prof.sha256 == _sha(path)
    assert prof.rows == 30_000


def test_a_file_changed_after_it_was_hashed_apart_is_read_and_hashed_again(tmp_path: Path, monkeypatch) -> None:
    """The digest computed apart belongs to the bytes measured only when the file did not change between the two
    reads: here it changes once the hash is done, so the pass's digest is refused and the file is read again,
    hashing what it reads (digest and rows from one read)."""
    from datamonitor import rawinput, readers

    path = tmp_path / "changed.csv"
    path.write_bytes(_messy(crlf=False))
    run = rawinput.EarlyDigest._run

    def then_append(self: rawinput.EarlyDigest, *args: Any) -> None:
        run(self, *args)
        with path.open("ab") as fh:
            fh.write(b"".join(b"%d,1.0,x,2024-01-01 00:00:00,true,3,C1\n" % i for i in range(5000)))

    monkeypatch.setattr(rawinput.EarlyDigest, "_run", then_append)
    passes: list[bool] = []
    open_reader = readers.open_reader

    def counted(req: Any, pool: Any) -> Any:
        passes.append(req.early is not None)
        return open_reader(req, pool)

    monkeypatch.setattr(readers, "open_reader", counted)
    prof = profile_file(path, SMALL)
    # hashed apart, refused once the change is seen, then hashed in each read after it
    assert passes[0] and not passes[-1] and passes == sorted(passes, reverse=True), passes
    assert prof.sha256 == _sha(path)
    assert prof.rows == 35_000 == len(pd.read_csv(path))


def test_early_digest_is_refused_once_the_file_changed(tmp_path: Path) -> None:
    from datamonitor.rawinput import EarlyDigest

    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * (3 << 20))
    same_file = EarlyDigest(path, block=1 << 20)
    assert same_file.result() == _sha(path) and not same_file.spoiled
    changed = EarlyDigest(path, block=1 << 20)
    changed._thread.join()
    path.write_bytes(b"y" * (3 << 20))
    assert changed.result() is None and changed.spoiled


def test_early_digest_goes_on_from_the_threads_last_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hash thread runs on idle cycles only, and a busy machine may give it none: once the pass asks for the
    digest, it does not wait for the thread but hashes the rest itself, from the copy of the hash the thread left after
    its last block (or from the start). The digest is the file's, a second call gives it again, and a change of the
    file is still seen."""
    from datamonitor import rawinput

    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * (12 << 12))  # 12 MiB
    note, finish_rest, resumed = rawinput.EarlyDigest._note, rawinput.EarlyDigest._finish, []
    noted, gate = threading.Event(), threading.Event()

    def stalled(self: rawinput.EarlyDigest, sha: Any, done: int) -> None:  # the thread starves after one block
        note(self, sha, done)
        noted.set()
        gate.wait()

    def finish(self: rawinput.EarlyDigest, sha: Any, done: int) -> None:
        resumed.append(done)
        finish_rest(self, sha, done)

    monkeypatch.setattr(rawinput.EarlyDigest, "_note", stalled)
    monkeypatch.setattr(rawinput.EarlyDigest, "_finish", finish)
    early = rawinput.EarlyDigest(path, block=1 << 20)
    assert noted.wait(5)
    assert early.result() == _sha(path) and not early.spoiled
    assert resumed == [1 << 20] and early._thread.is_alive()  # not waited for: it still hangs on
    assert early.result() == _sha(path)  # asked again (a pass after a Rescan): the same digest
    gate.set()
    early._thread.join()

    # the thread never ran: everything is hashed by the caller
    gate.clear()
    monkeypatch.setattr(rawinput, "background", gate.wait)
    starved = rawinput.EarlyDigest(path, block=1 << 20)
    assert starved.result() == _sha(path) and resumed[-1] == 0
    gate.set()
    starved._thread.join()

    # the file changed after the thread's last block: refused
    gate.clear()
    monkeypatch.setattr(rawinput, "background", lambda: None)
    noted.clear()
    changed = rawinput.EarlyDigest(path, block=1 << 20)
    assert noted.wait(5)
    with path.open("ab") as fh:
        fh.write(b"late")
    assert changed.result() is None and changed.spoiled
    gate.set()
    changed._thread.join()


def test_a_starved_hash_gives_the_files_digest_after_a_rescan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A short row far past the first chunk sends the scan back to the chunk path: the digest is asked for twice (after
    the scan, and by the second pass), while the hash thread got no cycle after its first block. Reviewer's case: the
    rest was hashed twice into one hash, and the file's SHA-256 reported wrong."""
    from datamonitor import rawinput

    path = tmp_path / "late.csv"
    rows = [f"{i},{i % 97},text {i % 13}" for i in range(200_000)]
    rows[190_000] = "1,2"
    path.write_text("id,x,note\n" + "\n".join(rows) + "\n")
    note, gate = rawinput.EarlyDigest._note, threading.Event()

    def stalled(self: rawinput.EarlyDigest, sha: Any, done: int) -> None:
        note(self, sha, done)
        gate.wait()

    monkeypatch.setattr(rawinput.EarlyDigest, "_note", stalled)
    try:
        prof = profile_file(path, SMALL)
    finally:
        gate.set()
    assert prof.rows == 199_999 and prof.bad_rows == 1
    assert prof.sha256 == _sha(path)


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_a_stopped_hash_thread_is_woken_to_the_normal_policy_to_end() -> None:
    """A thread under SCHED_IDLE gets no cycle on a busy machine: a pass that failed left it, its buffer and its open
    file waiting for an idle core (the clean-clone CI's parallel runs caught the thread still alive). ``wake`` puts
    it back to SCHED_OTHER where the process may; elsewhere ``background`` uses nice 19, which still runs."""
    from datamonitor.rawinput import _may_raise_priority, background, wake

    policy: list[tuple[bool, int, int]] = []
    woken = threading.Event()

    def probe() -> None:
        lowered = background()
        idle = os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        woken.wait(10)
        policy.append((lowered, *idle))
        policy.append((lowered, os.sched_getscheduler(0), 0))

    thread = threading.Thread(target=probe)
    thread.start()
    time.sleep(0.05)
    assert thread.native_id is not None
    wake(thread.native_id)
    woken.set()
    thread.join(10)
    if _may_raise_priority():
        assert policy == [(True, os.SCHED_IDLE, 0), (True, os.SCHED_OTHER, 0)]
    else:
        assert policy[0][:2] == (True, os.SCHED_OTHER) and policy[0][2] == 19


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_the_hash_thread_runs_on_idle_cycles_only() -> None:
    """``background`` lowers the calling thread alone to SCHED_IDLE; the caller's other threads keep their policy."""
    from datamonitor.rawinput import background

    policy: list[int] = []

    def probe() -> None:
        background()
        policy.append(os.sched_getscheduler(0))

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    assert policy == [os.SCHED_IDLE]
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


def test_no_second_chunk_is_cut_when_the_scan_takes_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reads ahead cut the next chunks while the first was typed (80 MiB of the 1 GB file before the scan began);
    when Polars' scan takes the rest, only the first chunk is cut, and the KPIs are the whole file's."""
    from datamonitor import csvreader

    path = tmp_path / "big.csv"
    path.write_text("id,x,note\n" + "".join(f"{i},{i % 97},text {i % 13}\n" for i in range(60_000)))
    cut: list[int] = []
    chunked = csvreader.chunked

    def counted(*args: Any, **kwargs: Any) -> Iterator[bytes]:
        for chunk in chunked(*args, **kwargs):
            cut.append(len(chunk))
            yield chunk

    monkeypatch.setattr(csvreader, "chunked", counted)
    prof = profile_file(path, SMALL)
    assert len(cut) == 1, cut
    assert prof.rows == 60_000 and prof.sha256 == _sha(path)
    assert {c.name: c.distinct for c in prof.columns} == {"id": 60_000, "x": 97, "note": 13}


def test_the_scan_reports_progress_when_the_file_was_hashed_apart(tmp_path: Path) -> None:
    """Without the drain (whose reads reported the bytes done) the scan reports an estimate from its rows; the
    reads ahead of the first chunk reported more than that estimate at first, and progress never goes back."""
    path = tmp_path / "big.csv"
    path.write_text("id,x,note\n" + "".join(f"{i},{i % 97},some text\n" for i in range(1_500_000)))  # 30 MB
    seen: list[float] = []
    profile_file(path, SMALL, seen.append)
    assert len(seen) >= 5 and seen == sorted(seen) and seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)


def test_scanned_times_are_parsed_by_distinct_text_and_two_texts_of_one_instant_count_once(tmp_path: Path,
                                                                                        monkeypatch) -> None:
    """The scan leaves a time column as text and the statistics parse its distinct texts only; texts with other
    offsets that are the same instant are one distinct time, as on the chunk path (pandas agrees)."""
    rows = [f"{i},2024-03-{1 + i % 28:02d}T{i % 24:02d}:00:00+00:00" if i % 3 else
            f"{i},2024-03-{1 + i % 28:02d}T{(i % 24 + 1) % 24:02d}:00:00+01:00" for i in range(60_000)]
    path = tmp_path / "offsets.csv"
    path.write_text("id,at\n" + "\n".join(rows) + "\n")
    scanned, chunked, used = profiles(path, monkeypatch)
    assert used["batches"] > 0 and not used["rescans"]
    same(scanned, chunked)
    at = next(c for c in scanned.columns if c.name == "at")
    truth = pd.to_datetime(pd.read_csv(path)["at"], utc=True, format="ISO8601")
    assert at.type == "datetime" and at.distinct == truth.nunique() and at.nulls == 0
    assert pd.Timestamp(at.min) == truth.min() and pd.Timestamp(at.max) == truth.max()


def test_a_pass_under_a_final_schema_that_still_widens_is_measured_again() -> None:
    """A schema handed to a pass as final (its pass before widened to it) must have judged every value; if one
    still does not fit, the pass raises Widened again instead of casting the value away (the statistics would
    count it as a null). A second net under the ordering in profiling._measure."""
    import polars as pl

    from datamonitor.texttypes import Widened

    body = b"a,b\n" + b"".join(b"%d,x\n" % i for i in range(3000)) + b"1.5,y\n"
    reader = CsvReader(iter([body]), delimiter=",", header=True, decimal=".", comment=None, null_values=("",),
                       schema={"a": pl.Int64, "b": pl.String}, chunk_size=4096)
    with pytest.raises(Widened) as raised:
        for _chunk in reader.chunks():
            pass
    assert raised.value.schema["a"] == pl.Float64


def test_a_rewrite_of_the_same_size_with_its_mtime_set_back_is_not_taken_for_the_file_hashed(tmp_path: Path,
                                                                                            monkeypatch) -> None:
    """``cp -p`` or ``rsync -t`` onto the file: same inode, size and mtime, other bytes. The change time, which no
    call can set back, is part of the identity, so the digest of the old bytes is refused (found by review)."""
    import os

    from datamonitor import rawinput

    old = b"a,b\n" + b"".join(b"%06d,1\n" % i for i in range(40_000))
    new = old.replace(b",1\n", b",7\n")
    path = tmp_path / "f.csv"
    path.write_bytes(old)
    run = rawinput.EarlyDigest._run

    def run_then_rewrite(self: rawinput.EarlyDigest, *args: Any) -> None:
        run(self, *args)
        st = os.stat(path)
        with path.open("r+b") as fh:
            fh.write(new)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    monkeypatch.setattr(rawinput.EarlyDigest, "_run", run_then_rewrite)
    prof = profile_file(path, SMALL)
    b = next(c for c in prof.columns if c.name == "b")
    assert prof.sha256 == _sha(path) and (b.min, b.max) == (7, 7)


def test_a_hash_that_opens_the_file_after_the_pass_read_it_is_not_taken(tmp_path: Path, monkeypatch) -> None:
    """The file's identity is taken when the digest is asked for, before the pass opens the file, and the hash must
    find the same when it opens it: a hash thread that starts late, after a writer, is refused (found by review)."""
    import json
    import threading

    from datamonitor import rawinput

    old = "".join(json.dumps({"a": i, "b": 1}) + "\n" for i in range(40_000)).encode()
    new = old.replace(b'"b": 1}', b'"b": 7}')
    path = tmp_path / "f.jsonl"
    path.write_bytes(old)
    read = threading.Event()
    run, raw = rawinput.EarlyDigest._run, rawinput.RawInput._raw
    opened: list[int] = []

    def late(self: rawinput.EarlyDigest, *args: Any) -> None:
        read.wait(10)
        path.write_bytes(new)
        run(self, *args)

    def reading(self: rawinput.RawInput) -> Iterator[bytes]:
        opened.append(1)  # the first read is the sniff's sample, the second the pass
        for data in raw(self):
            yield data
            if len(opened) >= 2:
                read.set()

    monkeypatch.setattr(rawinput.EarlyDigest, "_run", late)
    monkeypatch.setattr(rawinput.RawInput, "_raw", reading)
    prof = profile_file(path, SMALL)
    b = next(c for c in prof.columns if c.name == "b")
    assert prof.sha256 == hashlib.sha256(old if b.max == 1 else new).hexdigest()  # the digest of what was measured


def test_a_path_swapped_for_a_fifo_is_never_waited_on(tmp_path: Path) -> None:
    import os

    from datamonitor.rawinput import EarlyDigest

    fifo = tmp_path / "swapped.csv"
    os.mkfifo(fifo)
    digest = EarlyDigest(fifo)  # after the caller's regular-file check, the path became a FIFO
    digest._thread.join(5)
    assert not digest._thread.is_alive() and digest.result() is None


@pytest.mark.parametrize("scan", [True, False])
def test_a_pass_that_fails_leaves_no_read_thread_or_open_file(tmp_path: Path, monkeypatch, scan: bool) -> None:
    """An engine error in the statistics mid-file: the reader's threads stop and the file is closed at once, on
    both paths (the chunk path's read thread waited for the garbage collector: found by review)."""
    import os
    import threading

    from datamonitor import tablestats
    from datamonitor.errors import SourceError

    path = tmp_path / "big.csv"
    path.write_text("a,b,c\n" + "".join(f"{i},{i % 97},text{i % 13}\n" for i in range(400_000)))
    add, calls = tablestats.TableStats.add, [0]

    def failing(self: Any, *args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        if calls[0] == 3:
            raise RuntimeError("boom")
        add(self, *args, **kwargs)

    monkeypatch.setattr(tablestats.TableStats, "add", failing)
    if not scan:
        monkeypatch.setattr(csvscan, "available", lambda: False)
    before = set(threading.enumerate())
    with pytest.raises(SourceError, match="boom"):
        profile_file(path, SMALL)
    left = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    handles = [f for f in os.listdir("/proc/self/fd") if os.path.realpath(f"/proc/self/fd/{f}") == str(path)]
    assert not left and not handles, (left, handles)


def test_a_digest_the_caller_gives_is_not_read_for(tmp_path: Path, monkeypatch) -> None:
    """With the digest known (the watcher's), the scan does not read the rest of the bytes in a drain thread."""
    from datamonitor import rawinput

    path = tmp_path / "big.csv"
    path.write_bytes(_messy(crlf=False))
    drains: list[int] = []
    monkeypatch.setattr(rawinput.Drain, "__init__", lambda self, blocks: drains.append(1))
    prof = profile_file(path, SMALL, sha256="0" * 64)
    assert prof.sha256 == "0" * 64 and not drains
