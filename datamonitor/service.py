"""The long-running service: every configured monitor in one process, until SIGINT or SIGTERM.

The config file (TOML or YAML) holds, beside ``[elasticsearch]`` and ``[store]``:
``[[monitors]]`` (``type`` = disk, watch, udp or files), ``[[thresholds]]`` and
``[[notifiers]]``. Everything is checked at start, and a bad entry stops it
with its place in the file (``monitors[2].interval``) and the reason.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import parse_duration, read_config_file
from .errors import ConfigError
from .notify import Notifier, Threshold, check_notifier, make_notifier

__all__ = ["MonitorSpec", "ServiceSpec", "check_service", "load_service", "run_service", "service_problems"]

log = logging.getLogger(__name__)

_DURATION = (int, float, str)  # seconds, or a text with a unit: "30s", "5m", "1h" (config.parse_duration)
# each monitor type: its keys, with (types, default); a default of ... means required
_MONITORS: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "disk": {"paths": ((list,), None), "interval": (_DURATION, 60.0),
             "max_used_pct": ((int, float), None), "min_free_gb": ((int, float), None)},
    "watch": {"dirs": ((list,), ...), "recursive": ((bool,), False), "settle": (_DURATION, 0.5),
              "ignore": ((list,), None), "workers": ((int,), 2)},
    "udp": {"host": ((str,), "127.0.0.1"), "port": ((int,), 8200), "flush": (_DURATION, 10.0),
            "max_size": ((int,), 8192), "secret_env": ((str,), "DATAMONITOR_UDP_SECRET")},
    "files": {"paths": ((list,), ...), "interval": (_DURATION, 3600.0), "recursive": ((bool,), False)},
}
_DURATION_KEYS = ("interval", "flush", "settle")
_THRESHOLD_KEYS: dict[str, tuple[type, ...]] = {"kpi": (str,), "above": (int, float), "below": (int, float),
                                                "hysteresis": (int, float), "subject": (str,)}


@dataclass(frozen=True)
class MonitorSpec:
    """One ``[[monitors]]`` entry, checked."""

    type: str
    options: Mapping[str, Any]


@dataclass(frozen=True)
class ServiceSpec:
    """The service's part of the config file."""

    monitors: tuple[MonitorSpec, ...]
    thresholds: tuple[Threshold, ...]
    notifiers: tuple[Notifier, ...]
    source: Path | None = None


def _unknown_key(where: str, key: str, known: Iterable[str]) -> ConfigError:
    import difflib

    known = sorted(known)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return ConfigError(f"{where}.{key}: unknown key ({hint}known: {', '.join(known)})")


def _check(entry: Any, where: str, schema: Mapping[str, tuple[tuple[type, ...], Any]]) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: must be a table")
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "type":
            continue
        if key not in schema:
            raise _unknown_key(where, key, schema)
        types = schema[key][0]
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            names = " or ".join(t.__name__ for t in types)
            raise ConfigError(f"{where}.{key}: must be {names}, not {type(value).__name__}")
        out[key] = value
    for key, (_types, default) in schema.items():
        if key not in out:
            if default is ...:
                raise ConfigError(f"{where}.{key}: required")
            out[key] = default
    for key in _DURATION_KEYS:
        if key in out:
            out[key] = parse_duration(out[key], f"{where}.{key}")
    for key in ("paths", "dirs", "ignore"):
        if isinstance(out.get(key), list) and not all(isinstance(v, str) for v in out[key]):
            raise ConfigError(f"{where}.{key}: must be a list of str")
    return out


def load_service(path: str | Path) -> ServiceSpec:
    """The monitors, thresholds and notifiers of a config file, checked.

    Every bad entry is found, not only the first: the ConfigError holds one line
    per problem, each naming its place in the file (``monitors[2].interval``).
    """
    spec, problems = _load(Path(path))
    if problems:
        raise ConfigError("\n".join(problems))
    return spec


def service_problems(path: str | Path, *, env: Mapping[str, str] | None = None) -> list[str]:
    """Everything wrong with the service's part of a config file, in one list: the entries that do not
    parse, and the paths, addresses and notifier settings of those that do (:func:`check_service`)."""
    spec, problems = _load(Path(path))
    return problems + check_service(spec, env=env)


def _load(p: Path) -> tuple[ServiceSpec, list[str]]:
    """The entries that parse, and one line per entry that does not."""
    data = read_config_file(p)
    where = str(p)
    problems: list[str] = []
    for section in ("monitors", "thresholds", "notifiers"):
        if not isinstance(data.get(section) or [], list):
            problems.append(f"{where}: {section}: must be a list of tables ([[{section}]])")
    if problems:
        return ServiceSpec((), (), (), p), problems
    monitors = []
    for i, entry in enumerate(data.get("monitors") or []):
        at = f"{where}: monitors[{i}]"
        kind = entry.get("type") if isinstance(entry, Mapping) else None
        if not isinstance(kind, str) or kind not in _MONITORS:
            problems.append(f"{at}.type: {kind!r} is not one of {', '.join(_MONITORS)}")
            continue
        try:
            monitors.append(MonitorSpec(kind, _check(entry, at, _MONITORS[kind])))
        except ConfigError as exc:
            problems.append(str(exc))
    if not monitors and not problems:
        problems.append(f"{where}: no [[monitors]]: nothing to run")
    thresholds = []
    for i, entry in enumerate(data.get("thresholds") or []):
        at = f"{where}: thresholds[{i}]"
        try:
            fields = _check(entry, at, {k: (t, None) for k, t in _THRESHOLD_KEYS.items()})
            if not fields["kpi"]:
                raise ConfigError(f"{at}.kpi: required")
            try:
                thresholds.append(Threshold(**{k: v for k, v in fields.items() if v is not None}))
            except ConfigError as exc:
                raise ConfigError(f"{at}: {exc}") from None
        except ConfigError as exc:
            problems.append(str(exc))
    notifiers = []
    for i, entry in enumerate(data.get("notifiers") or []):
        at = f"{where}: notifiers[{i}]"
        if not isinstance(entry, Mapping) or "type" not in entry:
            problems.append(f"{at}.type: required (log, email or webhook)")
            continue
        try:
            notifiers.append(make_notifier(entry["type"], **{k: v for k, v in entry.items() if k != "type"}))
        except ConfigError as exc:
            problems.append(f"{at}: {exc}")
    return ServiceSpec(tuple(monitors), tuple(thresholds), tuple(notifiers), p), problems


def check_service(spec: ServiceSpec, *, env: Mapping[str, str] | None = None) -> list[str]:
    """What would stop the service or one of its monitors, found before anything starts: one line each.

    Every path exists (a folder to watch is a folder; a glob's folder exists),
    every UDP address resolves, and every notifier has what it needs to deliver.
    """
    import glob
    import os
    import socket

    env = os.environ if env is None else env
    where = str(spec.source) if spec.source else "configuration"
    problems: list[str] = []
    for i, m in enumerate(spec.monitors):
        at = f"{where}: monitors[{i}]"
        o = m.options
        if m.type == "disk":
            for j, raw in enumerate(o["paths"] or []):
                if not os.path.exists(os.path.expanduser(raw)):
                    problems.append(f"{at}.paths[{j}]: {raw}: no such file or directory")
        elif m.type == "watch":
            for j, raw in enumerate(o["dirs"]):
                d = Path(raw).expanduser()
                if not d.exists():
                    problems.append(f"{at}.dirs[{j}]: {raw}: no such directory")
                elif not d.is_dir():
                    problems.append(f"{at}.dirs[{j}]: {raw}: not a directory")
        elif m.type == "files":
            for j, raw in enumerate(o["paths"]):
                text = os.path.expanduser(raw)
                if glob.has_magic(text):
                    parts = Path(text).parts
                    fixed = Path(*parts[:next(k for k, part in enumerate(parts) if glob.has_magic(part))] or ["."])
                    if not fixed.is_dir():
                        problems.append(f"{at}.paths[{j}]: {raw}: no such directory {fixed}")
                elif not os.path.exists(text):
                    problems.append(f"{at}.paths[{j}]: {raw}: no such file or directory")
        elif m.type == "udp":
            if not 0 <= o["port"] <= 65535:
                problems.append(f"{at}.port: {o['port']} is not in 0-65535")
            else:
                try:
                    socket.getaddrinfo(o["host"], o["port"], type=socket.SOCK_DGRAM)
                except OSError as exc:
                    problems.append(f"{at}.host: {o['host']}: cannot resolve it: {exc.strerror or exc}")
    for i, notifier in enumerate(spec.notifiers):
        at = f"{where}: notifiers[{i}]"
        problems += [f"{at}: {p}" for p in check_notifier(notifier, env)]
    return problems


def run_service(dm: Any, spec: ServiceSpec, *, duration: float | None = None,
                stop: threading.Event | None = None) -> dict[str, Any]:
    """Run every monitor until ``stop`` is set (SIGINT/SIGTERM in the main thread) or ``duration``; then ship.

    Returns what each monitor did, for the command line to print.
    """
    import os

    from .sources.disk import DiskSource
    from .sources.files import FileSource
    from .sources.udp import UdpListener

    stop = stop or threading.Event()
    notifiers, thresholds = list(spec.notifiers), list(spec.thresholds)
    dm.notifiers = list(notifiers)  # anomalies, found as any monitor's records are stored, alert them too
    threads: list[threading.Thread] = []
    stoppers: list[Any] = []
    report: dict[str, Any] = {}

    for i, m in enumerate(spec.monitors):
        o = dict(m.options)
        label = f"{m.type}[{i}]"
        if m.type in ("disk", "files"):
            extra = list(thresholds)
            if m.type == "disk":
                source: Any = DiskSource(o["paths"])
                if o["max_used_pct"] is not None:
                    extra.append(Threshold("disk.used_pct", above=o["max_used_pct"], hysteresis=1.0))
                if o["min_free_gb"] is not None:
                    extra.append(Threshold("disk.free_bytes", below=o["min_free_gb"] * (1 << 30),
                                           hysteresis=float(1 << 30)))
            else:
                from .baseline import SchemaHistory

                source = FileSource(o["paths"], recursive=o["recursive"], schemas=SchemaHistory(dm.store))
            mon = dm.monitor(source, interval=o["interval"], thresholds=extra, notifiers=notifiers)
            threads.append(threading.Thread(target=mon.loop, name=f"datamonitor-{label}", daemon=True))
            stoppers.append(mon.stop)
            report[label] = mon
        elif m.type == "watch":
            watcher = dm.watcher(*o["dirs"], recursive=o["recursive"], settle=o["settle"], ignore=o["ignore"],
                                 workers=o["workers"])
            watcher.start()
            stoppers.append(watcher.stop)
            report[label] = watcher
        else:
            secret = os.environ.get(o["secret_env"])
            listener = UdpListener(o["host"], o["port"], flush_interval=o["flush"], max_size=o["max_size"],
                                   secret=secret.encode() if secret else None, sink=lambda r: dm.record(r))
            loop = asyncio.new_event_loop()
            threads.append(threading.Thread(target=_serve_udp, args=(loop, listener),
                                            name=f"datamonitor-{label}", daemon=True))
            stoppers.append(lambda lp=loop, ls=listener: lp.call_soon_threadsafe(ls.stop))
            report[label] = listener
    for t in threads:
        t.start()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, lambda _s, _f: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    log.info("running %d monitor(s)", len(spec.monitors))
    try:
        stop.wait(duration)
    finally:
        for stopper in stoppers:
            try:
                stopper()
            except Exception as exc:  # noqa: BLE001 - every monitor gets its stop
                log.error("stopping a monitor failed: %s", exc)
        for t in threads:
            t.join(timeout=30)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    shipped = None
    if dm.connected:
        shipped = dm.ship()
    return _summary(report, shipped)


def _serve_udp(loop: asyncio.AbstractEventLoop, listener: Any) -> None:
    """The listener in its own thread and loop; the loop's executor is shut down and the loop closed after."""
    try:
        loop.run_until_complete(listener.serve())
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def _summary(report: Mapping[str, Any], shipped: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, obj in report.items():
        if hasattr(obj, "totals"):
            out[label] = {"received": obj.totals.received, "accepted": obj.totals.accepted,
                          "rejected": obj.totals.rejected}
        elif hasattr(obj, "processed"):
            out[label] = {"files": obj.processed, "failed": getattr(obj, "failed", 0)}
        else:
            out[label] = {"steps": obj.steps}
    if shipped is not None:
        out["shipping"] = {"shipped": shipped.shipped, "pending": shipped.pending, "error": shipped.error}
    return out

