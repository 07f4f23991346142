"""UDP listener loss, side by side with Etsy statsd and collectd's statsd plugin.

    python bench/udp.py [--rates 20000 50000 100000 150000] [--seconds 8] [--rounds 2]
    python bench/udp.py --rss 60 --rates 100000      # datamonitor alone: peak RSS over 60 s

One sender (this process, paced per half millisecond) sends the same realistic
StatsD mix to each listener in turn on loopback, alternating the listeners round
by round: counters (half the datagrams, 40 names x 7 routes, DogStatsD tags),
timers with fresh values and sample rate 0.5, gauges, and datagrams holding three
metrics (a counter, a timer and a counter with sample rate 0.1). Loss is what the
kernel dropped because the listener's receive buffer was full (the ``drops`` of
``/proc/net/udp`` for its socket; on loopback nothing else loses a datagram). For
datamonitor and statsd, which count what they received, sent minus received is
checked against it. For datamonitor, the counter sums stored (SQLite) are checked
against the sums sent.

The peers, bench-only (not test dependencies); the bench skips one it cannot find:

* Etsy statsd, the reference implementation: ``npm install statsd`` (in the current
  folder, the repository's root or bench/; or ``npm install -g statsd``; or ``--statsd DIR``); run as ``node stats.js CONFIG`` with a
  7-line backend that counts the packets statsd hands its backends.
* collectd's statsd plugin: ``apt-get install collectd-core`` (Debian), run as
  ``collectd -f -C CONFIG`` with the statsd plugin only. It takes no DogStatsD tags: it
  rejects the tagged lines (and logs each); ``--no-tags`` leaves tags out of the mix.

Each listener flushes every 10 s, its default.

datamonitor asks for an 8 MiB receive buffer (``SO_RCVBUF``); the peers do not set
one and get ``net.core.rmem_default``. For equal buffers, the bench raises
``net.core.rmem_default`` to datamonitor's buffer for the peers' runs and restores it
after; where ``/proc/sys`` is read-only it says so beside the table. The buffer each
listener got (``ss -m``, ``rb``) is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RMEM_DEFAULT = Path("/proc/sys/net/core/rmem_default")
POOL = 1 << 19  # distinct datagrams before the sender starts over
STATSD_BACKEND = """
var fs = require('fs');
exports.init = function (startup, config, events) {
  var packets = 0;
  events.on('packet', function () { packets++; });
  setInterval(function () { fs.writeFileSync(config.countFile, JSON.stringify({packets: packets})); }, 200);
  return true;
};
"""
COLLECTD_CONF = """Interval 10
BaseDir "{dir}"
PIDFile "{dir}/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin statsd
<Plugin statsd>
  Host "127.0.0.1"
  Port "{port}"
  TimerPercentile 95
</Plugin>
"""


# ------------------------------------------------------------------ the mix

def make_pool(n: int = POOL, seed: int = 11, tags: bool = True) -> tuple[list[bytes], list[list[tuple[str, float]]]]:
    """The datagrams and, for each, its counter contributions (key, value / rate)."""
    rnd = random.Random(seed)
    pool, counts = _pool(n, rnd)
    if not tags:
        pool = [b"\n".join(line.partition(b"|#")[0] for line in d.split(b"\n")) for d in pool]
        counts = [[(k.partition("|")[0] + "|", v) for k, v in c] for c in counts]
    return pool, counts


def _pool(n: int, rnd: random.Random) -> tuple[list[bytes], list[list[tuple[str, float]]]]:
    pool, counts = [], []
    for i in range(n):
        r = rnd.random()
        if r < 0.5:
            name, tags = f"api.requests.{i % 40}", f"env:prod,route:r{i % 7}"
            pool.append(f"{name}:1|c|#{tags}".encode())
            counts.append([(f"{name}|{tags}", 1.0)])
        elif r < 0.7:
            pool.append(f"api.latency.{i % 20}:{rnd.lognormvariate(3, 1):.3f}|ms|@0.5|#env:prod".encode())
            counts.append([])
        elif r < 0.8:
            pool.append(f"queue.depth.{i % 10}:{rnd.randrange(1000)}|g".encode())
            counts.append([])
        else:
            b = rnd.randrange(1, 10_000)
            pool.append(f"jobs.done.{i % 30}:1|c\njobs.ms.{i % 30}:{rnd.random() * 100:.2f}|ms\n"
                        f"jobs.bytes:{b}|c|@0.1|#host:h{i % 5}".encode())
            counts.append([(f"jobs.done.{i % 30}|", 1.0), (f"jobs.bytes|host:h{i % 5}", b / 0.1)])
    return pool, counts


def expected_counters(counts: list[list[tuple[str, float]]], sent: int) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    full, rest = divmod(sent, len(counts))
    for i, contributions in enumerate(counts):
        times = full + (1 if i < rest else 0)
        for key, value in contributions:
            out[key] += value * times
    return out


def send(port: int, pool: list[bytes], rate: int, seconds: float) -> tuple[int, float]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    out, n, sent = sock.send, len(pool), 0
    start = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
        due = int(elapsed * rate)
        while sent < due:
            try:
                out(pool[sent % n])
            except ConnectionRefusedError:  # an ICMP from a socket closed too early: counted as sent and lost
                pass
            sent += 1
        time.sleep(0.0005)
    took = time.perf_counter() - start
    sock.close()
    return sent, took


# ------------------------------------------------------------------ the kernel's view of a socket

def udp_socket(port: int) -> dict[str, int] | None:
    """rx_queue and drops of the UDP socket bound to 127.0.0.1:port, from /proc/net/udp."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == want:
                return {"rx_queue": int(fields[4].split(":")[1], 16), "drops": int(fields[12])}
    return None


def rcvbuf(port: int) -> int | None:
    """The socket's receive buffer as the kernel accounts it (``ss -m``'s rb), or None without ss."""
    if not shutil.which("ss"):
        return None
    out = subprocess.run(["ss", "-u", "-a", "-n", "-m", "sport", "=", f":{port}"], capture_output=True, text=True).stdout
    for part in out.replace("(", ",").replace(")", ",").split(","):
        if part.startswith("rb") and part[2:].isdigit():
            return int(part[2:])
    return None


def wait_bound(port: int, proc: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while udp_socket(port) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"listener did not bind 127.0.0.1:{port} (exit code {proc.poll()})")
        time.sleep(0.05)


def wait_drained(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = udp_socket(port)
        if s is None or s["rx_queue"] == 0:
            return
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------ the listeners

class Listener:
    name = ""

    def __init__(self, work: Path) -> None:
        self.work = work

    def start(self, port: int) -> subprocess.Popen[Any]:
        raise NotImplementedError

    def received(self, proc: subprocess.Popen[Any]) -> int | None:
        """Stop the listener; what it says it received (None if it does not count)."""
        proc.terminate()
        proc.communicate(timeout=60)
        return None


class DataMonitorListener(Listener):
    name = "datamonitor"

    def start(self, port: int) -> subprocess.Popen[Any]:
        self.home = Path(tempfile.mkdtemp(dir=self.work))
        env = {**os.environ, "DATAMONITOR_HOME": str(self.home), "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-m", "datamonitor", "udp", "--port", str(port), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert proc.stderr is not None
        seen = ""
        for line in proc.stderr:  # "datamonitor: listening on 127.0.0.1:PORT (udp); ..." once ready
            seen += line
            if "listening on" in line:
                return proc
        proc.wait()
        raise RuntimeError(f"datamonitor udp did not start: {seen}")

    def received(self, proc: subprocess.Popen[Any]) -> int | None:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
        return int(json.loads(out)["received"])

    def stored_counters(self) -> dict[str, float]:
        sys.path.insert(0, str(ROOT))
        from datamonitor import DataMonitor, load_config

        sums: dict[str, float] = defaultdict(float)
        with DataMonitor(load_config(home=self.home)) as dm:
            for doc in dm.store.iter_documents():
                src = json.loads(doc.body)
                labels = dict(src.get("labels", {}))
                if labels.pop("statsd_type", None) == "counter":
                    tags = ",".join(f"{k}:{v}" for k, v in sorted(labels.items()))
                    sums[f"{src['kpi']['name']}|{tags}"] += src["kpi"]["value"]
        shutil.rmtree(self.home, ignore_errors=True)
        return sums


class StatsdListener(Listener):
    name = "statsd"

    def __init__(self, work: Path, directory: Path) -> None:
        super().__init__(work)
        self.dir = directory
        self.version = json.loads((directory / "package.json").read_text())["version"]
        (work / "count_backend.js").write_text(STATSD_BACKEND)

    def start(self, port: int) -> subprocess.Popen[Any]:
        self.count_file = self.work / f"statsd-{port}.json"
        conf = self.work / f"statsd-{port}.js"
        conf.write_text(json.dumps({"address": "127.0.0.1", "port": port, "flushInterval": 10000,
                                    "backends": [str(self.work / "count_backend.js")],
                                    "countFile": str(self.count_file), "deleteIdleStats": True}))
        with open(self.work / f"statsd-{port}.log", "w") as log:  # a file, not a pipe nobody reads
            proc = subprocess.Popen(["node", str(self.dir / "stats.js"), str(conf)], stdout=log, stderr=log)
        wait_bound(port, proc)
        return proc

    def received(self, proc: subprocess.Popen[Any]) -> int | None:
        time.sleep(0.5)  # the backend writes its count every 0.2 s
        proc.terminate()
        proc.communicate(timeout=60)
        return int(json.loads(self.count_file.read_text())["packets"]) if self.count_file.exists() else 0


class CollectdListener(Listener):
    name = "collectd"

    def __init__(self, work: Path, binary: str) -> None:
        super().__init__(work)
        self.binary = binary
        out = subprocess.run([binary, "-h"], capture_output=True, text=True).stdout
        self.version = next((w for w in out.split() if w[:1].isdigit() and "." in w), "?")

    def start(self, port: int) -> subprocess.Popen[Any]:
        d = self.work / f"collectd-{port}"
        d.mkdir()
        conf = d / "collectd.conf"
        conf.write_text(COLLECTD_CONF.format(dir=d, port=port))
        with open(d / "collectd.log", "w") as log:  # it logs each line it cannot parse (DogStatsD tags)
            proc = subprocess.Popen([self.binary, "-f", "-C", str(conf)], stdout=log, stderr=log)
        wait_bound(port, proc)
        return proc


# ------------------------------------------------------------------ the runs

def set_rmem_default(value: int) -> bool:
    try:
        RMEM_DEFAULT.write_text(f"{value}\n")
        return int(RMEM_DEFAULT.read_text()) == value
    except OSError:
        return False


def datamonitor_rcvbuf() -> int:
    """The receive buffer datamonitor's listener gets here (it asks for 8 MiB), as getsockopt reports it."""
    sys.path.insert(0, str(ROOT))
    from datamonitor.sources.udp import RCVBUF

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        return int(s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


def run_one(listener: Listener, rate: int, seconds: float, pool: list[bytes],
            counts: list[list[tuple[str, float]]]) -> dict[str, Any]:
    port = free_port()
    proc = listener.start(port)
    try:
        buf = rcvbuf(port)
        sent, took = send(port, pool, rate, seconds)
        wait_drained(port)
        sock = udp_socket(port)
        drops = sock["drops"] if sock else None
        received = listener.received(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    result: dict[str, Any] = {"listener": listener.name, "rate": rate, "sent": sent, "send_rate": sent / took,
                              "received": received, "drops": drops, "rcvbuf": buf}
    result["lost"] = drops if drops is not None else (sent - received if received is not None else None)
    if isinstance(listener, DataMonitorListener) and drops == 0:
        want = expected_counters(counts, sent)
        got = listener.stored_counters()
        result["sums_ok"] = (set(got) == set(want)
                             and all(abs(got[k] - want[k]) <= 1e-9 * max(1.0, abs(want[k])) for k in want))
    return result


def cell(results: list[dict[str, Any]]) -> str:
    def one(r: dict[str, Any]) -> str:
        lost = r["lost"]
        if lost is None:
            return "?"
        return f"{lost:,}" + (f" ({100 * lost / r['sent']:.1f}%)" if lost else "")
    return " / ".join(one(r) for r in results) + " lost" if results else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", type=int, nargs="+", default=[20_000, 50_000, 100_000, 150_000])
    ap.add_argument("--seconds", type=float, default=8.0, help="sending time per rate and listener (default 8)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", nargs="+", choices=["datamonitor", "statsd", "collectd"])
    ap.add_argument("--statsd", type=Path, help="the statsd package's folder (default: node_modules/statsd here)")
    ap.add_argument("--collectd", default=shutil.which("collectd") or "/usr/sbin/collectd")
    ap.add_argument("--no-tags", action="store_true",
                    help="leave DogStatsD tags out of the mix (collectd's statsd plugin rejects tagged lines)")
    ap.add_argument("--rss", type=float, metavar="S", help="datamonitor alone for S seconds: its peak RSS")
    args = ap.parse_args()

    pool, counts = make_pool(tags=not args.no_tags)
    work = Path(tempfile.mkdtemp(prefix="bench-udp-"))
    try:
        if args.rss:
            return rss_run(work, pool, args.rates[0], args.rss)
        listeners: list[Listener] = [DataMonitorListener(work)]
        notes = []
        candidates = [args.statsd] if args.statsd else [Path.cwd() / "node_modules/statsd",
                                                         ROOT / "node_modules/statsd", ROOT / "bench/node_modules/statsd"]
        if shutil.which("npm"):  # and a global install (npm install -g statsd)
            root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True).stdout.strip()
            candidates.append(Path(root) / "statsd")
        found = next((c for c in candidates if (c / "stats.js").exists()), None)
        if found and shutil.which("node"):
            listeners.append(StatsdListener(work, found))
        else:
            notes.append("Etsy statsd not found (npm install statsd): skipped")
        if Path(args.collectd).exists() and Path("/usr/lib/collectd/statsd.so").exists():
            listeners.append(CollectdListener(work, args.collectd))
        else:
            notes.append("collectd not found (apt-get install collectd-core): skipped")
        if args.only:
            listeners = [x for x in listeners if x.name in args.only]
        table(listeners, args, pool, counts, notes)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def table(listeners: list[Listener], args: argparse.Namespace, pool: list[bytes],
          counts: list[list[tuple[str, float]]], notes: list[str]) -> None:
    original = int(RMEM_DEFAULT.read_text()) if RMEM_DEFAULT.exists() else None
    results: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    ours = datamonitor_rcvbuf()
    raised = None
    try:
        for rnd in range(args.rounds):
            order = listeners if rnd % 2 == 0 else listeners[::-1]
            for rate in args.rates:
                for lst in order:
                    peer = not isinstance(lst, DataMonitorListener)
                    if peer and ours and original is not None:
                        raised = set_rmem_default(ours)
                    try:
                        r = run_one(lst, rate, args.seconds, pool, counts)
                    finally:
                        if peer and raised and original is not None:
                            set_rmem_default(original)
                    results[(lst.name, rate)].append(r)
                    extra = f"  counter sums {'equal' if r.get('sums_ok') else 'DIFFER'}" if "sums_ok" in r else ""
                    print(f"round {rnd + 1} {lst.name:>11} {rate:>7,}/s: sent {r['sent']:>9,} "
                          f"({r['send_rate']:>7,.0f}/s) received {r['received'] if r['received'] is not None else '-':>9}"
                          f" kernel drops {r['drops']:>8,} rcvbuf {r['rcvbuf'] or 0:>9,}{extra}", flush=True)
    finally:
        if original is not None and raised:
            set_rmem_default(original)
    titles = {"datamonitor": "datamonitor `udp`"}
    for lst in listeners:
        if isinstance(lst, StatsdListener):
            titles[lst.name] = f"Etsy statsd {lst.version}"
        elif isinstance(lst, CollectdListener):
            titles[lst.name] = f"collectd {lst.version} statsd plugin"
    print()
    print("| rate sent | " + " | ".join(titles[x.name] for x in listeners) + " |")
    print("|---|" + "---|" * len(listeners))
    for rate in args.rates:
        print(f"| {rate:,}/s | " + " | ".join(cell(results[(x.name, rate)]) for x in listeners) + " |")
    print()
    bufs = {x.name: sorted({r["rcvbuf"] for rs in results.values() for r in rs if r["listener"] == x.name
                            and r["rcvbuf"]}) for x in listeners}
    print("receive buffers (ss -m rb): " + "; ".join(f"{titles[n]} {', '.join(f'{b:,}' for b in v) or '?'} bytes"
                                                   for n, v in bufs.items()))
    if original is not None:
        if raised:
            print(f"net.core.rmem_default was raised from {original:,} to {ours:,} for the peers' runs, then restored")
        elif len(listeners) > 1:
            print(f"net.core.rmem_default could not be raised (read-only here): the peers ran with {original:,}")
    for note in notes:
        print(note)


def rss_run(work: Path, pool: list[bytes], rate: int, seconds: float) -> None:
    """datamonitor alone at ``rate`` for ``seconds``: its resident memory every second."""
    lst = DataMonitorListener(work)
    port = free_port()
    proc = lst.start(port)
    import threading

    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(1.0):
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    samples.append(int(line.split()[1]) // 1024)

    t = threading.Thread(target=sample)
    t.start()
    sent, took = send(port, pool, rate, seconds)
    wait_drained(port)
    drops = (udp_socket(port) or {}).get("drops")
    done.set()
    t.join()
    received = lst.received(proc)
    lst.stored_counters()
    tenth = max(1, len(samples) // 10)
    print(f"{rate:,}/s for {seconds:g} s: sent {sent:,} ({sent / took:,.0f}/s), received {received:,}, "
          f"kernel drops {drops:,}")
    print(f"RSS MiB: after {tenth} s {samples[tenth - 1]}, peak {max(samples)}, last {samples[-1]} "
          f"(every second: {' '.join(map(str, samples))})")


if __name__ == "__main__":
    main()
