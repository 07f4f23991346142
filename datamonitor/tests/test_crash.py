"""SIGKILL at random moments, then restart: the store stays sound, nothing is lost, nothing is doubled."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from datamonitor import DataMonitor, KpiRecord, load_config
from datamonitor.store import PENDING, SHIPPED, Store
from datamonitor.tests.helpers import wait_until

pytestmark = pytest.mark.slow  # dozens of SIGKILLed processes, about a minute

SEED = 20261123


def child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "datamonitor.tests.crash_child", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _accepted(log: Path) -> Counter[str]:
    if not log.exists():
        return Counter()
    ids: Counter[str] = Counter()
    for line in log.read_text().splitlines():
        try:
            ids[json.loads(line)["_id"]] += 1
        except json.JSONDecodeError:
            continue  # torn by the kill: never acknowledged, as FakeCluster's replay agrees
    return ids


def config_file(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "datamonitor.toml").write_text("[elasticsearch]\nchunk_size = 50\ninitial_backoff = 0.01\n")


def test_sigkill_during_shipping_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    home, log = tmp_path / "home", tmp_path / "cluster.ndjson"
    config_file(home)
    n = 5000
    with DataMonitor(load_config(home=home)) as dm:
        ids = set(dm.record([KpiRecord(name="rows", value=i, subject=f"c{i}") for i in range(n)], ship=False))
    assert len(ids) == n

    kills = in_flight_kills = 0
    for _ in range(12):
        before = log.stat().st_size if log.exists() else 0
        proc = child("ship", str(home), str(log))
        # the kill lands at a random moment once this child's shipping is under way (the cluster's log grew),
        # not at a moment counted from its start: on a loaded machine that was often before its first bulk
        wait_until(lambda p=proc, b=before: p.poll() is not None or (log.exists() and log.stat().st_size > b),
                   timeout=60)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is not None:
            proc.communicate()
            break
        proc.send_signal(signal.SIGKILL)
        proc.communicate()  # reaps it and closes its pipes
        kills += 1
        with Store(home / "datamonitor.db") as store:
            assert store.integrity_check() == "ok"
            in_cluster = _accepted(log)
            marked = {d.doc_id for d in store.search(limit=n) if d.state == SHIPPED}
        assert marked <= set(in_cluster), "nothing is marked shipped before the cluster has it"
        if set(in_cluster) - marked:
            in_flight_kills += 1  # killed after the cluster took documents, before the store marked them
    final = child("ship", str(home), str(log))
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err

    accepted = _accepted(log)
    assert kills >= 3, "the kills must land while shipping is under way"
    assert in_flight_kills >= 1, "at least one kill must land between the cluster's ack and the store's mark"
    assert "already there" in out
    assert set(accepted) == ids, "every document arrived"
    assert max(accepted.values()) == 1, "no document arrived twice"
    with Store(home / "datamonitor.db") as store:
        assert (store.count(SHIPPED), store.count(PENDING)) == (n, 0)
        assert store.integrity_check() == "ok"


def test_sigkill_during_collection_keeps_every_committed_batch(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    home = tmp_path / "home"
    acknowledged = 0
    for _ in range(10):
        proc = child("collect", str(home))
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()  # up and committing (start-up takes seconds under load): now pick the moment
        assert first, proc.stderr.read()
        last = int(first)
        deadline = time.monotonic() + rng.uniform(0.5, 1.5)  # the scenario: a kill at a random moment
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            last = int(line)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        acknowledged += last + 1
        with Store(home / "datamonitor.db") as store:
            assert store.integrity_check() == "ok"
            # the child's own KPIs: the baselines may add anomaly documents of their own to a batch
            stored = store.count(name="rows")
        assert stored % 100 == 0, "a batch is stored whole or not at all"
        assert stored >= acknowledged * 100, "every batch reported as committed is there"
    assert acknowledged > 10, "the kills landed while batches were being committed, not only after the first"


def _collecting(proc: subprocess.Popen[str], home: Path, before: int) -> bool:
    """The service is up and has stored something new (it must not have died meanwhile)."""
    assert proc.poll() is None, proc.communicate()[1]
    with Store(home / "datamonitor.db") as store:
        return store.count() > before


def test_thirty_sigkills_of_the_service_while_collecting_and_shipping_lose_nothing_and_double_nothing(
        tmp_path: Path) -> None:
    """``datamonitor run`` measuring a disk 50 times a second and shipping as it goes, SIGKILLed 30 times."""
    rng = random.Random(SEED + 2)
    home, log = tmp_path / "home", tmp_path / "cluster.ndjson"
    config_file(home)
    conf = tmp_path / "service.toml"
    conf.write_text(f'[elasticsearch]\nchunk_size = 50\ninitial_backoff = 0.01\n\n'
                    f'[[monitors]]\ntype = "disk"\npaths = ["{tmp_path}"]\ninterval = 0.02\n')
    collected: set[str] = set()
    in_flight = 0
    for run in range(30):
        with Store(home / "datamonitor.db") as store:
            before = store.count()
        proc = child("run", str(home), str(log), str(conf))
        wait_until(partial(_collecting, proc, home, before), what=f"run {run + 1} collecting")  # now pick the moment
        time.sleep(rng.uniform(0.0, 0.6))  # the scenario: a kill at a random moment
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        with Store(home / "datamonitor.db") as store:
            assert store.integrity_check() == "ok", f"after kill {run + 1}"
            stored = {d.doc_id: d for d in store.iter_documents()}
        in_cluster = _accepted(log)
        assert max(in_cluster.values(), default=1) == 1, f"after kill {run + 1}: a document arrived twice"
        assert set(in_cluster) <= set(stored), "the cluster holds nothing the store never committed"
        marked = {i for i, d in stored.items() if d.state == SHIPPED}
        assert marked <= set(in_cluster), "marked only once acked"
        assert set(stored) >= collected, "nothing committed before an earlier kill went missing"
        collected = set(stored)
        in_flight += bool(set(in_cluster) - marked)  # killed between the cluster's ack and the store's mark
    final = child("ship", str(home), str(log))
    _out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    accepted = _accepted(log)
    with Store(home / "datamonitor.db") as store:
        assert store.count(PENDING) == 0 and store.integrity_check() == "ok"
        assert set(accepted) == {d.doc_id for d in store.iter_documents()}, "every collected observation arrived"
    assert len(accepted) > 30 * 8 and max(accepted.values()) == 1, "no document arrived twice"
    assert in_flight >= 1, "at least one kill landed between the cluster's ack and the store's mark"


def test_a_full_disk_is_a_clear_error_corrupts_nothing_and_collection_resumes(tmp_path: Path) -> None:
    """RLIMIT_FSIZE stands in for a full disk: SQLite's writes past it fail, as on a full filesystem."""
    home = tmp_path / "home"
    proc = child("fill", str(home), str(2 << 20))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    full = next(line for line in lines if line.startswith("FULL "))
    assert str(home / "datamonitor.db") in full and "is the disk full?" in full and "Nothing of this batch" in full
    committed = [line for line in lines[:lines.index(full)]]
    assert len(committed) > 10 and lines[-1] == "RESUMED"
    with Store(home / "datamonitor.db") as store:
        assert store.integrity_check() == "ok"
        subjects = Counter(json.loads(d.body)["kpi"]["subject"] for d in store.iter_documents())
        assert all(subjects[f"b{b}"] == 100 for b in committed), "every batch committed before the disk filled"
        assert subjects["after"] == 100, "collection resumed when space came back"
        assert sum(subjects.values()) == 100 * (len(committed) + 1), "the refused batch left nothing behind"
        assert store.stats().backlog_bytes == sum(len(d.body.encode()) for d in store.iter_documents())
