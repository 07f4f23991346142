"""Listing watched folders (sources.listing): what a rescan sees, what it skips, and what counts as a change."""

from __future__ import annotations

import fnmatch
import os
import time
from pathlib import Path

import pytest

from datamonitor.sources import listing
from datamonitor.sources.listing import Known, ignore_matcher, regular_files, signature
from datamonitor.sources.watch import DEFAULT_IGNORE


def names(root: Path, **kw: object) -> list[str]:
    kw.setdefault("ignored", ignore_matcher(DEFAULT_IGNORE))
    return sorted(os.path.relpath(p, root) for p, _st in regular_files([root], **kw))  # type: ignore[arg-type]


def test_regular_files_only_no_links_followed_ignored_names_left_out(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    for rel in ("a.csv", "sub/b.csv", "sub/deeper/c.csv", ".hidden.csv", "x.csv.part", "y.tmp1"):
        (tmp_path / rel).write_text("a\n1\n")
    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / "link.csv").symlink_to(tmp_path / "a.csv")
    (tmp_path / "loop.csv").symlink_to("loop.csv")
    (tmp_path / "dirlink").symlink_to(tmp_path / "sub", target_is_directory=True)
    assert names(tmp_path, recursive=False) == ["a.csv"]
    assert names(tmp_path, recursive=True) == ["a.csv", "sub/b.csv", "sub/deeper/c.csv"]
    assert names(tmp_path, recursive=True, ignored=lambda _n: False) == [
        ".hidden.csv", "a.csv", "sub/b.csv", "sub/deeper/c.csv", "x.csv.part", "y.tmp1"]
    # nested roots: each file once
    assert len(list(regular_files([tmp_path, tmp_path / "sub"], recursive=True, ignored=lambda _n: False))) == 6


@pytest.mark.parametrize("name", ["a.csv", ".a.csv", "a.csv.part", "a.tmp", "a.tmp.csv", "x.crdownload", "[a].csv",
                                  "a*b.csv", "weird\nname"])
def test_the_compiled_ignore_patterns_match_as_fnmatch_does(name: str) -> None:
    patterns = (*DEFAULT_IGNORE, "[[]a]*", "a[*]b.csv")
    assert ignore_matcher(patterns)(name) == any(fnmatch.fnmatch(name, p) for p in patterns)
    assert ignore_matcher(())(name) is False


def test_a_folder_that_vanishes_while_listed_is_skipped_not_the_listing(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # a producer's short-lived batch folder: Path.rglob (Python < 3.13) raised FileNotFoundError and the whole
    # rescan was abandoned
    (tmp_path / "gone").mkdir()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "k.csv").write_text("a\n")
    real = os.scandir

    def scandir(path: str) -> object:
        if os.path.basename(path) == "gone":
            raise FileNotFoundError(2, "No such file or directory", path)
        return real(path)

    monkeypatch.setattr(listing.os, "scandir", scandir)
    assert names(tmp_path, recursive=True) == ["kept/k.csv"]


def test_a_rewrite_that_keeps_size_and_modification_time_still_changes_the_signature(tmp_path: Path) -> None:
    # cp -p, rsync --inplace -t, touch -r: utime sets the modification time back, never the change time
    path = tmp_path / "r.csv"
    path.write_text("a\n1\n")
    before = os.stat(path)
    time.sleep(0.01)
    path.write_text("a\n2\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert signature(after) != signature(before)


def test_known_offers_new_and_changed_files_skips_busy_ones_and_forgets_gone_ones(tmp_path: Path) -> None:
    for n in ("a", "b", "c"):
        (tmp_path / f"{n}.csv").write_text(n)
    known = Known()
    known.fill(regular_files([tmp_path], recursive=False, ignored=lambda _n: False))
    assert len(known) == 3
    (tmp_path / "a.csv").write_text("a changed")
    (tmp_path / "d.csv").write_text("d")
    (tmp_path / "e.csv").write_text("e")
    (tmp_path / "c.csv").unlink()
    listed = regular_files([tmp_path], recursive=False, ignored=lambda _n: False)
    fresh = known.changed(listed, busy={str(tmp_path / "e.csv")})
    assert sorted(os.path.basename(p) for p in fresh) == ["a.csv", "d.csv"]
    assert len(known) == 2  # c.csv forgotten; a.csv kept (its old signature) until handled again
