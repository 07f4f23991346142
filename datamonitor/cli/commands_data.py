"""The commands that measure: file, disk, run, watch, udp, show, test."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ..cliutil import duration
from ..errors import EXIT_FAIL, EXIT_OK, EXIT_UNDELIVERED, EXIT_USAGE, ConfigError, PayloadError, ResourceUnavailable
from ..monitor import DataMonitor
from ..monitors import DiskMonitor, UdpMonitor
from ..notify import LogNotifier, human
from ..records import KpiRecord
from . import watch
from .options import port, stop_after
from .output import identified, kv, print_json, printable_text, table

__all__ = ["register"]


def register(add: Any) -> None:
    """Declare these commands and their options; ``add(name, help, function)`` makes a command's parser."""
    p = add("file", "measure data files (CSV, TSV, JSON lines, Parquet; compressed too) and store their KPIs", cmd_file)
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, folders (their data files) or glob patterns")
    p.add_argument("-r", "--recursive", action="store_true", help="walk folders recursively")
    p.add_argument("--format", choices=["csv", "tsv", "jsonl", "json", "parquet"], help="do not detect the format")
    p.add_argument("--delimiter", help="CSV delimiter (default: sniffed)")
    p.add_argument("--encoding", help="any codec Python knows (default: sniffed: UTF-8, UTF-16, Windows-1252, "
                                      "else Latin-1)")
    p.add_argument("--decimal", choices=[".", ","], help="decimal mark of numbers (default: ',' where unambiguous)")
    p.add_argument("--comment", metavar="TEXT", help="lines starting with TEXT are comments (default: none)")
    p.add_argument("--no-header", action="store_true", help="the first line is data, not column names")
    p.add_argument("--exact-distinct-mb", type=float, metavar="MB", default=64,
                   help="exact distinct counts while their hashes fit MB, a sketch (0.8%% error) above (default 64)")
    p = add("disk", "measure disk usage (bytes, used %% as df computes it, inodes) and store the KPIs", cmd_disk)
    p.add_argument("paths", nargs="*", metavar="PATH", help="paths to measure (default: every real mounted filesystem)")
    p.add_argument("--max-used-pct", type=float, metavar="P", help="notify when a filesystem is more than P%% used")
    p.add_argument("--min-free-gb", type=float, metavar="N", help="notify when less than N GiB are free")
    p.add_argument("--interval", type=duration, metavar="T",
                   help="measure every T (seconds, or 30s, 5m, 1h) until stopped (SIGINT/SIGTERM)")
    p.add_argument("--duration", type=duration, metavar="T", help="with --interval: stop after T")
    stop_after(add("run", "run every monitor of the config file (disk, watch, udp, files) until SIGINT/SIGTERM",
                   cmd_run))
    watch.register(add)
    p = add("udp", "listen for KPI datagrams (JSON or StatsD) and store them, until SIGINT/SIGTERM", cmd_udp)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=port, default=8200, help="UDP port (default 8200)")
    p.add_argument("--flush", type=duration, default=10.0, metavar="T", help="aggregate and store every T (default 10s)")
    p.add_argument("--max-size", type=int, default=8192, metavar="BYTES", help="reject bigger datagrams (default 8192)")
    p.add_argument("--secret-env", default="DATAMONITOR_UDP_SECRET", metavar="VAR",
                   help="environment variable holding the HMAC secret; when set, unsigned datagrams are rejected")
    stop_after(p)
    p = add("show", "one file or dataset at a glance: its columns, bad rows, recent rows per file, open anomalies",
            cmd_show)
    p.add_argument("target", metavar="FILE|DATASET",
                   help="a data file (measured now, not stored) or a dataset in the store, by name or key")


def register_checks(add: Any) -> None:
    p = add("test", "check without running: 'test config' (the config, every path, monitor and notifier) or "
                    "'test output' (reach the cluster and Kibana, say what setup would change)", cmd_test)
    p.add_argument("what", choices=["config", "output"], help="what to check")
    p.add_argument("--kibana", metavar="URL", help="with 'output': check Kibana too (reachable, version)")


# -------------------------------------------------------------------- file

def _profile_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"exact_distinct_values": int(args.exact_distinct_mb * (1 << 20)) // 8}
    for key in ("format", "delimiter", "encoding", "decimal", "comment"):
        if getattr(args, key):
            options[key] = getattr(args, key)
    if args.delimiter:
        options["delimiter"] = args.delimiter.encode().decode("unicode_escape")  # accept \t
    if args.no_header:
        options["header"] = False
    return options


class _Bars:
    """A progress bar per file of 32 MiB or more, on a terminal only."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bars: dict[Any, Any] = {}

    def __call__(self, path: Any, fraction: float) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm  # type: ignore[import-untyped]

        if path not in self.bars:
            size = path.stat().st_size
            self.bars[path] = None if size < 32 << 20 else tqdm(total=size, unit="B", unit_scale=True, desc=path.name,
                                                                file=sys.stderr, leave=False)
        bar = self.bars[path]
        if bar is not None:
            bar.update(int(fraction * bar.total) - bar.n)
            if fraction >= 1.0:
                bar.close()


def _file_row(r: Any) -> list[Any]:
    from ..sources.files import printable

    prof = r.profile
    size = r.path.stat().st_size if r.path.exists() else 0
    return [printable(r.path), prof.format + (f"+{prof.compression}" if prof.compression else ""), f"{prof.rows:,}",
            len(prof.columns), prof.bad_rows, f"{prof.seconds:.2f}",
            f"{size / prof.seconds / 1e6:.0f}" if prof.seconds > 0 else "-",
            ("drift: " + ", ".join(f"{k} {', '.join(v)}" for k, v in r.drift.items() if v)) if r.drift else ""]


def _print_files(results: Sequence[Any], args: argparse.Namespace, out: TextIO) -> None:
    from ..sources.files import bad_rows_text, printable

    if args.json:
        for r in results:
            if r.error:
                print_json({"path": printable(r.path), "error": printable_text(r.error)}, out)
            for rec in r.records:
                print_json(identified(rec), out)
        return
    rows = [_file_row(r) for r in results if not r.error]
    if not rows:
        return
    table(rows, ["file", "format", "rows", "columns", "bad rows", "seconds", "MB/s", ""], out)
    for r in results:
        if r.profile is not None and r.profile.bad_rows:
            more = r.profile.bad_rows - len(r.profile.bad_row_examples)
            out.write(f"{printable(r.path)}: bad rows: {bad_rows_text(r.profile)}"
                      + (f" (and {more:,} more)" if more > 0 else "") + "\n")


def cmd_file(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    progress = _Bars(sys.stderr.isatty() and not args.json)
    results = dm.collect_file(*args.paths, recursive=args.recursive, progress=progress, **_profile_options(args))
    _print_files(results, args, out)
    failed = [r for r in results if r.error]
    for r in failed:
        sys.stderr.write(f"datamonitor: {printable_text(r.error or '')}\n")
    return EXIT_FAIL if failed else EXIT_OK


# -------------------------------------------------------------------- disk

def _latest_disk(records: Sequence[KpiRecord]) -> dict[str, dict[str, Any]]:
    """Each mount's disk KPIs of the records, the last value of each."""
    latest: dict[str, dict[str, Any]] = {}
    for rec in records:
        if rec.subject is not None and rec.name.startswith("disk."):
            latest.setdefault(rec.subject, {})[rec.name] = rec.value
    return latest


def _disk_line(records: Sequence[KpiRecord], out: TextIO) -> None:
    """One line per measured mount, as a loop on a terminal prints it after each measurement."""
    when = max((rec.timestamp for rec in records if rec.name.startswith("disk.")), default=None)
    for mount, v in _latest_disk(records).items():
        out.write(f"{when:%Y-%m-%d %H:%M:%S}  {mount}  {v.get('disk.used_pct', 0):.1f}% used, "
                  f"{human(v.get('disk.free_bytes', 0), 'bytes')} free\n")
    out.flush()


def _disk_table(records: Sequence[KpiRecord], out: TextIO) -> None:
    gib = float(1 << 30)
    rows = [[mount, f"{v.get('disk.total_bytes', 0) / gib:,.1f}", f"{v.get('disk.used_bytes', 0) / gib:,.1f}",
             f"{v.get('disk.free_bytes', 0) / gib:,.1f}", f"{v.get('disk.used_pct', 0):.1f}",
             f"{v['disk.inodes_used_pct']:.1f}" if "disk.inodes_used_pct" in v else "-"]
            for mount, v in _latest_disk(records).items()]
    if rows:
        table(rows, ["mount", "size GiB", "used GiB", "free GiB", "used %", "inodes used %"], out)


def cmd_disk(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    if args.duration is not None and args.interval is None:
        raise PayloadError("--duration goes with --interval")
    model = DiskMonitor(paths=tuple(args.paths) or None, interval=args.interval or 60.0,
                        max_used_pct=args.max_used_pct, min_free_gb=args.min_free_gb)
    monitor = model.build(dm, notifiers=[LogNotifier()])
    if args.interval is None:
        shown = monitor.step()
    else:
        shown = []
        live = sys.stdout.isatty() and not args.json and not args.quiet

        def each(records: list[KpiRecord]) -> None:
            shown.extend(records)
            if live:
                _disk_line(records, out)

        monitor.loop(duration=args.duration, on_step=each)
    if args.json:
        for rec in shown:
            print_json(identified(rec), out)
        return EXIT_OK
    _disk_table(shown, out)
    return EXIT_FAIL if monitor.source.errors else EXIT_OK


# --------------------------------------------------------------- run, udp

def log_each_file(args: argparse.Namespace) -> None:
    """The watcher's line per measured file is INFO; show it at the default level too (not with -q)."""
    if not args.quiet and args.log_level is None and args.verbose == 0:
        logging.getLogger("datamonitor.sources.watch").setLevel(logging.INFO)


def cmd_run(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from ..checks import check_config
    from ..service import load_service, run_service, service_problems

    if dm.config.source is None:
        raise ConfigError("run needs a config file with [[monitors]]: --config FILE (examples/ has some)")
    problems = [p.text for p in service_problems(dm.config.source)]  # every problem at once, before anything starts
    problems += [c.detail for c in check_config(dm.config, monitors=False) if c.status == "error"]
    if problems:
        raise ConfigError(problems=problems)
    spec = load_service(dm.config.source)
    if any(m.type == "watch" for m in spec.monitors):
        log_each_file(args)
    summary = run_service(dm, spec, duration=args.duration)
    if args.json:
        print_json(summary, out)
    else:
        for label, counts in summary.items():
            out.write(f"{label}: {', '.join(f'{k} {v}' for k, v in counts.items())}\n")
    return EXIT_OK


def cmd_udp(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    import asyncio
    import signal

    listener = UdpMonitor(host=args.host, port=args.port, flush=args.flush, max_size=args.max_size,
                          secret_env=args.secret_env).build(dm)

    def ready(lst: Any) -> None:
        host, port = lst.bound or (args.host, args.port)
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        sys.stderr.write(f"datamonitor: listening on {where} (udp); receive buffer {lst.rcvbuf or 0:,} bytes\n")
        sys.stderr.flush()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, listener.stop)
        await listener.serve(duration=args.duration, ready=ready)

    try:
        asyncio.run(run())
    except OSError as exc:
        raise ResourceUnavailable(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    t = listener.totals
    if args.json:
        print_json({"received": t.received, "accepted": t.accepted, "rejected": t.rejected,
                    "unsupported": t.unsupported, "kernel_drops": listener.kernel_drops}, out)
    else:
        kv([("received", t.received), ("accepted", t.accepted), ("rejected", t.rejected),
            ("unsupported lines", t.unsupported), ("dropped by the kernel", listener.kernel_drops)], out)
    return EXIT_OK


# --------------------------------------------------------------- show, test

def cmd_show(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from .. import show

    summary = show.summarize(dm, args.target)
    if args.json:
        print_json(summary, out)
    else:
        out.write(show.render(summary))
    return EXIT_OK


def cmd_test(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from .. import checks

    if args.what == "config":
        if args.kibana:
            raise PayloadError("--kibana goes with 'test output'")
        results = checks.check_config(dm.config)
    else:
        results = checks.check_output(dm, kibana=args.kibana)
    failed = any(c.status == "error" for c in results)
    if args.json:
        print_json({"ok": not failed, "checks": [c.__dict__ for c in results]}, out)
    else:
        width = max(len(c.what) for c in results)
        for c in results:
            out.write(f"{c.what.ljust(width)}  {c.status.upper():5}  {c.detail}".rstrip() + "\n")
        out.write(f"{args.what.capitalize()} {'FAILED' if failed else 'OK'}\n")
    if not failed:
        return EXIT_OK
    return EXIT_USAGE if args.what == "config" or not dm.config.es.configured else EXIT_UNDELIVERED
