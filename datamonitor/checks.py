"""``datamonitor test config`` and ``test output``: check the setup without running it, as Metricbeat's ``test``.

Each check is one :class:`Check` line: what was checked, ``ok``, ``warn`` or
``error``, and the detail. Nothing is written anywhere: ``test output`` only reads
the cluster (and Kibana), and says what ``setup`` would change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config
from .errors import DataMonitorError

__all__ = ["Check", "check_config", "check_output"]


@dataclass(frozen=True)
class Check:
    """One line of a test: ``status`` is ok, warn or error."""

    what: str
    status: str
    detail: str = ""


def _store_dir(config: Config) -> Check:
    """The store's folder exists and is writable, or can be made."""
    folder = config.store_file.parent
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.is_dir() and os.access(probe, os.W_OK | os.X_OK):
        return Check("store", "ok", str(config.store_file))
    return Check("store", "error", f"{config.store_file}: cannot write in {probe}")


def check_config(config: Config, *, monitors: bool = True) -> list[Check]:
    """The config file (already loaded into ``config``), the store, and (``monitors``) the service's sections."""
    from .service import load_service, service_problems

    checks = [Check("config", "ok", str(config.source) if config.source else "no config file: defaults and "
                                                                              "the environment")]
    checks.append(_store_dir(config))
    if monitors and config.source is not None and _has_monitors(config.source):
        problems = service_problems(config.source)
        checks += [Check(p.section, "error", p.text) for p in problems]
        if not problems:
            spec = load_service(config.source)
            kinds = ", ".join(m.type for m in spec.monitors)
            checks.append(Check("monitors", "ok", f"{len(spec.monitors)} ({kinds}), {len(spec.thresholds)} "
                                                  f"threshold(s), {len(spec.notifiers)} notifier(s)"))
    return checks


def _has_monitors(path: Path) -> bool:
    from .config import read_config_file

    return any(key in read_config_file(path) for key in ("monitors", "thresholds", "notifiers"))


def check_output(dm: Any, *, kibana: str | None = None) -> list[Check]:
    """Reach the cluster, check the credentials and TLS, and say what ``setup`` would change; Kibana too."""
    from .connection import describe_hosts

    es = dm.config.es
    if not es.configured:
        return [Check("elasticsearch", "error", "none configured: give --es URL, DATAMONITOR_ES_URL or "
                                                "[elasticsearch] url")]
    checks = [Check("elasticsearch", "ok", describe_hosts(es))]
    if any(h.startswith("https:") for h in es.hosts):
        checks.append(Check("TLS", "ok" if es.verify_certs else "warn",
                            "certificates verified" + (f" against {es.ca_certs}" if es.ca_certs else "")
                            if es.verify_certs else "certificate verification is off (verify_certs = false)"))
    elif es.username or es.api_key:
        checks.append(Check("TLS", "warn", "credentials are sent over plain http"))
    try:
        info = dm.es_info()
    except DataMonitorError as exc:
        return [*checks, Check("connection", "error", str(exc))]
    version = info.get("version", {}).get("number", "?")
    checks.append(Check("connection", "ok", f"cluster {info.get('cluster_name', '?')!r}, version {version}"))
    who = f"user {es.username!r}" if es.username else "API key" if es.api_key else "no credentials"
    checks.append(Check("auth", "ok", f"{who}: the cluster answered"))
    major = version.split(".", 1)[0]
    if major.isdigit() and int(major) < 8:
        checks.append(Check("version", "error", f"Elasticsearch {version}: datamonitor needs 8.x or later"))
    try:
        changes = dm.es_setup(dry_run=True)
    except DataMonitorError as exc:
        checks.append(Check("templates", "error", str(exc)))
    else:
        todo = {k: v for k, v in changes.items() if v != "unchanged"}
        checks.append(Check("templates", "warn" if todo else "ok",
                            "setup would " + ", ".join(f"{v} {k}" for k, v in todo.items()) if todo
                            else f"all {len(changes)} installed and current"))
    if kibana:
        checks.append(_check_kibana(kibana, es))
    return checks


def _check_kibana(url: str, es: Any) -> Check:
    """Kibana's version from its status API, against the oldest Kibana the saved objects import into."""
    from .kibana import MIN_KIBANA, KibanaTarget, kibana_version

    target = KibanaTarget(url)
    base = target.base()
    try:
        version = kibana_version(target, es, timeout=es.request_timeout)
    except DataMonitorError as exc:
        return Check("kibana", "error", str(exc))
    shown, needed = ".".join(map(str, version)), ".".join(map(str, MIN_KIBANA))
    if version < MIN_KIBANA:
        return Check("kibana", "error", f"{base}: version {shown}, the dashboard needs {needed} or later")
    return Check("kibana", "ok", f"{base}: version {shown}")


