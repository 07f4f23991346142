"""The command line: parse, call the library, print. Nothing else lives here.

Exit codes: 0 success; 1 an operation failed; 2 bad usage, input or config;
3 the cluster is unreachable (documents wait in the store); 4 some documents
were rejected for good (dead letters); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from . import __version__
from .config import load_config
from .errors import (
    ClusterUnreachable,
    ConfigError,
    DataMonitorError,
    ElasticsearchError,
    NotConfigured,
    PayloadError,
)
from .monitor import DataMonitor
from .records import parse_timestamp

__all__ = ["main"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_REJECTED, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line and exit 2, as argparse does, with our prefix
        self.exit(EXIT_USAGE, f"datamonitor: error: {message}\n")


def _common() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("common options")
    sup = argparse.SUPPRESS
    g.add_argument("--es", metavar="URL", default=sup, help="Elasticsearch URL(s), comma-separated (env DATAMONITOR_ES_URL)")
    g.add_argument("--home", metavar="DIR", default=sup, help="where the store and run files live (env DATAMONITOR_HOME)")
    g.add_argument("--store", metavar="FILE", default=sup, help="the SQLite store file (default <home>/datamonitor.db)")
    g.add_argument("--config", metavar="FILE", default=sup, help="TOML config file (env DATAMONITOR_CONFIG)")
    g.add_argument("--json", action="store_true", default=sup, help="machine-readable output: JSON, NDJSON for documents")
    g.add_argument("-v", "--verbose", action="count", default=sup, help="more logging on stderr (-vv for debug)")
    return p


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not in 0-65535")
    return port


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(
        prog="datamonitor",
        description="Collect data KPIs, keep them in a local store and ship them to Elasticsearch.",
        parents=[common],
        epilog="Without --es (or DATAMONITOR_ES_URL), documents stay in the embedded SQLite store.",
    )
    parser.add_argument("--version", action="version", version=f"datamonitor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=argparse.ArgumentParser)

    def add(name: str, help_: str, fn: Callable[[DataMonitor, argparse.Namespace, TextIO], int]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, parents=[common])
        p.error = parser.error  # type: ignore[method-assign]  # one prefix and exit code for every usage error
        p.set_defaults(func=fn)
        return p

    add("info", "show the datamonitor version, the store, and the cluster's info", _cmd_info)
    p = add("setup", "install the index templates into Elasticsearch and the dashboard into Kibana (idempotent)",
            _cmd_setup)
    p.add_argument("--print", action="store_true", dest="print_only", help="print the objects instead of installing them")
    p.add_argument("--kibana", metavar="URL", help="also import the data view, Lens charts and dashboard into Kibana")
    p.add_argument("--space", metavar="NAME", help="the Kibana space to import into (default: the default space)")
    p = add("export", "write the Kibana saved objects as NDJSON, for importing by hand", _cmd_export)
    p.add_argument("what", choices=["kibana"], help="what to export")
    p = add("report", "write one self-contained HTML report of the KPIs (plots and latest values)", _cmd_report)
    p.add_argument("--since", default="7d", help="only after this time: ISO-8601, or an age such as 6h, 7d (default 7d)")
    p.add_argument("--out", default="report.html", help="the HTML file to write (default report.html; - for stdout)")
    p.add_argument("--threshold", action="append", default=[], metavar="KPI=VALUE",
                   help="draw a threshold on a KPI's plot, e.g. disk.used_pct=90 (repeatable)")
    p.add_argument("--local", action="store_true", help="read the local store even when a cluster is configured")
    p = add("send", "store (and ship) KPI documents from a JSON argument or NDJSON on stdin", _cmd_send)
    p.add_argument("payload", nargs="?", help='a JSON object, e.g. \'{"name": "rows", "value": 6543}\'; "-" or none reads stdin')
    p.add_argument("--index", help="send to this index instead of <prefix>-<yyyy.mm>")
    p = add("get", "show one document by id", _cmd_get)
    p.add_argument("docid")
    p.add_argument("--index", help="the index to read (default: the configured prefix)")
    p = add("search", "list recent documents, newest first", _cmd_search)
    p.add_argument("--name", help="only this KPI name (kpi.name)")
    p.add_argument("--since", help="only after this time: ISO-8601, or an age such as 30m, 6h, 7d")
    p.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    p.add_argument("--local", action="store_true", help="search the local store even when a cluster is configured")
    p = add("ship", "deliver pending documents from the store to Elasticsearch", _cmd_ship)
    p.add_argument("--retry-dead", action="store_true", help="also re-send documents that were rejected before")
    p = add("file", "measure data files (CSV, TSV, JSON lines, Parquet; compressed too) and store their KPIs", _cmd_file)
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
    p = add("disk", "measure disk usage (bytes, used %% as df computes it, inodes) and store the KPIs", _cmd_disk)
    p.add_argument("paths", nargs="*", metavar="PATH", help="paths to measure (default: every real mounted filesystem)")
    p.add_argument("--max-used-pct", type=float, metavar="P", help="notify when a filesystem is more than P%% used")
    p.add_argument("--min-free-gb", type=float, metavar="N", help="notify when less than N GiB are free")
    p.add_argument("--interval", type=float, metavar="S", help="measure every S seconds until stopped (SIGINT/SIGTERM)")
    p.add_argument("--duration", type=float, metavar="S", help="with --interval: stop after S seconds")
    p = add("run", "run every monitor of the config file (disk, watch, udp, files) until SIGINT/SIGTERM", _cmd_run)
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p = add("watch", "watch folders: each finished data file becomes KPIs, until SIGINT/SIGTERM "
                     "(or in the background: watch start|stop|status)", _cmd_watch)
    p.add_argument("dirs", nargs="+", metavar="DIR",
                   help="folders to watch; 'start DIR...', 'stop' and 'status' run it in the background")
    p.add_argument("--run-dir", metavar="DIR", help="pid and log files of 'watch start' (default <home>/run)")
    p.add_argument("-r", "--recursive", action="store_true", help="watch sub-folders too")
    p.add_argument("--settle", type=float, default=0.5, metavar="S",
                   help="a file must keep its size and time this long before it is measured (default 0.5)")
    p.add_argument("--ignore", action="append", metavar="PATTERN",
                   help="names to skip (repeatable; default *.tmp*, *.part, *.crdownload and dotfiles)")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p = add("udp", "listen for KPI datagrams (JSON or StatsD) and store them, until SIGINT/SIGTERM", _cmd_udp)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_port, default=8200, help="UDP port (default 8200)")
    p.add_argument("--flush", type=float, default=10.0, metavar="S", help="aggregate and store every S seconds (default 10)")
    p.add_argument("--max-size", type=int, default=8192, metavar="BYTES", help="reject bigger datagrams (default 8192)")
    p.add_argument("--secret-env", default="DATAMONITOR_UDP_SECRET", metavar="VAR",
                   help="environment variable holding the HMAC secret; when set, unsigned datagrams are rejected")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p = add("status", "store size, pending and dead documents, last shipment, cluster reachability", _cmd_status)
    p.add_argument("--no-cluster", action="store_true", help="do not contact the cluster")
    return parser


# ------------------------------------------------------------------ output

def _print_json(obj: Any, out: TextIO) -> None:
    out.write(json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n")


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str], out: TextIO) -> None:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    out.write("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip() + "\n")
    for r in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def _kv(pairs: Sequence[tuple[str, Any]], out: TextIO) -> None:
    width = max(len(k) for k, _ in pairs)
    for key, val in pairs:
        out.write(f"{key.ljust(width)}  {'-' if val is None else val}\n")


def _doc_rows(hits: Sequence[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for h in hits:
        s = h["_source"]
        kpi = s.get("kpi", {})
        value = kpi.get("value", kpi.get("text"))
        rows.append([s.get("@timestamp"), kpi.get("name"), kpi.get("subject"), value, kpi.get("unit"),
                     s.get("event", {}).get("dataset"), h["_id"]])
    return rows


# ---------------------------------------------------------------- commands

def _cmd_info(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    import elasticsearch

    info: dict[str, Any] = {
        "datamonitor": __version__,
        "elasticsearch_client": ".".join(map(str, elasticsearch.__version__)),
        "store": str(dm.config.store_file),
        "config": str(dm.config.source) if dm.config.source else None,
        "cluster": None,
    }
    if dm.connected:
        info["cluster"] = dm.es_info()
    if args.json:
        _print_json(info, out)
    else:
        cluster = info["cluster"]
        pairs: list[tuple[str, Any]] = [(k, info[k]) for k in ("datamonitor", "elasticsearch_client", "store", "config")]
        if cluster is None:
            pairs.append(("cluster", "none configured (embedded store only)"))
        else:
            pairs += [("cluster", cluster.get("cluster_name")), ("version", cluster.get("version", {}).get("number"))]
        _kv(pairs, out)
    return EXIT_OK


def _cmd_setup(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from . import templates

    if args.print_only:
        _print_json({kind: {"name": name, "body": body} for kind, (name, body) in templates.rendered(dm.config.es).items()}, out)
        return EXIT_OK
    if not dm.connected and not args.kibana:
        raise NotConfigured("setup needs a cluster (--es URL) or --kibana URL")
    result: dict[str, Any] = {}
    if dm.connected:
        result.update(dm.es_setup())
    if args.kibana:
        answer = dm.kibana_setup(args.kibana, space=args.space)
        result["kibana objects"] = f"imported {answer.get('successCount', 0)}"
    if args.json:
        _print_json(result, out)
    else:
        _table(sorted(result.items()), ["object", "outcome"], out)
    return EXIT_OK


def _cmd_export(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from . import kibana

    out.write(kibana.to_ndjson(kibana.objects(dm.config.es)))
    return EXIT_OK


def _cmd_report(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    thresholds: dict[str, float] = {}
    for item in args.threshold:
        name, sep, value = item.partition("=")
        try:
            thresholds[name.strip()] = float(value)
        except ValueError:
            raise PayloadError(f"--threshold {item!r}: expected KPI=NUMBER, e.g. disk.used_pct=90") from None
        if not sep or not name.strip():
            raise PayloadError(f"--threshold {item!r}: expected KPI=NUMBER, e.g. disk.used_pct=90")
    text = dm.report(since=_parse_since(args.since), thresholds=thresholds, local=True if args.local else None)
    if args.out == "-":
        out.write(text)
    else:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
        sys.stderr.write(f"wrote {args.out} ({len(text) / 1024:,.0f} KiB)\n")
    return EXIT_OK


def _read_payloads(args: argparse.Namespace, stdin: TextIO) -> list[Any]:
    if args.payload not in (None, "-"):
        try:
            return [json.loads(args.payload)]
        except json.JSONDecodeError as exc:
            raise PayloadError(f"payload argument: not JSON: {exc.msg} at column {exc.colno}") from None
    payloads = []
    for lineno, line in enumerate(stdin, 1):
        if not line.strip():
            continue
        try:
            payloads.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise PayloadError(f"stdin line {lineno}: not JSON: {exc.msg} at column {exc.colno}") from None
    if not payloads:
        raise PayloadError("no payload: give a JSON object as argument or NDJSON on stdin")
    return payloads


def _cmd_send(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    payloads = _read_payloads(args, sys.stdin)
    ids = dm.record(payloads, index=args.index, ship=False)
    result = _ship(dm, args) if dm.connected else None
    for doc_id in ids:
        if args.json:
            _print_json({"_id": doc_id}, out)
        else:
            out.write(doc_id + "\n")
    if result is None:
        if not args.json:
            sys.stderr.write(f"stored {len(ids)} document(s) in {dm.config.store_file} (no cluster configured)\n")
        return EXIT_OK
    return _ship_exit(result)


def _cmd_get(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    resp = dm.es_get(index=args.index or dm.config.es.index_prefix, docid=args.docid)
    if not resp.get("found"):
        sys.stderr.write(f"datamonitor: document {args.docid} not found\n")
        return EXIT_FAIL
    if args.json:
        _print_json(resp, out)
    else:
        out.write(json.dumps(resp, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return EXIT_OK


def _parse_since(raw: str) -> str:
    from datetime import datetime, timedelta, timezone

    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = raw.strip()
    if text[:-1].isdigit() and text[-1:] in units:
        return (datetime.now(timezone.utc) - timedelta(seconds=int(text[:-1]) * units[text[-1]])).isoformat()
    return parse_timestamp(text, "--since").isoformat()


def _cmd_search(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    if args.limit < 1:
        raise PayloadError("--limit must be at least 1")
    since = _parse_since(args.since) if args.since else None
    hits = dm.search(name=args.name, since=since, limit=args.limit, local=True if args.local else None)
    if args.json:
        for h in hits:
            _print_json({"_index": h["_index"], "_id": h["_id"], **h["_source"]}, out)
    else:
        _table(_doc_rows(hits), ["@timestamp", "kpi", "subject", "value", "unit", "dataset", "id"], out)
    return EXIT_OK


def _ship(dm: DataMonitor, args: argparse.Namespace, retry_dead: bool = False) -> Any:
    bar = None
    if sys.stderr.isatty() and not args.json:
        from tqdm import tqdm  # type: ignore[import-untyped]

        pending = dm.store.count(0) + (dm.store.count(2) if retry_dead else 0)
        if pending > 1000:
            bar = tqdm(total=pending, unit="doc", desc="shipping", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    try:
        return dm.ship(retry_dead=retry_dead, progress=progress)
    finally:
        if bar is not None:
            bar.close()


def _ship_exit(result: Any) -> int:
    if result.error:
        sys.stderr.write(f"datamonitor: {result.error}; {result.pending} document(s) wait in the store\n")
        return EXIT_UNREACHABLE
    if result.dead:
        sys.stderr.write(f"datamonitor: {result.dead} document(s) rejected for good; see 'datamonitor status'\n")
        return EXIT_REJECTED
    return EXIT_OK


def _cmd_ship(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    if not dm.connected:
        raise NotConfigured("ship needs a cluster: give --es URL or set DATAMONITOR_ES_URL")
    result = _ship(dm, args, retry_dead=args.retry_dead)
    if args.json:
        _print_json(result.as_dict(), out)
    else:
        _kv([("shipped", result.created), ("already there", result.duplicates), ("retry later", result.retry),
             ("dead", result.dead), ("pending", result.pending)], out)
        for f in result.failures[:20]:
            out.write(f"  {f.status}: {f.index}/{f.doc_id}: {f.reason}\n")
    return _ship_exit(result)


def _cmd_file(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    options: dict[str, Any] = {"exact_distinct_values": int(args.exact_distinct_mb * (1 << 20)) // 8}
    for key in ("format", "delimiter", "encoding", "decimal", "comment"):
        if getattr(args, key):
            options[key] = getattr(args, key)
    if args.delimiter:
        options["delimiter"] = args.delimiter.encode().decode("unicode_escape")  # accept \t
    if args.no_header:
        options["header"] = False
    bars: dict[Any, Any] = {}

    def progress(path: Any, fraction: float) -> None:
        if not sys.stderr.isatty() or args.json:
            return
        from tqdm import tqdm

        if path not in bars:
            size = path.stat().st_size
            if size < 32 << 20:
                bars[path] = None
            else:
                bars[path] = tqdm(total=size, unit="B", unit_scale=True, desc=path.name, file=sys.stderr, leave=False)
        bar = bars[path]
        if bar is not None:
            bar.update(int(fraction * bar.total) - bar.n)
            if fraction >= 1.0:
                bar.close()

    results = dm.collect_file(*args.paths, recursive=args.recursive, progress=progress, **options)
    rows = []
    for r in results:
        if args.json:
            if r.error:
                _print_json({"path": str(r.path), "error": r.error}, out)
            for rec in r.records:
                from .records import document_id, to_document

                _print_json({"_id": document_id(rec), **to_document(rec)}, out)
            continue
        if r.error:
            continue
        prof = r.profile
        assert prof is not None
        size = r.path.stat().st_size if r.path.exists() else 0
        rows.append([str(r.path), prof.format + (f"+{prof.compression}" if prof.compression else ""), f"{prof.rows:,}",
                     len(prof.columns), prof.bad_rows, f"{prof.seconds:.2f}",
                     f"{size / prof.seconds / 1e6:.0f}" if prof.seconds > 0 else "-",
                     ("drift: " + ", ".join(f"{k} {', '.join(v)}" for k, v in r.drift.items() if v)) if r.drift else ""])
    if not args.json and rows:
        _table(rows, ["file", "format", "rows", "columns", "bad rows", "seconds", "MB/s", ""], out)
    failed = [r for r in results if r.error]
    for r in failed:
        sys.stderr.write(f"datamonitor: {r.error}\n")
    if failed:
        return EXIT_FAIL
    return EXIT_OK


def _cmd_disk(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from .notify import LogNotifier, Threshold
    from .sources.disk import DiskSource

    thresholds = []
    if args.max_used_pct is not None:
        thresholds.append(Threshold("disk.used_pct", above=args.max_used_pct, hysteresis=1.0))
    if args.min_free_gb is not None:
        thresholds.append(Threshold("disk.free_bytes", below=args.min_free_gb * (1 << 30), hysteresis=float(1 << 30)))
    if args.duration is not None and args.interval is None:
        raise PayloadError("--duration goes with --interval")
    monitor = dm.monitor(DiskSource(args.paths or None), interval=args.interval or 60.0, thresholds=thresholds,
                         notifiers=[LogNotifier()])
    if args.interval is None:
        shown = monitor.step()
    else:
        captured: list[Any] = []
        store = monitor.sink

        def keep(records: list[Any]) -> None:
            captured.extend(records)
            if store is not None:
                store(records)

        monitor.sink = keep
        monitor.loop(duration=args.duration)
        shown = captured
    if args.json:
        from .records import document_id, to_document

        for rec in shown:
            _print_json({"_id": document_id(rec), **to_document(rec)}, out)
        return EXIT_OK
    latest: dict[str, dict[str, Any]] = {}
    for rec in shown:
        if rec.subject is not None and rec.name.startswith("disk."):
            latest.setdefault(rec.subject, {})[rec.name] = rec.value
    gib = float(1 << 30)
    rows = [[mount, f"{v.get('disk.total_bytes', 0) / gib:,.1f}", f"{v.get('disk.used_bytes', 0) / gib:,.1f}",
             f"{v.get('disk.free_bytes', 0) / gib:,.1f}", f"{v.get('disk.used_pct', 0):.1f}",
             f"{v['disk.inodes_used_pct']:.1f}" if "disk.inodes_used_pct" in v else "-"]
            for mount, v in latest.items()]
    _table(rows, ["mount", "size GiB", "used GiB", "free GiB", "used %", "inodes used %"], out)
    return EXIT_OK


def _cmd_run(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from .service import load_service, run_service

    if dm.config.source is None:
        raise ConfigError("run needs a config file with [[monitors]]: --config FILE (examples/ has some)")
    spec = load_service(dm.config.source)
    summary = run_service(dm, spec, duration=args.duration)
    if args.json:
        _print_json(summary, out)
    else:
        for label, counts in summary.items():
            out.write(f"{label}: {', '.join(f'{k} {v}' for k, v in counts.items())}\n")
    return EXIT_OK


_WATCH_READY = "datamonitor: watching"


def _cmd_watch(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    import signal
    import threading
    from pathlib import Path

    if args.dirs[0] in ("start", "stop", "status"):
        from . import daemon

        action, dirs = args.dirs[0], args.dirs[1:]
        run_dir = Path(args.run_dir) if args.run_dir else dm.config.home / "run"
        if action == "status":
            state, pid = daemon.status(run_dir, "watch")
            shown = {"running": f"running (pid {pid})", "stopped": "not running",
                     "stale": f"not running; stale pid file ({pid}) in {run_dir}"}[state]
            _print_json({"state": state, "pid": pid}, out) if args.json else out.write(f"watch: {shown}\n")
            return EXIT_OK if state == "running" else EXIT_FAIL
        if action == "stop":
            out.write(f"watch: {daemon.stop(run_dir, 'watch')}\n")
            return EXIT_OK
        if not dirs:
            raise PayloadError("watch start needs at least one DIR")
        child = ["--home", str(dm.config.home), "--store", str(dm.config.store_file)]
        if dm.config.source:
            child += ["--config", str(dm.config.source)]
        if args.es:
            child += ["--es", args.es]
        child += ["watch", *[str(Path(d).resolve()) for d in dirs], "--settle", str(args.settle)]
        if args.recursive:
            child.append("--recursive")
        for pattern in args.ignore or []:
            child += ["--ignore", pattern]
        pid = daemon.start(run_dir, "watch", child, ready=_WATCH_READY)
        out.write(f"watch: started (pid {pid}); log {run_dir / 'watch.log'}\n")
        return EXIT_OK

    try:
        watcher = dm.watcher(*args.dirs, recursive=args.recursive, settle=args.settle, ignore=args.ignore)
    except NotADirectoryError as exc:
        raise PayloadError(str(exc)) from None
    done = threading.Event()
    previous = {sig: signal.signal(sig, lambda _s, _f: done.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    watcher.start()
    sys.stderr.write(f"{_WATCH_READY} {', '.join(str(d) for d in watcher.dirs)}\n")
    sys.stderr.flush()
    try:
        done.wait(args.duration)
    finally:
        watcher.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.json:
        _print_json({"processed": watcher.processed}, out)
    else:
        out.write(f"measured {watcher.processed} file(s)\n")
    return EXIT_OK


def _cmd_udp(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    import asyncio
    import os
    import signal

    from .sources.udp import UdpListener

    secret = os.environ.get(args.secret_env)
    listener = UdpListener(args.host, args.port, flush_interval=args.flush, max_size=args.max_size,
                           secret=secret.encode() if secret else None, sink=lambda records: dm.record(records))

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, listener.stop)
        await listener.serve(duration=args.duration)

    try:
        asyncio.run(run())
    except OSError as exc:
        raise PayloadError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    t = listener.totals
    if args.json:
        _print_json({"received": t.received, "accepted": t.accepted, "rejected": t.rejected}, out)
    else:
        _kv([("received", t.received), ("accepted", t.accepted), ("rejected", t.rejected)], out)
    return EXIT_OK


def _cmd_status(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    st = dm.status(check_cluster=not args.no_cluster)
    dead = dm.dead_letters(20) if st["dead"] else []
    if args.json:
        _print_json({**st, "dead_letters": dead}, out)
    else:
        reach = {True: "yes", False: f"NO ({st['cluster_error']})", None: "-"}[st["reachable"]]
        _kv([("store", st["store"]), ("store size", f"{st['store_bytes']:,} bytes"), ("documents", st["documents"]),
             ("pending", st["pending"]), ("shipped", st["shipped"]), ("dead", st["dead"]),
             ("backlog", f"{st['backlog_bytes']:,} bytes" + (f" of max {st['max_size']:,} ({st['when_full']})"
                                                              if st["max_size"] else " (no bound)")),
             ("dropped when full", st["dropped"]), ("refused when full", st["refused"]),
             ("oldest pending", st["oldest_pending"]), ("last shipment", st["last_shipment"]),
             ("cluster", st["cluster"] or "none configured"), ("reachable", reach),
             ("cluster version", st["cluster_version"])], out)
        for d in dead:
            out.write(f"  dead: {d['_index']}/{d['_id']}: {d['reason']}\n")
    if st["reachable"] is False:
        return EXIT_UNREACHABLE
    return EXIT_OK


# -------------------------------------------------------------------- main

def _setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("datamonitor: %(levelname)s: %(message)s"))
    root = logging.getLogger("datamonitor")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, default in (("json", False), ("verbose", 0), ("es", None), ("home", None), ("store", None), ("config", None)):
        if not hasattr(args, name):
            setattr(args, name, default)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_USAGE
    _setup_logging(args.verbose)
    dm = None
    try:
        config = load_config(args.config, home=args.home, es_url=args.es, store_path=args.store)
        dm = DataMonitor(config)
        return int(args.func(dm, args, sys.stdout))
    except KeyboardInterrupt:
        sys.stderr.write("datamonitor: interrupted\n")
        return EXIT_INTERRUPTED
    except (ConfigError, PayloadError, NotConfigured) as exc:
        sys.stderr.write(f"datamonitor: {exc}\n")
        return EXIT_USAGE
    except ClusterUnreachable as exc:
        sys.stderr.write(f"datamonitor: {exc}\n")
        return EXIT_UNREACHABLE
    except (ElasticsearchError, DataMonitorError) as exc:
        sys.stderr.write(f"datamonitor: {exc}\n")
        return EXIT_FAIL
    except BrokenPipeError:
        return EXIT_OK
    finally:
        if dm is not None:
            dm.close()
