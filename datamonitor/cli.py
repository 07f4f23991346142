"""The command line: parse, call the library, print. Nothing else lives here.

Exit codes (the table is in :mod:`datamonitor.errors` and docs/cli.rst): 0 success;
1 an operation failed; 2 bad usage, input or config; 3 documents were not
delivered and wait in the store (the same for every command that ships);
4 some documents were rejected for good (dead letters); 5 a runtime failure
of this machine (a port in use, a permission); 130 interrupted.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from . import __version__
from .cliutil import completion_script, duration, suggest_in_error, truncate
from .config import load_config, parse_duration
from .errors import (
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_UNDELIVERED,
    EXIT_USAGE,
    ClusterUnreachable,
    ConfigError,
    DataMonitorError,
    NotConfigured,
    PayloadError,
    ResourceUnavailable,
    exit_code,
)
from .monitor import DataMonitor
from .notify import LogNotifier
from .records import parse_timestamp

__all__ = ["main"]

EXIT_UNREACHABLE = EXIT_UNDELIVERED  # the name this module used before the table moved to errors.py


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line and exit 2, as argparse does, with our prefix and a hint
        self.exit(EXIT_USAGE, f"datamonitor: error: {suggest_in_error(self, message)}\n")


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _common() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("common options")
    sup = argparse.SUPPRESS
    g.add_argument("--es", metavar="URL", default=sup, help="Elasticsearch URL(s), comma-separated (env DATAMONITOR_ES_URL)")
    g.add_argument("--home", metavar="DIR", default=sup, help="where the store and run files live (env DATAMONITOR_HOME)")
    g.add_argument("--store", metavar="FILE", default=sup, help="the SQLite store file (default <home>/datamonitor.db)")
    g.add_argument("--config", metavar="FILE", default=sup,
                   help="config file: TOML, or YAML when named .yaml/.yml (env DATAMONITOR_CONFIG)")
    g.add_argument("--json", action="store_true", default=sup, help="machine-readable output: JSON, NDJSON for documents")
    g.add_argument("-v", "--verbose", action="count", default=sup, help="more logging on stderr (-vv for debug)")
    g.add_argument("-q", "--quiet", action="store_true", default=sup, help="errors only on stderr: no warnings, "
                                                                             "progress or per-step lines")
    g.add_argument("--log-level", type=str.upper, choices=_LEVELS, default=sup, metavar="LEVEL",
                   help="logging level on stderr: debug, info, warning (default), error")
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
    parser.add_argument("-V", "--version", action="version", version=f"datamonitor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=argparse.ArgumentParser)

    def add(name: str, help_: str, fn: Callable[[DataMonitor, argparse.Namespace, TextIO], int]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_.replace("%%", "%"), parents=[common])
        p.error = parser.error  # type: ignore[method-assign]  # one prefix and exit code for every usage error
        p.set_defaults(func=fn)
        return p

    add("info", "show the datamonitor version, the store, and the cluster's info", _cmd_info)
    p = add("setup", "install the index templates into Elasticsearch and the dashboard into Kibana (idempotent)",
            _cmd_setup)
    p.add_argument("--print", action="store_true", dest="print_only", help="print the objects instead of installing them")
    p.add_argument("--kibana", metavar="URL", help="also import the data view, Lens charts and dashboard into Kibana")
    p.add_argument("--space", metavar="ID", help="the Kibana space to import into, by its id (the ID in Kibana's "
                   "/s/ID/ URLs, not its display name; default: the default space)")
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
    p.add_argument("--name", help="only this KPI (kpi.name); wildcards: 'column.*' (see 'datamonitor kpis')")
    p.add_argument("--file", metavar="PATH", help="only this file: its path or name; wildcards: '*.csv'")
    p.add_argument("--dataset", help="only this source (event.dataset), e.g. datamonitor.disk; wildcards too")
    p.add_argument("--subject", help="only this subject (kpi.subject: a column, a mount); wildcards too")
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
    p.add_argument("--interval", type=duration, metavar="T",
                   help="measure every T (seconds, or 30s, 5m, 1h) until stopped (SIGINT/SIGTERM)")
    p.add_argument("--duration", type=duration, metavar="T", help="with --interval: stop after T")
    p = add("run", "run every monitor of the config file (disk, watch, udp, files) until SIGINT/SIGTERM", _cmd_run)
    p.add_argument("--duration", type=duration, metavar="T", help="stop after T (seconds, or 30s, 5m, 1h)")
    p = add("watch", "watch folders: each finished data file becomes KPIs, until SIGINT/SIGTERM "
                     "(or in the background: watch start|stop|status)", _cmd_watch)
    p.add_argument("dirs", nargs="+", metavar="DIR",
                   help="folders to watch; 'start DIR...', 'stop' and 'status' run it in the background")
    p.add_argument("--run-dir", metavar="DIR", help="pid and log files of 'watch start' (default <home>/run)")
    p.add_argument("-r", "--recursive", action="store_true", help="watch sub-folders too")
    p.add_argument("--settle", type=duration, default=0.5, metavar="T",
                   help="a file must keep its size and time this long before it is measured (default 0.5s)")
    p.add_argument("--ignore", action="append", metavar="PATTERN",
                   help="names to skip (repeatable; default *.tmp*, *.part, *.crdownload and dotfiles)")
    p.add_argument("--duration", type=duration, metavar="T", help="stop after T (seconds, or 30s, 5m, 1h)")
    p = add("udp", "listen for KPI datagrams (JSON or StatsD) and store them, until SIGINT/SIGTERM", _cmd_udp)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_port, default=8200, help="UDP port (default 8200)")
    p.add_argument("--flush", type=duration, default=10.0, metavar="T", help="aggregate and store every T (default 10s)")
    p.add_argument("--max-size", type=int, default=8192, metavar="BYTES", help="reject bigger datagrams (default 8192)")
    p.add_argument("--secret-env", default="DATAMONITOR_UDP_SECRET", metavar="VAR",
                   help="environment variable holding the HMAC secret; when set, unsigned datagrams are rejected")
    p.add_argument("--duration", type=duration, metavar="T", help="stop after T (seconds, or 30s, 5m, 1h)")
    p = add("show", "one file or dataset at a glance: its columns, bad rows, recent rows per file, open anomalies",
            _cmd_show)
    p.add_argument("target", metavar="FILE|DATASET",
                   help="a data file (measured now, not stored) or a dataset in the store, by name or key")
    p = add("status", "store size, pending and dead documents, last shipment, cluster reachability", _cmd_status)
    p.add_argument("--no-cluster", action="store_true", help="do not contact the cluster")
    p = add("test", "check without running: 'test config' (the config, every path, monitor and notifier) or "
                    "'test output' (reach the cluster and Kibana, say what setup would change)", _cmd_test)
    p.add_argument("what", choices=["config", "output"], help="what to check")
    p.add_argument("--kibana", metavar="URL", help="with 'output': check Kibana too (reachable, version)")
    p = add("kpis", "list every KPI datamonitor measures: name, unit, source and meaning", _cmd_kpis)
    p.add_argument("--rst", action="store_true", help="as a reStructuredText table (what docs/kpis.rst holds)")
    p = add("completion", "print the shell completion script: eval \"$(datamonitor completion bash)\"", _cmd_completion)
    p.add_argument("shell", choices=["bash", "zsh"], help="the shell")
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
    """One table row per document; long values (schemas, checksums) are cut, ``--json`` has them whole."""
    rows = []
    for h in hits:
        s = h["_source"]
        kpi = s.get("kpi", {})
        value = kpi.get("value", kpi.get("text"))
        labels = ",".join(f"{k}={v}" for k, v in sorted((s.get("labels") or {}).items()))
        rows.append([s.get("@timestamp"), kpi.get("name"), truncate(str(kpi.get("subject") or ""), 30),
                     truncate(f"{value:.6g}" if isinstance(value, float) else str(value if value is not None else "")),
                     kpi.get("unit"), truncate(str((s.get("file") or {}).get("name") or ""), 30),
                     s.get("event", {}).get("dataset"), truncate(labels, 30), h["_id"]])
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
    try:
        text = dm.report(since=_parse_since(args.since), thresholds=thresholds, local=True if args.local else None)
    except ClusterUnreachable as exc:
        reason = str(exc).split(": ", 1)[-1] if str(exc).startswith("search: ") else str(exc)
        raise ClusterUnreachable(f"report: {reason}; add --local to report from the local store") from None
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


def _check_keys(payloads: Sequence[Any]) -> None:
    """A payload key that is a near miss of a known one is a typo, not a label: say which key was meant."""
    from .records import _ALIASES  # the field table: the only place that spells the payload keys

    known = {k for k in _ALIASES if "." not in k} | {"labels"}
    for position, payload in enumerate(payloads):
        if not isinstance(payload, dict):
            continue
        for key in payload:
            if isinstance(key, str) and key not in _ALIASES and key != "labels" and "." not in key:
                close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
                if close:
                    raise PayloadError(f"document {position}: unknown key {key!r}: did you mean {close[0]!r}? "
                                       f"(a label goes under \"labels\")")


def _cmd_send(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    payloads = _read_payloads(args, sys.stdin)
    _check_keys(payloads)
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
    """ISO-8601, or an age with a unit (30m, 1.5h, 7d) counted back from now."""
    from datetime import datetime, timedelta, timezone

    text = raw.strip()
    if re.fullmatch(r"[0-9.]+\s*[a-zA-Z]+", text):
        try:
            age = parse_duration(text, "--since")
        except ConfigError as exc:
            raise PayloadError(str(exc)) from None
        return (datetime.now(timezone.utc) - timedelta(seconds=age)).isoformat()
    return parse_timestamp(text, "--since").isoformat()


def _cmd_search(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    if args.limit < 1:
        raise PayloadError("--limit must be at least 1")
    since = _parse_since(args.since) if args.since else None
    try:
        hits = dm.search(name=args.name, since=since, limit=args.limit, local=True if args.local else None,
                         file=args.file, dataset=args.dataset, subject=args.subject)
    except ClusterUnreachable as exc:
        raise ClusterUnreachable(f"{exc}; add --local to search the local store") from None
    if args.json:
        for h in hits:
            _print_json({"_index": h["_index"], "_id": h["_id"], **h["_source"]}, out)
    elif hits:
        _table(_doc_rows(hits), ["@timestamp", "kpi", "subject", "value", "unit", "file", "dataset", "labels", "id"],
               out)
    else:
        sys.stderr.write("datamonitor: no documents match\n")
    return EXIT_OK


def _ship(dm: DataMonitor, args: argparse.Namespace, retry_dead: bool = False) -> Any:
    bar = None
    if sys.stderr.isatty() and not args.json and not args.quiet:
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
    """One line and the exit code for a shipping run that did not deliver everything."""
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


def printable_text(text: str) -> str:
    """Text with undecodable bytes (surrogates from file names) shown as escapes, so printing never fails."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _cmd_file(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from .sources.files import printable

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
                _print_json({"path": printable(r.path), "error": printable_text(r.error)}, out)
            for rec in r.records:
                from .records import document_id, to_document

                _print_json({"_id": document_id(rec), **to_document(rec)}, out)
            continue
        if r.error:
            continue
        prof = r.profile
        assert prof is not None
        size = r.path.stat().st_size if r.path.exists() else 0
        rows.append([printable(r.path), prof.format + (f"+{prof.compression}" if prof.compression else ""), f"{prof.rows:,}",
                     len(prof.columns), prof.bad_rows, f"{prof.seconds:.2f}",
                     f"{size / prof.seconds / 1e6:.0f}" if prof.seconds > 0 else "-",
                     ("drift: " + ", ".join(f"{k} {', '.join(v)}" for k, v in r.drift.items() if v)) if r.drift else ""])
    if not args.json and rows:
        _table(rows, ["file", "format", "rows", "columns", "bad rows", "seconds", "MB/s", ""], out)
        for r in results:
            if r.profile is not None and r.profile.bad_rows:
                from .sources.files import bad_rows_text

                more = r.profile.bad_rows - len(r.profile.bad_row_examples)
                out.write(f"{printable(r.path)}: bad rows: {bad_rows_text(r.profile)}"
                          + (f" (and {more:,} more)" if more > 0 else "") + "\n")
    failed = [r for r in results if r.error]
    for r in failed:
        sys.stderr.write(f"datamonitor: {printable_text(r.error or '')}\n")
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
    source = DiskSource(args.paths or None)
    monitor = dm.monitor(source, interval=args.interval or 60.0, thresholds=thresholds, notifiers=[LogNotifier()])
    if args.interval is None:
        shown = monitor.step()
    else:
        captured: list[Any] = []
        store = monitor.sink
        live = sys.stdout.isatty() and not args.json and not args.quiet

        def keep(records: list[Any]) -> None:
            captured.extend(records)
            if live:
                _disk_line(records, out)
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
    if rows:
        _table(rows, ["mount", "size GiB", "used GiB", "free GiB", "used %", "inodes used %"], out)
    return EXIT_FAIL if source.errors else EXIT_OK


def _disk_line(records: Sequence[Any], out: TextIO) -> None:
    """One line per measured mount, as a loop on a terminal prints it after each measurement."""
    from .notify import human

    latest: dict[str, dict[str, Any]] = {}
    when = None
    for rec in records:
        if rec.subject is not None and rec.name.startswith("disk."):
            latest.setdefault(rec.subject, {})[rec.name] = rec.value
            when = rec.timestamp
    for mount, v in latest.items():
        out.write(f"{when:%Y-%m-%d %H:%M:%S}  {mount}  {v.get('disk.used_pct', 0):.1f}% used, "
                  f"{human(v.get('disk.free_bytes', 0), 'bytes')} free\n")
    out.flush()


def _cmd_run(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from .service import load_service, run_service, service_problems

    if dm.config.source is None:
        raise ConfigError("run needs a config file with [[monitors]]: --config FILE (examples/ has some)")
    from .checks import check_config

    problems = service_problems(dm.config.source)  # every problem at once, before anything starts
    problems += [c.detail for c in check_config(dm.config, monitors=False) if c.status == "error"]
    if problems:
        raise ConfigError("\n".join(problems))
    spec = load_service(dm.config.source)
    if any(m.type == "watch" for m in spec.monitors):
        _log_each_file(args)
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
    _log_each_file(args)
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
        _print_json({"processed": watcher.processed, "failed": watcher.failed}, out)
    else:
        out.write(f"measured {watcher.processed} file(s)" + (f", {watcher.failed} failed" if watcher.failed else "")
                  + "\n")
    return EXIT_OK


def _log_each_file(args: argparse.Namespace) -> None:
    """The watcher's line per measured file is INFO; show it at the default level too (not with -q)."""
    if not args.quiet and args.log_level is None and args.verbose == 0:
        logging.getLogger("datamonitor.sources.watch").setLevel(logging.INFO)


def _cmd_udp(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    import asyncio
    import os
    import signal

    from .sources.udp import UdpListener

    secret = os.environ.get(args.secret_env)
    listener = UdpListener(args.host, args.port, flush_interval=args.flush, max_size=args.max_size,
                           secret=secret.encode() if secret else None, sink=lambda records: dm.record(records))

    def ready(lst: UdpListener) -> None:
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
        _print_json({"received": t.received, "accepted": t.accepted, "rejected": t.rejected,
                     "unsupported": t.unsupported, "kernel_drops": listener.kernel_drops}, out)
    else:
        _kv([("received", t.received), ("accepted", t.accepted), ("rejected", t.rejected),
             ("unsupported lines", t.unsupported), ("dropped by the kernel", listener.kernel_drops)], out)
    return EXIT_OK


def _cmd_show(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from . import show

    summary = show.summarize(dm, args.target)
    if args.json:
        _print_json(summary, out)
    else:
        out.write(show.render(summary))
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


def _cmd_test(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from . import checks

    if args.what == "config":
        if args.kibana:
            raise PayloadError("--kibana goes with 'test output'")
        results = checks.check_config(dm.config)
    else:
        results = checks.check_output(dm, kibana=args.kibana)
    failed = any(c.status == "error" for c in results)
    if args.json:
        _print_json({"ok": not failed, "checks": [c.__dict__ for c in results]}, out)
    else:
        width = max(len(c.what) for c in results)
        for c in results:
            out.write(f"{c.what.ljust(width)}  {c.status.upper():5}  {c.detail}".rstrip() + "\n")
        out.write(f"{args.what.capitalize()} {'FAILED' if failed else 'OK'}\n")
    if not failed:
        return EXIT_OK
    return EXIT_USAGE if args.what == "config" or not dm.config.es.configured else EXIT_UNREACHABLE


def _cmd_kpis(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from .kpis import KPIS, to_rst

    if args.rst:
        out.write(to_rst())
    elif args.json:
        for k in KPIS:
            _print_json(k.__dict__, out)
    else:
        _table([[k.name, k.unit or "-", k.source, k.meaning] for k in KPIS], ["kpi", "unit", "source", "meaning"], out)
    return EXIT_OK


def _cmd_completion(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    out.write(completion_script(build_parser(), args.shell))
    return EXIT_OK


# -------------------------------------------------------------------- main

def _setup_logging(args: argparse.Namespace) -> None:
    if args.log_level is not None:
        level = getattr(logging, args.log_level)
    elif args.quiet:
        level = logging.ERROR
    else:
        level = logging.WARNING if args.verbose <= 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("datamonitor: %(levelname)s: %(message)s"))
    root = logging.getLogger("datamonitor")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # the client's own warnings ("node failed, putting on timeout") repeat what our one line says: only with -v
    transport = logging.getLogger("elastic_transport")
    transport.handlers[:] = [handler] if level <= logging.INFO else [logging.NullHandler()]
    transport.setLevel(level)
    transport.propagate = False


def _saved_logging() -> Callable[[], None]:
    """Undo what _setup_logging does, for main(argv) called in a process that goes on (tests, scripts)."""
    names = ("datamonitor", "datamonitor.sources.watch")
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in map(logging.getLogger, names)]

    def restore() -> None:
        for lg, handlers, level, propagate in saved:
            lg.handlers[:], lg.propagate = handlers, propagate
            lg.setLevel(level)

    return restore


def _interrupted(exc: BaseException) -> bool:
    """Ctrl-C as a library re-raises it: an error caused by a KeyboardInterrupt."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name, default in (("json", False), ("verbose", 0), ("es", None), ("home", None), ("store", None), ("config", None),
                          ("quiet", False), ("log_level", None)):
        if not hasattr(args, name):
            setattr(args, name, default)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_USAGE
    if args.quiet and (args.verbose or args.log_level):
        parser.error("-q goes with neither -v nor --log-level")
    restore_logging = _saved_logging()
    _setup_logging(args)
    dm = None
    try:
        config = load_config(args.config, home=args.home, es_url=args.es, store_path=args.store)
        dm = DataMonitor(config)
        dm.notifiers = [LogNotifier()]  # anomalies found as records are stored: one WARNING line each
        code = int(args.func(dm, args, sys.stdout))
        if args.func not in (_cmd_send, _cmd_ship) and dm.last_ship is not None:
            # every command that ships says so the same way: one line, and 3 while documents wait
            shipped = _ship_exit(dm.last_ship)
            code = shipped if shipped != EXIT_OK else code
        return code
    except KeyboardInterrupt:
        sys.stderr.write("datamonitor: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except DataMonitorError as exc:  # a config error may name several problems, one a line
        sys.stderr.write("".join(f"datamonitor: {line}\n" for line in str(exc).splitlines()))
        return exit_code(exc)
    except OSError as exc:  # a file to write, a directory to create: the system said no
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"datamonitor: {where}{exc.strerror or exc}\n")
        return exit_code(exc)
    except Exception as exc:
        if not _interrupted(exc):
            raise
        sys.stderr.write("datamonitor: interrupted\n")
        return EXIT_INTERRUPTED
    finally:
        if dm is not None:
            dm.close()
        restore_logging()
