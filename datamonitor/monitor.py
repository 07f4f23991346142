"""The :class:`DataMonitor` facade: a thin layer over config, store, templates and shipping.

Every document goes to the local store first. With a cluster configured it is
then shipped in bulk; without one, the store is the database, and ``get`` and
``search`` answer from it in the same shape Elasticsearch would.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import reading, records, shipping, status, templates
from .baseline import Baselines, SchemaHistory, grouped
from .config import Config, load_config
from .connection import CLIENT_ERRORS, build_client, connect_settings, describe_hosts, response_body, translate_error
from .encoder import Encoder
from .errors import BacklogFull, NotConfigured, PayloadError, StoreError
from .factories import collect_files, make_monitor, make_watcher
from .notify import Notifier, send_all
from .profiling import ProfileOptions
from .records import KpiRecord, dataset_key
from .sources import files
from .state import StateChanges
from .store import PENDING, PutResult, Store

if TYPE_CHECKING:
    from .loop import Monitor
    from .notify import Threshold
    from .sources.watch import DirectoryWatcher

__all__ = ["DataMonitor"]

log = logging.getLogger(__name__)

KpiLike = KpiRecord | Mapping[str, Any]
_baselines_lock = threading.Lock()


class DataMonitor:
    """Collect KPI documents, keep them in the local store and ship them to Elasticsearch.

    :param config: a :class:`~datamonitor.config.Config`, a path to a TOML file,
        or None to read ``$DATAMONITOR_CONFIG`` / ``<home>/datamonitor.toml`` and the environment.
    :param store: an open :class:`~datamonitor.store.Store` to use instead of the configured one.
    """

    def __init__(self, config: Config | str | Path | None = None, *, store: Store | None = None) -> None:
        self._config = config if isinstance(config, Config) else load_config(config)
        self._store = store
        self._closed = False
        self._client: Any = None
        self._last_ship: shipping.ShipResult | None = None
        self._encoder: Encoder | None = None
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
        """The local store, opened on first use; after :meth:`close`, a :class:`~datamonitor.errors.StoreError`."""
        if self._closed:  # reopening it silently would hide a late write, and leak the new connection
            raise StoreError(f"{self._config.store_file}: this DataMonitor is closed; using it after close() is a bug")
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
                    self._baselines = Baselines(self.store, self._config.baseline)
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
    def configured(self) -> bool:
        """True when a cluster is configured (or connected to), so documents will be shipped; nothing is asked of it."""
        return self._client is not None or self._config.es.configured

    @property
    def connected(self) -> bool:
        """Deprecated: :attr:`configured`, which says what this always meant (no connection is checked)."""
        warnings.warn("DataMonitor.connected is deprecated: use DataMonitor.configured (no connection is checked)",
                      DeprecationWarning, stacklevel=2)
        return self.configured

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
        es = connect_settings(self._config.es, hosts, options)
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
        return dict(self._call("info", lambda es: es.info()))

    def es_setup(self, *, dry_run: bool = False) -> dict[str, str]:
        """Install the ILM policy and index templates, idempotently: ``name -> outcome``; ``dry_run``: change nothing,
        say what it would do (``create``, ``update``, ``unchanged``)."""
        step, action = (templates.plan, "setup (dry run)") if dry_run else (templates.install, "setup")
        return dict(self._call(action, lambda es: step(es, self._config.es)))

    # --------------------------------------------------------------- writing
    def _rows(self) -> Encoder:
        """The encoder of the store's rows, for the configured index and this store's id history."""
        es, enc, store = self._config.es, self._encoder, self.store
        if (enc is None or enc.index_prefix != es.index_prefix or enc.index_period != es.index_period
                or enc.legacy_ids_until != store.legacy_ids_until):
            enc = self._encoder = Encoder(es.index_prefix, es.index_period, legacy_ids_until=store.legacy_ids_until)
        return enc

    def _put(self, items: Iterable[KpiLike], index: str | None, *,
             state: StateChanges | None = None) -> tuple[list[str], PutResult]:
        """Store records (or payloads), scored, and ``state`` in one transaction; returns the ids."""
        row = self._rows().row
        batch = records.as_records(items)
        scored = self.baselines.observe(batch)  # learned baselines, scored in flow: see datamonitor.baseline
        rows = [row(record, index) for record in [*scored.records, *scored.anomalies, *scored.notifications]]
        try:
            try:
                result = self.store.put(rows, count_refused=not self.configured, state=state)
            except BacklogFull:
                if not self.configured:
                    raise
                self.ship()  # pause means: make room by delivering, then try once more
                result = self.store.put(rows, state=state)
        except BaseException:
            self.baselines.forget()
            raise
        self.baselines.commit(force=False)
        for title, message in grouped(scored.notifications):
            send_all(self.notifiers, title, message)
        if result.dropped:
            self._report_dropped(result.dropped)
        return [r.doc_id for r in rows[:len(batch)]], result

    def put_records(self, records: Iterable[KpiLike], *, state: StateChanges | None = None) -> PutResult:
        """Store records (scored by the baselines) and the state that goes with them in one transaction; no shipping.

        ``state`` maps keys of :mod:`datamonitor.state` to JSON values: a batch the store refuses keeps neither.
        """
        return self._put(records, None, state=state)[1]

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
        if ship and self.configured:
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
        if not self.configured:
            return shipping.ShipResult(pending=self.store.count(PENDING))
        return self.ship()

    def ship(
        self, *, retry_dead: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> shipping.ShipResult:
        """Deliver everything pending in the store; never raises for an unreachable cluster.

        When the cluster cannot be reached, ``result.error`` says so and the
        documents stay pending for the next run.
        """
        if not self.configured:
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
        previous = SchemaHistory(self.store).get(dataset_key(Path(path).resolve()))
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
        return collect_files(self, paths, ProfileOptions(**options), recursive=recursive, progress=progress)

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
        if not self.configured:
            return reading.local_get(self.store, self._config.es, index, docid)
        return reading.cluster_get(self._es(), self.store, self._config.es, index, docid)

    def get(self, docid: str) -> dict[str, Any] | None:
        """The document with this id from the local store, or None."""
        stored = self.store.get(docid)
        return stored.source if stored is not None else None

    def search(self, *, name: str | None = None, since: datetime | str | None = None, limit: int = 20,
               local: bool | None = None, file: str | None = None, dataset: str | None = None,
               subject: str | None = None) -> list[dict[str, Any]]:
        """The newest documents, optionally of one KPI, file, dataset or subject and after a time.

        ``name``, ``file`` (its path or name), ``dataset`` and ``subject`` take shell
        wildcards (``column.*``). Each hit has ``_id``, ``_index`` and ``_source``.
        Asks the cluster when one is configured (``local=False``), else the store.
        """
        since_text = records.format_timestamp(records.parse_timestamp(since)) if since is not None else None
        if (not self.configured) if local is None else local:
            return reading.local_search(self.store, name=name, since=since_text, limit=limit, file=file,
                                        dataset=dataset, subject=subject)
        return self._search_cluster(name=name, since=since_text, limit=limit, file=file, dataset=dataset,
                                    subject=subject)

    def _search_cluster(self, **filters: Any) -> list[dict[str, Any]]:
        return reading.cluster_search(self._call, templates.search_pattern(self._config.es), **filters)

    # ------------------------------------------------------------ monitoring
    def monitor(self, source: Any, *, interval: float = 60.0, thresholds: Iterable[Threshold] = (),
                notifiers: Iterable[Notifier] = ()) -> Monitor:
        """A :class:`~datamonitor.loop.Monitor` over ``source`` whose records (and notifications) are stored and shipped."""
        return make_monitor(self, source, interval=interval, thresholds=thresholds, notifiers=notifiers)

    def watcher(self, *dirs: str | Path, recursive: bool = False, settle: float = 0.5,
                ignore: Iterable[str] | None = None, workers: int = 3, **options: Any) -> DirectoryWatcher:
        """A :class:`~datamonitor.sources.watch.DirectoryWatcher` that measures and stores each finished file once.

        Each of the ``workers`` measures in an engine process of its own (about 80 MB each): three on two cores,
        because this process's own share of a file (hash, records, commit) leaves an engine waiting meanwhile.

        What it has measured (path and SHA-256) is kept in the store, so a restart
        catches up on files that arrived meanwhile and never measures one twice.
        """
        return make_watcher(self, dirs, ProfileOptions(**options), recursive=recursive, settle=settle, ignore=ignore,
                            workers=workers)

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
        use_local = (not self.configured) if local is None else local
        if use_local:
            docs: Iterable[dict[str, Any]] = (d.source for d in self.store.iter_documents(since_text))
        else:
            docs = [h["_source"] for h in self._search_cluster(name=None, since=since_text, limit=limit)]
        return report.render(docs, thresholds=thresholds, since=since_dt)

    # ---------------------------------------------------------------- status
    def status(self, *, check_cluster: bool = True) -> dict[str, Any]:
        """Store size, counts by state, last shipment, and whether the cluster answers."""
        info = self.es_info if self.configured and check_cluster else None
        return status.status(self.store, describe_hosts(self._config.es) if self.configured else None, info)

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """Documents the cluster rejected for good, with the reason."""
        return status.dead_letters(self.store, limit)

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
        self._closed = True

    def __enter__(self) -> DataMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DataMonitor(store={str(self._config.store_file)!r}, es={self._config.es!r})"
