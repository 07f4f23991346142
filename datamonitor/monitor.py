"""The :class:`DataMonitor` facade: a thin layer over config, store, templates and shipping.

Every document goes to the local store first. With a cluster configured it is
then shipped in bulk; without one, the store is the database, and ``get`` and
``search`` answer from it in the same shape Elasticsearch would.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from . import records, shipping, templates
from .baseline import Baselines, SchemaHistory, grouped
from .config import Config, EsSettings, hosts_fields, load_config
from .connection import CLIENT_ERRORS, build_client, describe_hosts, response_body, translate_error
from .errors import BacklogFull, ConfigError, DataMonitorError, NotConfigured, PayloadError, SourceError
from .notify import Notifier, send_all
from .profiling import ProfileOptions
from .records import KpiRecord
from .sources import files
from .store import PutResult, Store, StoreStats

__all__ = ["DataMonitor"]

log = logging.getLogger(__name__)
_watch_log = logging.getLogger("datamonitor.sources.watch")  # one line per file the watcher measured

KpiLike = KpiRecord | Mapping[str, Any]
# A file run commits its files' records together, up to this many or this long after the last commit.
_BATCH_RECORDS = 20_000
_BATCH_SECONDS = 1.0
_baselines_lock = threading.Lock()


class DataMonitor:
    """Collect KPI documents, keep them in the local store and ship them to Elasticsearch.

    :param config: a :class:`~datamonitor.config.Config`, a path to a TOML file,
        or None to read ``$DATAMONITOR_CONFIG`` / ``<home>/datamonitor.toml`` and the environment.
    :param store: an open :class:`~datamonitor.store.Store` to use instead of the configured one.
    """

    def __init__(self, config: Config | str | Path | None = None, *, store: Store | None = None) -> None:
        if isinstance(config, Config):
            self._config = config
        else:
            self._config = load_config(config)
        self._store = store
        self._client: Any = None
        self._last_ship: shipping.ShipResult | None = None
        self._encoder: records.Encoder | None = None
        self._baselines: Baselines | None = None
        #: who hears of anomalies (alert when one opens, ok when it closes); they are stored either way
        self.notifiers: list[Notifier] = []

    # ------------------------------------------------------------ properties
    @property
    def config(self) -> Config:
        """The configuration in force (secrets redacted in its ``repr``)."""
        return self._config

    @property
    def store(self) -> Store:
        """The local store, opened on first use."""
        if self._store is None:
            self._store = Store(self._config.store_file, max_size=self._config.store_max_size,
                                when_full=self._config.store_when_full)
        return self._store

    @property
    def baselines(self) -> Baselines:
        """Each series' learned baseline, kept in the store; see :mod:`datamonitor.baseline`."""
        if self._baselines is None:
            with _baselines_lock:  # the watcher's workers store files from two threads
                if self._baselines is None:
                    self._baselines = Baselines(self.store)
        return self._baselines

    @property
    def client(self) -> Any:
        """The Elasticsearch client, or None when no cluster is connected."""
        return self._client

    @property
    def last_ship(self) -> shipping.ShipResult | None:
        """The result of the last shipping run (by any method that ships), or None before the first."""
        return self._last_ship

    @property
    def connected(self) -> bool:
        """True when documents will be shipped to a cluster."""
        return self._client is not None or self._config.es.configured

    def _es(self) -> Any:
        if self._client is None:
            self._client = build_client(self._config.es)
        return self._client

    # ------------------------------------------------------------ connection
    def es_connect(self, hosts: object = None, **options: Any) -> Any:
        """Connect to a cluster and return the ``Elasticsearch`` client.

        ``hosts`` is a dict (``{'host': 'localhost', 'port': 9200, 'scheme': 'http'}``),
        a URL, or a list of either; None uses the configured hosts. Options:
        ``basic_auth=(user, password)`` or ``username``/``password``, ``api_key``,
        ``ca_certs``, ``client_cert``, ``client_key``, ``verify_certs``,
        ``request_timeout``, and any other :class:`~datamonitor.config.EsSettings` field.
        Missing secrets are read from ``DATAMONITOR_ES_PASSWORD`` and ``DATAMONITOR_ES_API_KEY``.
        """
        changes: dict[str, Any] = {}
        if hosts is not None:
            changes.update(hosts_fields(hosts))
        if "basic_auth" in options:
            auth = options.pop("basic_auth")
            if not (isinstance(auth, (tuple, list)) and len(auth) == 2):
                raise ConfigError("basic_auth must be a (username, password) pair")
            changes["username"], changes["password"] = auth
        valid = {f.name for f in dataclasses.fields(EsSettings)}
        unknown = set(options) - valid
        if unknown:
            raise ConfigError(f"es_connect: unknown option(s) {', '.join(sorted(unknown))}")
        changes.update(options)
        # credentials given here replace the other kind configured elsewhere
        if "api_key" in changes and "username" not in changes:
            changes.update(username=None, password=None)
        elif "username" in changes and "api_key" not in changes:
            changes["api_key"] = None
        es = dataclasses.replace(self._config.es, **changes)
        if es.username and not es.password and os.environ.get("DATAMONITOR_ES_PASSWORD"):
            es = dataclasses.replace(es, password=os.environ["DATAMONITOR_ES_PASSWORD"])
        if not es.api_key and not es.username and os.environ.get("DATAMONITOR_ES_API_KEY"):
            es = dataclasses.replace(es, api_key=os.environ["DATAMONITOR_ES_API_KEY"])
        if not es.configured:
            es = dataclasses.replace(es, hosts=("http://localhost:9200",))
        self._config = dataclasses.replace(self._config, es=es)
        self._client = build_client(es)
        log.info("connected to Elasticsearch at %s", describe_hosts(es))
        return self._client

    def _call(self, action: str, fn: Callable[[Any], Any]) -> Any:
        try:
            return response_body(fn(self._es()))
        except CLIENT_ERRORS as exc:
            raise translate_error(exc, self._config.es, action) from None

    def es_info(self) -> dict[str, Any]:
        """The cluster's info: name, version, tagline, as Elasticsearch answers ``GET /``."""
        result: dict[str, Any] = dict(self._call("info", lambda es: es.info()))
        return result

    def es_setup(self) -> dict[str, str]:
        """Install the ILM policy and index templates, idempotently; returns ``name -> outcome``."""
        return dict(self._call("setup", lambda es: templates.install(es, self._config.es)))

    # --------------------------------------------------------------- writing
    def _rows(self) -> records.Encoder:
        """The encoder of the store's rows, for the configured index and this store's id history."""
        es, enc, store = self._config.es, self._encoder, self.store
        if (enc is None or enc.index_prefix != es.index_prefix or enc.index_period != es.index_period
                or enc.legacy_ids_until != store.legacy_ids_until):
            enc = self._encoder = records.Encoder(es.index_prefix, es.index_period,
                                                  legacy_ids_until=store.legacy_ids_until)
        return enc

    def _put(self, items: Iterable[KpiLike], index: str | None, *,
             meta: Mapping[str, Any] | None = None) -> tuple[list[str], PutResult]:
        """Store records (or payloads) and ``meta`` state in one transaction; returns the ids."""
        row = self._rows().row
        batch: list[KpiRecord] = []
        for position, item in enumerate(items):
            if isinstance(item, KpiRecord):
                batch.append(item)
                continue
            try:
                record = KpiRecord.from_payload(item)
            except PayloadError as exc:
                raise PayloadError(f"document {position}: {exc}") from None
            batch.append(record)
        scored = self.baselines.observe(batch)  # learned baselines, scored in flow: see datamonitor.baseline
        rows = [row(record, index) for record in [*scored.records, *scored.anomalies, *scored.notifications]]
        try:
            try:
                result = self.store.put(rows, count_refused=not self.connected, meta=meta)
            except BacklogFull:
                if not self.connected:
                    raise
                self.ship()  # pause means: make room by delivering, then try once more
                result = self.store.put(rows, meta=meta)
        except BaseException:
            self.baselines.forget()
            raise
        self.baselines.commit(force=False)
        for title, message in grouped(scored.notifications):
            send_all(self.notifiers, title, message)
        if result.dropped:
            self._report_dropped(result.dropped)
        return [r[0] for r in rows[:len(batch)]], result

    def check_overdue(self, now: datetime | None = None) -> list[KpiRecord]:
        """Store and announce the datasets whose next file is late now; returns their anomalies.

        The watcher calls it on a timer; see :meth:`~datamonitor.baseline.Baselines.overdue`.
        """
        scored = self.baselines.overdue(now)
        if scored.anomalies:
            self._put([*scored.anomalies, *scored.notifications], None)
            for title, message in grouped(scored.notifications):
                send_all(self.notifiers, title, message)
        return scored.anomalies

    def _report_dropped(self, dropped: int) -> None:
        """A full store dropped undelivered documents: say so, and record the running total as a KPI."""
        total = self.store.stats().dropped
        log.warning("the store is full (max_size %s bytes): dropped the %d oldest undelivered document(s), "
                    "%d in all", f"{self.store.max_size:,}", dropped, total)
        # storing this KPI may itself drop a document or two: the next report counts those
        record = KpiRecord(name="datamonitor.store.dropped", value=total, unit="documents",
                           subject=str(self.store.path), dataset="datamonitor.internal")
        self.store.put([self._rows().row(record)])

    def record(self, kpis: Iterable[KpiLike], *, index: str | None = None, ship: bool = True) -> list[str]:
        """Store KPI records (or payloads) and, with a cluster, ship them; returns their ids.

        All of them are validated before any is stored: one bad payload stores
        nothing and raises :class:`~datamonitor.errors.PayloadError` naming it.
        """
        ids, _put = self._put(kpis, index)
        if ship and self.connected:
            self.ship()
        return ids

    def es_send(self, index: str | None = None, payload: KpiLike | None = None) -> str:
        """Store one KPI, ship it when a cluster is connected, and return its document id.

        ``payload`` is a :class:`~datamonitor.records.KpiRecord` or a JSON-like
        dict such as ``{'unit': 'nb_of_rows', 'value': '6543'}``. ``index``
        None means the configured index (``<prefix>-<yyyy.mm>``). While the
        cluster is unreachable the document waits in the store; it is never lost.
        """
        if payload is None:
            raise PayloadError("es_send needs a payload")
        return self.record([payload], index=index)[0]

    def es_send_bulk(self, documents: Iterable[KpiLike], *, index: str | None = None) -> shipping.ShipResult:
        """Store many KPIs in one transaction and ship them in bulk; returns the counts.

        Per-document failures are in ``result.failures``; the rest still arrive.
        Without a cluster, everything is stored and ``result.pending`` counts it.
        """
        self._put(documents, index)
        if not self.connected:
            return shipping.ShipResult(pending=self.store.count(0))
        return self.ship()

    def ship(
        self, *, retry_dead: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> shipping.ShipResult:
        """Deliver everything pending in the store; never raises for an unreachable cluster.

        When the cluster cannot be reached, ``result.error`` says so and the
        documents stay pending for the next run.
        """
        if not self.connected:
            raise NotConfigured("no Elasticsearch configured: give --es URL, DATAMONITOR_ES_URL or [elasticsearch] url")
        self._last_ship = shipping.ship(self.store, self._es(), self._config.es, retry_dead=retry_dead,
                                        progress=progress)
        return self._last_ship

    # ----------------------------------------------------------------- files
    def file_kpis(self, path: str | Path, **options: Any) -> list[KpiRecord]:
        """The KPI records for one data file, without storing them; see :doc:`/files`.

        ``options`` are :class:`~datamonitor.profiling.ProfileOptions` fields
        (``format``, ``delimiter``, ``encoding``, ``header``...). Schema drift is
        measured against the dataset's baseline schema in the store (the most common of its recent files').
        """
        previous = SchemaHistory(self.store).get(files.dataset_key(Path(path).resolve()))
        result = files.file_kpis(path, ProfileOptions(**options), previous_schema=previous)
        return list(result.records)

    def collect_file(self, *paths: str | Path, recursive: bool = False,
                     progress: Callable[[Path, float], None] | None = None,
                     **options: Any) -> list[files.FileResult]:
        """Measure files, folders and globs; store (and ship) their KPIs as they are done.

        A file that cannot be read gives a result with ``error`` set, naming it;
        the other files go on. Several files' KPIs are committed together (at
        most a second apart), each with its dataset's new schema in the same
        transaction: a batch the store refuses keeps neither, so the drift is
        measured again next time.
        """
        pending = _PendingState(self.store, "")
        source = files.FileSource(paths, ProfileOptions(**options), recursive=recursive,
                                  schemas=SchemaHistory(pending), progress=progress)
        results: list[files.FileResult] = []
        batch: list[KpiRecord] = []
        meta: dict[str, Any] = {}
        flushed = time.monotonic()
        for result in source.results_iter():
            results.append(result)
            batch.extend(result.records)
            meta.update(pending.take())  # FileSource saved this file's schema: it goes with its records
            if len(batch) >= _BATCH_RECORDS or time.monotonic() - flushed >= _BATCH_SECONDS:
                self._put(batch, None, meta=meta)
                pending.forget(meta)
                batch, meta, flushed = [], {}, time.monotonic()
        if batch or meta:
            self._put(batch, None, meta=meta)
        if self.connected and any(r.records for r in results):
            self.ship()
        return results

    def dataframe_kpis(self, df: Any, *, name: str, store: bool = False, **options: Any) -> list[KpiRecord]:
        """The KPI records for a pandas DataFrame in memory; ``store=True`` also records them."""
        records = files.dataframe_kpis(df, name, ProfileOptions(**options))
        if store:
            self.record(records)
        return records

    # --------------------------------------------------------------- reading
    def es_get(self, index: str, docid: str) -> dict[str, Any]:
        """One document as Elasticsearch's get API gives it (``_index``, ``_id``, ``found``, ``_source``).

        Without a cluster, the local store answers in the same shape. With the
        configured prefix as ``index``, the dated index is found from the store.
        """
        if not self.connected:
            stored = self.store.get(docid, None if index == self._config.es.index_prefix else index)
            if stored is None:
                return {"_index": index, "_id": docid, "found": False}
            return stored.as_get_response()
        if index == self._config.es.index_prefix and self._config.es.index_period != "none":
            stored = self.store.get(docid)
            if stored is not None:
                index = stored.index
        import elasticsearch

        try:
            resp = self._es().get(index=index, id=docid)
        except elasticsearch.NotFoundError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            if "found" in body:
                return dict(body)
            return {"_index": index, "_id": docid, "found": False}
        except CLIENT_ERRORS as exc:
            raise translate_error(exc, self._config.es, "get") from None
        return dict(response_body(resp))

    def get(self, docid: str) -> dict[str, Any] | None:
        """The document with this id from the local store, or None."""
        stored = self.store.get(docid)
        return stored.source if stored is not None else None

    def search(
        self,
        *,
        name: str | None = None,
        since: datetime | str | None = None,
        limit: int = 20,
        local: bool | None = None,
        file: str | None = None,
        dataset: str | None = None,
        subject: str | None = None,
    ) -> list[dict[str, Any]]:
        """The newest documents, optionally of one KPI, file, dataset or subject and after a time.

        ``name``, ``file`` (its path or name), ``dataset`` and ``subject`` take shell
        wildcards (``column.*``). Each hit has ``_id``, ``_index`` and ``_source``.
        Asks the cluster when one is configured (``local=False``), else the store.
        """
        since_text = records.format_timestamp(records.parse_timestamp(since)) if since is not None else None
        use_local = (not self.connected) if local is None else local
        if use_local:
            docs = self.store.search(name=name, since=since_text, limit=limit,
                                     fields={"file": file, "dataset": dataset, "subject": subject})
            return [{"_index": d.index, "_id": d.doc_id, "_source": d.source} for d in docs]
        return self._search_cluster(name=name, since=since_text, limit=limit, file=file, dataset=dataset,
                                    subject=subject)

    def _search_cluster(self, *, name: str | None, since: str | None, limit: int, file: str | None = None,
                        dataset: str | None = None, subject: str | None = None) -> list[dict[str, Any]]:
        from elasticsearch.dsl import Q, Search

        def match(field: str, pattern: str) -> Any:
            return Q("wildcard", **{field: {"value": pattern}}) if any(c in pattern for c in "*?") \
                else Q("term", **{field: pattern})

        # this prefix's indices only: "dm-kpi*" would read dm-kpi-staging-* as well
        search = Search(index=templates.search_pattern(self._config.es)).sort("-@timestamp")[:limit]
        for field, pattern in (("kpi.name", name), ("event.dataset", dataset), ("kpi.subject", subject)):
            if pattern is not None:
                search = search.filter(match(field, pattern))
        if file is not None:
            # a bool of should clauses alone needs one of them to match (minimum_should_match defaults to 1)
            search = search.filter(Q("bool", should=[match("file.path", file), match("file.name", file)]))
        if since is not None:
            search = search.filter("range", **{"@timestamp": {"gte": since}})
        body = search.to_dict()
        resp = self._call(
            "search", lambda es: es.search(index=search._index, body=body, ignore_unavailable=True)
        )
        return [{"_index": h["_index"], "_id": h["_id"], "_source": h["_source"]} for h in resp["hits"]["hits"]]

    # ------------------------------------------------------------ monitoring
    def monitor(self, source: Any, *, interval: float = 60.0, thresholds: Iterable[Any] = (),
                notifiers: Iterable[Any] = ()) -> Any:
        """A :class:`~datamonitor.loop.Monitor` over ``source`` whose records (and notifications) are stored and shipped."""
        from .loop import Monitor

        return Monitor(source, interval=interval, thresholds=thresholds, notifiers=list(notifiers),
                       sink=lambda records: self.record(records), state=_StoreSchemas(self.store, prefix="threshold:"))

    def watcher(self, *dirs: str | Path, recursive: bool = False, settle: float = 0.5,
                ignore: Iterable[str] | None = None, workers: int = 2, **options: Any) -> Any:
        """A :class:`~datamonitor.sources.watch.DirectoryWatcher` that measures and stores each finished file once.

        What it has measured (path and SHA-256) is kept in the store, so a restart
        catches up on files that arrived meanwhile and never measures one twice.
        """
        from .isolation import EnginePool
        from .sources.watch import DEFAULT_IGNORE, DirectoryWatcher, Measured

        profile = ProfileOptions(**options)
        schemas = _PendingState(self.store, "")
        history = SchemaHistory(schemas)
        # each file in a worker process (one per watcher worker, started now): an engine crash fails one file
        engines = EnginePool(warm=workers)

        def measure(path: Path, digest: str) -> tuple[files.FileResult, dict[str, Any]]:
            """One file's records and its dataset's new schema, not stored yet; hashed once, by the watcher."""
            key = files.dataset_key(path.resolve())
            try:
                with engines.engine() as engine:
                    result = files.file_kpis(path, profile, previous_schema=history.get(key), sha256=digest,
                                             engine=engine)
            except SourceError as exc:
                raise SourceError(str(exc).removeprefix(f"{path}: ")) from None  # the watcher names the file
            state: dict[str, Any] = {}
            if result.profile is not None and result.profile.columns:
                change = history.updated(key, {"schema": [list(c) for c in result.profile.schema],
                                               "sha256": result.sha256})
                if change is not None:
                    state = schemas.lay(*change)
            return result, state

        def commit(done: list[Measured]) -> None:
            """The records of several files, their schemas and the watcher's memory of them: one transaction."""
            batch: list[KpiRecord] = []
            meta: dict[str, Any] = {}
            for m in done:
                if m.value is not None:
                    result, state = m.value
                    batch.extend(result.records)
                    meta.update(state)
                meta[f"state:{m.key}"] = m.sha256
            try:
                self._put(batch, None, meta=meta)
            finally:
                schemas.forget(meta)  # committed, or refused: then these files are measured again
            for m in done:
                if m.value is not None:
                    _watch_log.info("%s: measured, %d KPIs", m.path, len(m.value[0].records))
            if self.connected and batch:
                try:
                    self.ship()
                except DataMonitorError as exc:  # stored: the next shipment takes them
                    log.warning("the watcher's documents are stored but not shipped yet: %s", exc)

        return DirectoryWatcher(dirs, measure=measure, commit=commit, recursive=recursive, on_stop=engines.close,
                                settle=settle, ignore=DEFAULT_IGNORE if ignore is None else ignore,
                                state=_StoreSchemas(self.store, prefix="state:"), workers=workers,
                                tick=self.check_overdue)  # late files are news without waiting for the next

    def disk_kpis(self, paths: Iterable[str] | None = None) -> list[KpiRecord]:
        """Disk KPIs for the paths (or every real mount), without storing them."""
        from .sources.disk import DiskSource

        return list(DiskSource(paths).collect())

    # ---------------------------------------------------------- kibana, report
    def kibana_setup(self, url: str, *, space: str | None = None) -> dict[str, Any]:
        """Import the data view, Lens charts and dashboard into Kibana (idempotent); returns Kibana's answer.

        Kibana is reached with the Elasticsearch credentials and TLS settings.
        """
        from . import kibana

        return kibana.import_objects(kibana.KibanaTarget(url, space), self._config.es)

    def report(self, *, since: datetime | str | None = None, thresholds: Mapping[str, float] | None = None,
               local: bool | None = None, limit: int = 10_000) -> str:
        """The HTML report of the KPIs since a time: from the store, or from the cluster when one is configured."""
        from . import report

        since_dt = records.parse_timestamp(since) if since is not None else None
        since_text = records.format_timestamp(since_dt) if since_dt is not None else None
        use_local = (not self.connected) if local is None else local
        if use_local:
            docs: Iterable[dict[str, Any]] = (d.source for d in self.store.iter_documents(since_text))
        else:
            docs = [h["_source"] for h in self._search_cluster(name=None, since=since_text, limit=limit)]
        return report.render(docs, thresholds=thresholds, since=since_dt)

    # ---------------------------------------------------------------- status
    def status(self, *, check_cluster: bool = True) -> dict[str, Any]:
        """Store size, counts by state, last shipment, and whether the cluster answers."""
        stats: StoreStats = self.store.stats()
        out: dict[str, Any] = {
            "store": stats.path,
            "store_bytes": stats.size_bytes,
            "documents": stats.total,
            "pending": stats.pending,
            "shipped": stats.shipped,
            "dead": stats.dead,
            "oldest_pending": _iso(stats.oldest_pending),
            "last_shipment": _iso(stats.last_shipment),
            "backlog_bytes": stats.backlog_bytes,
            "max_size": stats.max_size,
            "when_full": stats.when_full,
            "dropped": stats.dropped,
            "refused": stats.refused,
            "cluster": describe_hosts(self._config.es) if self.connected else None,
            "reachable": None,
            "cluster_version": None,
            "cluster_error": None,
        }
        if self.connected and check_cluster:
            try:
                info = self.es_info()
                out["reachable"] = True
                out["cluster_version"] = info.get("version", {}).get("number")
            except Exception as exc:  # noqa: BLE001 - status reports any failure as "unreachable"
                out["reachable"] = False
                out["cluster_error"] = str(exc)
        return out

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """Documents the cluster rejected for good, with the reason."""
        return [
            {"_index": d.index, "_id": d.doc_id, "reason": d.last_error, "attempts": d.attempts}
            for d in self.store.dead(limit)
        ]

    # ------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Close the client and the store."""
        if self._client is not None:
            try:
                self._client.close()
            except Exception:
                log.debug("closing the client failed", exc_info=True)
            self._client = None
        if self._store is not None:
            try:
                if self._baselines is not None:
                    self._baselines.commit()
            finally:  # the store is closed even when the baselines' last write fails (a full store, say)
                self._store.close()
                self._store = None
                self._encoder = None

    def __enter__(self) -> DataMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DataMonitor(store={str(self._config.store_file)!r}, es={self._config.es!r})"


class _PendingState:
    """State in the store's meta table, with the changes not yet committed laid over it.

    ``set`` only remembers; :meth:`take` hands the changes to the commit that
    stores the records they belong to, so state and records are saved together.
    Until :meth:`forget` (after that commit, or its failure) they still answer ``get``.
    """

    def __init__(self, store: Store, prefix: str) -> None:
        self._store, self._prefix = store, prefix
        self._overlay: dict[str, Any] = {}
        self._new: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            if self._prefix + key in self._overlay:
                return self._overlay[self._prefix + key]
        return self._store.get_meta(self._prefix + key)

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self._overlay[self._prefix + key] = self._new[self._prefix + key] = value

    def get_meta(self, key: str) -> Any:  # SchemaHistory reads and writes through these two
        return self.get(key)

    def set_meta(self, key: str, value: Any) -> None:
        self.set(key, value)

    def lay(self, key: str, value: Any) -> dict[str, Any]:
        """Lay one change over the store and return it as meta, for the caller's own commit."""
        with self._lock:
            self._overlay[self._prefix + key] = value
        return {self._prefix + key: value}

    def take(self) -> dict[str, Any]:
        """The changes since the last take, as meta keys."""
        with self._lock:
            taken, self._new = self._new, {}
        return taken

    def forget(self, taken: dict[str, Any]) -> None:
        """Stop laying these changes over the store: committed, or refused (and to be measured again)."""
        with self._lock:
            for key, value in taken.items():
                if self._overlay.get(key) is value:
                    del self._overlay[key]


class _StoreSchemas:
    """Small JSON state kept in the store's meta table: each dataset's last schema, the watcher's files."""

    def __init__(self, store: Store, prefix: str = "schema:") -> None:
        self._store, self._prefix = store, prefix

    def get(self, key: str) -> Any:
        return self._store.get_meta(self._prefix + key)

    def set(self, key: str, value: Any) -> None:
        self._store.set_meta(self._prefix + key, value)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    from datetime import timezone

    return records.format_timestamp(datetime.fromtimestamp(ts, tz=timezone.utc))
