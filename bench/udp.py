"""UDP listener throughput: the datagrams per second it takes with zero loss, for 10 s each rate.

    python bench/udp.py [--rates 20000 50000 80000] [--seconds 10]

For each rate, a fresh `datamonitor udp` process (aggregating, storing every
flush in SQLite) listens on loopback while this process sends StatsD counter
datagrams at that rate, paced per millisecond. Loss is what was sent minus what
the listener counted as received. Prints sent, received, lost and the achieved
rates.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(rate: int, seconds: float) -> dict[str, float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DATAMONITOR_HOME": home}
        proc = subprocess.Popen([sys.executable, "-m", "datamonitor", "udp", "--port", str(port), "--flush", "1",
                                 "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        time.sleep(2.0)  # start-up
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        payloads = [f"bench.metric{i % 50}:1|c".encode() for i in range(1000)]
        sent = 0
        start = time.perf_counter()
        while True:
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
            due = int(elapsed * rate)
            while sent < due:
                sock.sendto(payloads[sent % 1000], ("127.0.0.1", port))
                sent += 1
            time.sleep(0.0005)
        send_seconds = time.perf_counter() - start
        sock.close()
        time.sleep(1.5)  # let the listener drain its socket buffer
        proc.send_signal(2)
        out, _err = proc.communicate(timeout=60)
        totals = json.loads(out)
    return {"rate": rate, "sent": sent, "received": totals["received"], "lost": sent - totals["received"],
            "send_rate": sent / send_seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", type=int, nargs="+", default=[20_000, 50_000, 80_000])
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    best = 0
    for rate in args.rates:
        r = run(rate, args.seconds)
        ok = r["lost"] == 0
        best = max(best, rate) if ok else best
        print(f"target {rate:>7,}/s  sent {r['sent']:>9,} ({r['send_rate']:>9,.0f}/s)  received {r['received']:>9,}"
              f"  lost {r['lost']:>7,}  {'zero loss' if ok else 'LOSS'}")
    print(f"highest rate with zero loss over {args.seconds:g} s: {best:,} datagrams/s")


if __name__ == "__main__":
    main()
