"""The UDP listener and the watcher together under load for 60 s: nothing is lost that a counter did not report.

``DATAMONITOR_SOAK_SECONDS`` shortens or lengthens the run (60 by default).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from datamonitor import DataMonitor, load_config
from datamonitor.service import load_service, run_service
from datamonitor.tests.helpers import free_port, udp_bound, wait_until

pytestmark = pytest.mark.slow  # 60 s of load by design: python -m pytest -m slow runs it

SECONDS = float(os.environ.get("DATAMONITOR_SOAK_SECONDS", "60"))
RATE = 2000  # datagrams a second
FILES_PER_SECOND = 2


def test_udp_and_watcher_under_load_lose_nothing_uncounted(tmp_path: Path, home: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    port = free_port()
    conf = tmp_path / "soak.toml"
    conf.write_text(f'[[monitors]]\ntype = "udp"\nport = {port}\nflush = 1.0\n\n'
                    f'[[monitors]]\ntype = "watch"\ndirs = ["{inbox}"]\nsettle = 0.2\n')
    spec = load_service(conf)
    stop = threading.Event()
    result: dict = {}
    sent = Counter[str]()
    written: list[str] = []

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            start, n = time.monotonic(), 0
            while (elapsed := time.monotonic() - start) < SECONDS:
                due = int(elapsed * RATE)
                while n < due:
                    n += 1
                    if n % 50 == 0:
                        sock.sendto(b"soak.events:many|c", ("127.0.0.1", port))  # malformed: must be counted
                        sent["bad"] += 1
                    else:
                        value = 1 + n % 3
                        sock.sendto(f"soak.events:{value}|c|#src:s{n % 4}".encode(), ("127.0.0.1", port))
                        sent["good"] += 1
                        sent["sum"] += value
                time.sleep(0.002)  # the scenario: a steady rate

    def write_files() -> None:
        start, i = time.monotonic(), 0
        while time.monotonic() - start < SECONDS:
            name = f"batch-{i:04d}.csv"
            tmp = inbox / f"{name}.tmp"
            tmp.write_text("id,amount,region\n" + "".join(f"{j},{j * 1.5},r{j % 7}\n" for j in range(200 + i)))
            tmp.rename(inbox / name)  # finished: renamed into place
            (inbox / f"partial-{i}.part").write_text("id\n1\n")  # never finished: must be ignored
            written.append(name)
            i += 1
            time.sleep(1 / FILES_PER_SECOND)  # the scenario: files arriving at a steady rate

    with DataMonitor(load_config(home=home)) as dm:
        runner = threading.Thread(target=lambda: result.update(run_service(dm, spec, stop=stop)))
        runner.start()
        wait_until(lambda: udp_bound(port) or not runner.is_alive(), what=f"the service to bind UDP port {port}")
        assert runner.is_alive(), "run_service ended before its monitors were up"
        workers = [threading.Thread(target=send), threading.Thread(target=write_files)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        # the last files settled and stored (the listener's last flush comes at stop)
        wait_until(lambda: len(dm.search(name="file.rows", limit=len(written) + 10)) >= len(written),
                   timeout=60, what=f"the {len(written)} files written stored")
        stop.set()
        runner.join(timeout=60)
        assert not runner.is_alive()

        counted = 0.0
        files: Counter[str] = Counter()
        for doc in dm.store.iter_documents():
            source = json.loads(doc.body)
            if source["kpi"]["name"] == "soak.events":
                counted += source["kpi"]["value"]
            elif source["kpi"]["name"] == "file.rows":
                files[Path(source["file"]["path"]).name] += 1

    udp = result["udp[0]"]
    assert udp["dropped"] == 0, "the store kept up: no record was given up"
    assert udp["received"] + udp["kernel_drops"] == sent["good"] + sent["bad"], "every datagram sent is counted"
    if udp["kernel_drops"] == 0:
        assert (udp["accepted"], udp["rejected"]) == (sent["good"], sent["bad"]), "rejections are the bad ones"
        assert counted == sent["sum"], "every accepted counter sample is in the store"
    else:  # a starved listener's full buffer: counted as dropped, not known which; what came through is exact
        assert udp["accepted"] + udp["rejected"] == udp["received"]
        assert udp["accepted"] <= sent["good"] and udp["rejected"] <= sent["bad"]
        assert udp["accepted"] <= counted <= sent["sum"], "every accepted counter sample is in the store"
    assert files == Counter({name: 1 for name in written}), "every finished file once, no temporary one"
    assert result["watch[1]"]["files"] == len(written) >= SECONDS * FILES_PER_SECOND * 0.8
