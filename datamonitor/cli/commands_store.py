"""The commands that read, write and ship the store and the cluster: info, setup, export, report, send, get,
search, ship, status, kpis, completion."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, TextIO

from .. import __version__
from ..errors import EXIT_FAIL, EXIT_OK, EXIT_UNDELIVERED, ClusterUnreachable, ConfigError, NotConfigured, PayloadError
from ..monitor import DataMonitor
from ..payloads import near_miss
from ..records import parse_timestamp
from ..store import DEAD, PENDING
from ..validation import parse_duration
from .output import DOC_HEADER, doc_rows, kv, print_json, ship_exit, table

__all__ = ["register"]


def register(add: Any) -> None:
    """Declare these commands and their options; ``add(name, help, function)`` makes a command's parser."""
    add("info", "show the datamonitor version, the store, and the cluster's info", cmd_info)
    p = add("setup", "install the index templates into Elasticsearch and the dashboard into Kibana (idempotent)",
            cmd_setup)
    p.add_argument("--print", action="store_true", dest="print_only", help="print the objects instead of installing them")
    p.add_argument("--kibana", metavar="URL", help="also import the data view, Lens charts and dashboard into Kibana")
    p.add_argument("--space", metavar="ID", help="the Kibana space to import into, by its id (the ID in Kibana's "
                   "/s/ID/ URLs, not its display name; default: the default space)")
    p = add("export", "write the Kibana saved objects as NDJSON, for importing by hand", cmd_export)
    p.add_argument("what", choices=["kibana"], help="what to export")
    p = add("report", "write one self-contained HTML report of the KPIs (overview, datasets with their bands, disks, UDP)", cmd_report)
    p.add_argument("--since", default="7d", help="only after this time: ISO-8601, or an age such as 6h, 7d (default 7d)")
    p.add_argument("--out", default="report.html", help="the HTML file to write (default report.html; - for stdout)")
    p.add_argument("--threshold", action="append", default=[], metavar="KPI=VALUE",
                   help="draw a threshold on a KPI's plot, e.g. disk.used_pct=90 (repeatable)")
    p.add_argument("--local", action="store_true", help="read the local store even when a cluster is configured")
    p = add("send", "store (and ship) KPI documents from a JSON argument or NDJSON on stdin", cmd_send, ships=True)
    p.add_argument("payload", nargs="?", help='a JSON object, e.g. \'{"name": "rows", "value": 6543}\'; "-" or none reads stdin')
    p.add_argument("--index", help="send to this index instead of <prefix>-<yyyy.mm>")
    p = add("get", "show one document by id", cmd_get)
    p.add_argument("docid")
    p.add_argument("--index", help="the index to read (default: the configured prefix)")
    p = add("search", "list recent documents, newest first", cmd_search)
    p.add_argument("--name", help="only this KPI (kpi.name); wildcards: 'column.*' (see 'datamonitor kpis')")
    p.add_argument("--file", metavar="PATH", help="only this file: its path or name; wildcards: '*.csv'")
    p.add_argument("--dataset", help="only this source (event.dataset), e.g. datamonitor.disk; wildcards too")
    p.add_argument("--subject", help="only this subject (kpi.subject: a column, a mount); wildcards too")
    p.add_argument("--since", help="only after this time: ISO-8601, or an age such as 30m, 6h, 7d")
    p.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    p.add_argument("--local", action="store_true", help="search the local store even when a cluster is configured")
    p = add("ship", "deliver pending documents from the store to Elasticsearch", cmd_ship, ships=True)
    p.add_argument("--retry-dead", action="store_true", help="also re-send documents that were rejected before")


def register_last(add: Any) -> None:
    """The commands listed after the ones that measure, in --help's order."""
    p = add("status", "store size, pending and dead documents, last shipment, cluster reachability", cmd_status)
    p.add_argument("--no-cluster", action="store_true", help="do not contact the cluster")


def register_help(add: Any) -> None:
    """The commands that describe datamonitor itself."""
    p = add("kpis", "list every KPI datamonitor measures: name, unit, source and meaning", cmd_kpis)
    p.add_argument("--rst", action="store_true", help="as a reStructuredText table (what docs/kpis.rst holds)")
    p = add("completion", "print the shell completion script: eval \"$(datamonitor completion bash)\"", cmd_completion)
    p.add_argument("shell", choices=["bash", "zsh"], help="the shell")


def cmd_info(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    import elasticsearch

    info: dict[str, Any] = {
        "datamonitor": __version__,
        "elasticsearch_client": ".".join(map(str, elasticsearch.__version__)),
        "store": str(dm.config.store_file),
        "config": str(dm.config.source) if dm.config.source else None,
        "cluster": dm.es_info() if dm.configured else None,
    }
    if args.json:
        print_json(info, out)
        return EXIT_OK
    cluster = info["cluster"]
    pairs: list[tuple[str, Any]] = [(k, info[k]) for k in ("datamonitor", "elasticsearch_client", "store", "config")]
    if cluster is None:
        pairs.append(("cluster", "none configured (embedded store only)"))
    else:
        pairs += [("cluster", cluster.get("cluster_name")), ("version", cluster.get("version", {}).get("number"))]
    kv(pairs, out)
    return EXIT_OK


def cmd_setup(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from .. import templates

    if args.print_only:
        print_json({kind: {"name": name, "body": body} for kind, (name, body) in templates.rendered(dm.config.es).items()},
                   out)
        return EXIT_OK
    if not dm.configured and not args.kibana:
        raise NotConfigured("setup needs a cluster (--es URL) or --kibana URL")
    result: dict[str, Any] = {}
    if dm.configured:
        result.update(dm.es_setup())
    if args.kibana:
        answer = dm.kibana_setup(args.kibana, space=args.space)
        result["kibana objects"] = f"imported {answer.get('successCount', 0)}"
    if args.json:
        print_json(result, out)
    else:
        table(sorted(result.items()), ["object", "outcome"], out)
    return EXIT_OK


def cmd_export(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from .. import kibana

    out.write(kibana.to_ndjson(kibana.objects(dm.config.es)))
    return EXIT_OK


def _report_thresholds(items: list[str]) -> dict[str, float]:
    thresholds: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            thresholds[name.strip()] = float(value)
        except ValueError:
            raise PayloadError(f"--threshold {item!r}: expected KPI=NUMBER, e.g. disk.used_pct=90") from None
        if not sep or not name.strip():
            raise PayloadError(f"--threshold {item!r}: expected KPI=NUMBER, e.g. disk.used_pct=90")
    return thresholds


def cmd_report(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    thresholds = _report_thresholds(args.threshold)
    try:
        text = dm.report(since=parse_since(args.since), thresholds=thresholds, local=True if args.local else None)
    except ClusterUnreachable as exc:
        raise ClusterUnreachable(f"{exc.reason}; add --local to report from the local store", action="report") from None
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


def _check_keys(payloads: list[Any]) -> None:
    """A payload key that is a near miss of a known one is a typo, not a label: say which key was meant."""
    for position, payload in enumerate(payloads):
        for key in payload if isinstance(payload, dict) else ():
            close = near_miss(key) if isinstance(key, str) else None
            if close:
                raise PayloadError(f"document {position}: unknown key {key!r}: did you mean {close!r}? "
                                   f"(a label goes under \"labels\")")


def cmd_send(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    payloads = _read_payloads(args, sys.stdin)
    _check_keys(payloads)
    ids = dm.record(payloads, index=args.index, ship=False)
    result = ship(dm, args) if dm.configured else None
    for doc_id in ids:
        if args.json:
            print_json({"_id": doc_id}, out)
        else:
            out.write(doc_id + "\n")
    if result is None:
        if not args.json:
            sys.stderr.write(f"stored {len(ids)} document(s) in {dm.config.store_file} (no cluster configured)\n")
        return EXIT_OK
    return ship_exit(result)


def cmd_get(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    resp = dm.es_get(index=args.index or dm.config.es.index_prefix, docid=args.docid)
    if not resp.get("found"):
        sys.stderr.write(f"datamonitor: document {args.docid} not found\n")
        return EXIT_FAIL
    if args.json:
        print_json(resp, out)
    else:
        out.write(json.dumps(resp, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return EXIT_OK


def parse_since(raw: str) -> str:
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


def cmd_search(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    if not 1 <= args.limit <= 1_000_000_000:
        raise PayloadError(f"--limit must be from 1 to 1,000,000,000, not {args.limit}")
    since = parse_since(args.since) if args.since else None
    try:
        hits = dm.search(name=args.name, since=since, limit=args.limit, local=True if args.local else None,
                         file=args.file, dataset=args.dataset, subject=args.subject)
    except ClusterUnreachable as exc:
        raise ClusterUnreachable(f"{exc.reason}; add --local to search the local store", action=exc.action) from None
    if args.json:
        for h in hits:
            print_json({"_index": h["_index"], "_id": h["_id"], **h["_source"]}, out)
    elif hits:
        table(doc_rows(hits), DOC_HEADER, out)
    else:
        sys.stderr.write("datamonitor: no documents match\n")
    return EXIT_OK


def ship(dm: DataMonitor, args: argparse.Namespace, retry_dead: bool = False) -> Any:
    """Ship the store, with a progress bar on a terminal when more than a thousand documents wait."""
    bar = None
    if sys.stderr.isatty() and not args.json and not args.quiet:
        from tqdm import tqdm  # type: ignore[import-untyped]

        pending = dm.store.count(PENDING) + (dm.store.count(DEAD) if retry_dead else 0)
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


def cmd_ship(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    if not dm.configured:
        raise NotConfigured("ship needs a cluster: give --es URL or set DATAMONITOR_ES_URL")
    result = ship(dm, args, retry_dead=args.retry_dead)
    if args.json:
        print_json(result.as_dict(), out)
    else:
        kv([("shipped", result.created), ("already there", result.duplicates), ("retry later", result.retry),
            ("dead", result.dead), ("pending", result.pending)], out)
        for f in result.failures[:20]:
            out.write(f"  {f.status}: {f.index}/{f.doc_id}: {f.reason}\n")
    return ship_exit(result)


def cmd_status(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    st = dm.status(check_cluster=not args.no_cluster)
    dead = dm.dead_letters(20) if st["dead"] else []
    if args.json:
        print_json({**st, "dead_letters": dead}, out)
    else:
        reach = {True: "yes", False: f"NO ({st['cluster_error']})", None: "-"}[st["reachable"]]
        kv([("store", st["store"]), ("store size", f"{st['store_bytes']:,} bytes"), ("documents", st["documents"]),
            ("pending", st["pending"]), ("shipped", st["shipped"]), ("dead", st["dead"]),
            ("backlog", f"{st['backlog_bytes']:,} bytes" + (f" of max {st['max_size']:,} ({st['when_full']})"
                                                             if st["max_size"] else " (no bound)")),
            ("dropped when full", st["dropped"]), ("refused when full", st["refused"]),
            ("oldest pending", st["oldest_pending"]), ("last shipment", st["last_shipment"]),
            ("cluster", st["cluster"] or "none configured"), ("reachable", reach),
            ("cluster version", st["cluster_version"])], out)
        for d in dead:
            out.write(f"  dead: {d['_index']}/{d['_id']}: {d['reason']}\n")
    return EXIT_UNDELIVERED if st["reachable"] is False else EXIT_OK


def cmd_kpis(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from ..kpis import KPIS, to_rst

    if args.rst:
        out.write(to_rst())
    elif args.json:
        for k in KPIS:
            print_json(k.__dict__, out)
    else:
        table([[k.name, k.unit or "-", k.source, k.meaning] for k in KPIS], ["kpi", "unit", "source", "meaning"], out)
    return EXIT_OK


def cmd_completion(dm: DataMonitor, args: argparse.Namespace, out: TextIO) -> int:
    from ..cliutil import completion_script
    from .parser import build_parser

    out.write(completion_script(build_parser(), args.shell))
    return EXIT_OK
