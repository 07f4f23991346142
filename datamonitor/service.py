"""The long-running service: every configured monitor in one process, until SIGINT or SIGTERM.

The config file (TOML or YAML) holds, beside ``[elasticsearch]`` and ``[store]``:
``[[monitors]]`` (``type`` = disk, watch, udp or files), ``[[thresholds]]`` and
``[[notifiers]]``. Each entry is read into its typed model (:mod:`datamonitor.monitors`,
:mod:`datamonitor.notify`) by the one validator (:mod:`datamonitor.validation`).
Everything is checked at start, and a bad entry stops it with its place in the
file (``monitors[2].interval``) and the reason.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import read_config_file
from .errors import ConfigError
from .monitors import MONITORS, MonitorModel, Task
from .notify import NOTIFIERS, Notifier, Threshold, check_notifier, make_notifier
from .validation import read_fields

__all__ = ["Problem", "ServiceSpec", "check_service", "load_service", "run_service", "service_problems"]

log = logging.getLogger(__name__)
SECTIONS = ("monitors", "thresholds", "notifiers")


@dataclass(frozen=True)
class ServiceSpec:
    """The service's part of the config file: the models of its monitors, its thresholds and notifiers."""

    monitors: tuple[MonitorModel, ...]
    thresholds: tuple[Threshold, ...]
    notifiers: tuple[Notifier, ...]
    source: Path | None = None


@dataclass(frozen=True)
class Problem:
    """One problem of the service's part of the file: the section it is in, and the line that says it."""

    section: str
    text: str

    def __str__(self) -> str:
        return self.text


def _placed(at: str, exc: ConfigError) -> str:
    """A model's error at its place in the file: ``<at>.<key>: <reason>``, or ``<at>: <message>``."""
    return f"{at}.{exc.key}: {exc.reason}" if exc.key else f"{at}: {exc}"


def load_service(path: str | Path) -> ServiceSpec:
    """The monitors, thresholds and notifiers of a config file, checked.

    Every bad entry is found, not only the first: the ConfigError holds one line
    per problem, each naming its place in the file (``monitors[2].interval``).
    """
    spec, problems = _load(Path(path))
    if problems:
        raise ConfigError(problems=[p.text for p in problems])
    return spec


def service_problems(path: str | Path, *, env: Mapping[str, str] | None = None) -> list[Problem]:
    """Everything wrong with the service's part of a config file, in one list: the entries that do not
    parse, and the paths, addresses and notifier settings of those that do (:func:`check_service`)."""
    spec, problems = _load(Path(path))
    return problems + check_service(spec, env=env)


def _entries(data: Mapping[str, Any], where: str, section: str, read: Callable[[Any, str], Any],
             problems: list[Problem]) -> list[Any]:
    """The models of one section's entries that read; a Problem for each that does not."""
    found = []
    for i, entry in enumerate(data.get(section) or []):
        try:
            found.append(read(entry, f"{where}: {section}[{i}]"))
        except ConfigError as exc:
            problems.append(Problem(section, str(exc)))
    return found


def _monitor(entry: Any, at: str) -> MonitorModel:
    kind = entry.get("type") if isinstance(entry, Mapping) else None
    if not isinstance(kind, str) or kind not in MONITORS:
        raise ConfigError(f"{at}.type: {kind!r} is not one of {', '.join(MONITORS)}")
    try:
        model: MonitorModel = MONITORS[kind](**read_fields(MONITORS[kind], entry, ignore=("type",)))
    except ConfigError as exc:
        raise ConfigError(_placed(at, exc)) from None
    return model


def _threshold(entry: Any, at: str) -> Threshold:
    try:
        return Threshold(**read_fields(Threshold, entry))
    except ConfigError as exc:
        raise ConfigError(_placed(at, exc)) from None


def _notifier(entry: Any, at: str) -> Notifier:
    if not isinstance(entry, Mapping) or "type" not in entry:
        *others, last = NOTIFIERS
        raise ConfigError(f"{at}.type: required ({', '.join(others)} or {last})")
    try:
        return make_notifier(entry["type"], **{k: v for k, v in entry.items() if k != "type"})
    except ConfigError as exc:
        raise ConfigError(f"{at}: {exc}") from None


def _load(p: Path) -> tuple[ServiceSpec, list[Problem]]:
    """The entries that parse, and one Problem per entry that does not."""
    data = read_config_file(p)
    where = str(p)
    problems = [Problem(s, f"{where}: {s}: must be a list of tables ([[{s}]])") for s in SECTIONS
                if not isinstance(data.get(s) or [], list)]
    if problems:
        return ServiceSpec((), (), (), p), problems
    monitors = _entries(data, where, "monitors", _monitor, problems)
    if not monitors and not problems:
        problems.append(Problem("monitors", f"{where}: no [[monitors]]: nothing to run"))
    thresholds = _entries(data, where, "thresholds", _threshold, problems)
    notifiers = _entries(data, where, "notifiers", _notifier, problems)
    return ServiceSpec(tuple(monitors), tuple(thresholds), tuple(notifiers), p), problems


def check_service(spec: ServiceSpec, *, env: Mapping[str, str] | None = None) -> list[Problem]:
    """What would stop the service or one of its monitors, found before anything starts: one line each.

    Every path exists (a folder to watch is a folder; a glob's folder exists),
    every UDP address resolves, and every notifier has what it needs to deliver.
    """
    where = str(spec.source) if spec.source else "configuration"
    problems = [Problem("monitors", line) for i, m in enumerate(spec.monitors)
                for line in m.problems(f"{where}: monitors[{i}]")]
    problems += [Problem("notifiers", f"{where}: notifiers[{i}]: {line}") for i, notifier in enumerate(spec.notifiers)
                 for line in check_notifier(notifier, env)]
    return problems


def run_service(dm: Any, spec: ServiceSpec, *, duration: float | None = None,
                stop: threading.Event | None = None) -> dict[str, Any]:
    """Run every monitor until ``stop`` is set (SIGINT/SIGTERM in the main thread) or ``duration``; then ship.

    Returns what each monitor did, for the command line to print.
    """
    stop = stop or threading.Event()
    notifiers, thresholds = list(spec.notifiers), list(spec.thresholds)
    dm.notifiers = list(notifiers)  # anomalies, found as any monitor's records are stored, alert them too
    tasks: dict[str, Task] = {}
    previous = {}
    try:
        # the handlers first: a SIGTERM that arrives while the monitors start stops the run cleanly
        if threading.current_thread() is threading.main_thread():
            previous = {sig: signal.signal(sig, lambda _s, _f: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
        for i, m in enumerate(spec.monitors):
            label = f"{m.type}[{i}]"
            tasks[label] = m.start(dm, thresholds=thresholds, notifiers=notifiers, label=label)
        log.info("running %d monitor(s)", len(spec.monitors))
        stop.wait(duration)
    finally:
        _stop_all(tasks.values())
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    summary = {label: task.summary() for label, task in tasks.items()}
    if dm.configured:
        shipped = dm.ship()
        summary["shipping"] = {"shipped": shipped.shipped, "pending": shipped.pending, "error": shipped.error}
    return summary


def _stop_all(tasks: Any) -> None:
    """Stop every task, then wait for each; a stop that fails is logged and the others still run."""
    for task in tasks:
        try:
            task.stop()
        except Exception as exc:  # noqa: BLE001 - every monitor gets its stop, whatever one of them raises
            log.error("stopping a monitor failed: %s", exc)
    for task in tasks:
        task.join(timeout=30)
