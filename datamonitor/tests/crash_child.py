"""A child process for the crash tests, meant to be SIGKILLed: ``python -m datamonitor.tests.crash_child``.

``ship HOME LOG``: ship the store under HOME to a fake cluster whose accepted
documents persist in LOG, slowly, through the real command line.
``collect HOME``: commit batches of 100 KPI records forever, printing each
batch number once it is committed.
``fill HOME BYTES``: with RLIMIT_FSIZE at BYTES (a full disk), commit batches until
the store refuses one, print ``FULL <error>``, raise the limit again (space came
back) and print ``RESUMED`` once the next batch is stored.
``run HOME LOG CONFIG``: the real service (``datamonitor run``) with the config's
monitors, shipping as it goes to the fake cluster persisted in LOG, until killed.
"""

from __future__ import annotations

import sys
from pathlib import Path

URL = "http://crash-es:9200"


def _ship(home: str, log: str) -> int:
    from unittest import mock

    from datamonitor.cli import main
    from datamonitor.tests.fakes import FakeCluster

    def factory(hosts: object = None, **kwargs: object) -> FakeCluster:
        fake = FakeCluster(hosts, persist=log, **kwargs)
        fake.bulk_delay = 0.05
        return fake

    with mock.patch("elasticsearch.Elasticsearch", factory):
        return main(["--home", home, "--es", URL, "ship"])


def _collect(home: str) -> int:
    from datamonitor import DataMonitor, KpiRecord, load_config

    with DataMonitor(load_config(home=Path(home))) as dm:
        batch = 0
        while True:
            dm.record([KpiRecord(name="rows", value=i, subject=f"b{batch}") for i in range(100)], ship=False)
            print(batch, flush=True)
            batch += 1


def _run(home: str, log: str, config: str) -> int:
    from unittest import mock

    from datamonitor.cli import main
    from datamonitor.tests.fakes import FakeCluster

    def factory(hosts: object = None, **kwargs: object) -> FakeCluster:
        fake = FakeCluster(hosts, persist=log, **kwargs)
        fake.bulk_delay = 0.01
        return fake

    with mock.patch("elasticsearch.Elasticsearch", factory):
        return main(["--home", home, "--es", URL, "--config", config, "run"])


def _fill(home: str, limit: str) -> int:
    import resource
    import signal

    from datamonitor import DataMonitor, KpiRecord, StoreError, load_config

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    with DataMonitor(load_config(home=Path(home))) as dm:
        dm.store.count()
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), hard))
        batch = 0
        while True:
            try:
                dm.record([KpiRecord(name="rows", value=i, subject=f"b{batch}") for i in range(100)], ship=False)
            except StoreError as exc:
                print(f"FULL {exc}", flush=True)
                break
            print(batch, flush=True)
            batch += 1
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        dm.record([KpiRecord(name="rows", value=i, subject="after") for i in range(100)], ship=False)
        print("RESUMED", flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "fill":
        raise SystemExit(_fill(sys.argv[2], sys.argv[3]))
    if sys.argv[1] == "run":
        raise SystemExit(_run(*sys.argv[2:5]))
    if sys.argv[1] == "ship":
        raise SystemExit(_ship(sys.argv[2], sys.argv[3]))
    raise SystemExit(_collect(sys.argv[2]))
