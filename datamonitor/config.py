"""Loading and validating configuration: defaults < config file < environment < explicit options.

The config file is TOML, or YAML when it is named ``.yaml`` or ``.yml``. Secrets may come from the environment
(``DATAMONITOR_ES_PASSWORD``, ``DATAMONITOR_ES_API_KEY``) so the file need not
hold them; they are kept out of every ``repr``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from .errors import ConfigError
from .store import WHEN_FULL

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ["Config", "EsSettings", "default_home", "hosts_fields", "load_config", "normalize_hosts", "parse_duration",
           "parse_size"]

log = logging.getLogger(__name__)

ENV_PREFIX = "DATAMONITOR_"
INDEX_PERIODS = ("month", "day", "none")
_REDACTED = "***"


@dataclass(frozen=True)
class EsSettings:
    """How to reach Elasticsearch and where documents go there."""

    hosts: tuple[str, ...] = ()
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    verify_certs: bool = True
    request_timeout: float = 10.0
    index_prefix: str = "dm-kpi"
    index_period: str = "month"
    chunk_size: int = 500
    max_retries: int = 5
    initial_backoff: float = 1.0
    max_backoff: float = 60.0
    retention: str = "400d"
    #: replicas of each KPI index: a range for ``auto_expand_replicas`` ("0-1": none on a single node, so it
    #: stays green, one where there are two nodes), or a number for ``number_of_replicas``
    replicas: str | int = "0-1"

    @property
    def configured(self) -> bool:
        """True when at least one host is set."""
        return bool(self.hosts)

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):
            val = getattr(self, f.name)
            if f.name in ("password", "api_key"):
                val = _REDACTED if val else None
            parts.append(f"{f.name}={val!r}")
        return f"EsSettings({', '.join(parts)})"

    __str__ = __repr__


@dataclass(frozen=True)
class Config:
    """Everything a :class:`~datamonitor.DataMonitor` needs to know; frozen."""

    home: Path = field(default_factory=lambda: default_home())
    store_path: Path | None = None
    es: EsSettings = field(default_factory=EsSettings)
    source: Path | None = None
    #: the most bytes of undelivered documents the store holds (None: no bound), and what it does when full
    store_max_size: int | None = None
    store_when_full: str = "pause"

    @property
    def store_file(self) -> Path:
        """The SQLite store file (``store_path``, else ``<home>/datamonitor.db``)."""
        return self.store_path if self.store_path is not None else self.home / "datamonitor.db"


def default_home(env: Mapping[str, str] | None = None) -> Path:
    """``$DATAMONITOR_HOME``, else ``$XDG_DATA_HOME/datamonitor``, else ``~/.local/share/datamonitor``."""
    env = os.environ if env is None else env
    if env.get("DATAMONITOR_HOME"):
        return Path(env["DATAMONITOR_HOME"]).expanduser()
    xdg = env.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "datamonitor"


def normalize_hosts(spec: object) -> tuple[tuple[str, ...], str | None, str | None]:
    """Turn a host spec into credential-free URLs, plus any user and password found in them.

    Accepts a URL string (comma-separated for several), a dict with
    ``host``/``port``/``scheme`` (and optional ``path_prefix``), or a list of either.
    """
    if spec is None:
        return (), None, None
    items: Sequence[object]
    if isinstance(spec, str):
        items = [s for s in (p.strip() for p in spec.split(",")) if s]
    elif isinstance(spec, Mapping):
        items = [spec]
    elif isinstance(spec, Sequence):
        items = list(spec)
    else:
        raise ConfigError(f"elasticsearch hosts: {type(spec).__name__} is not a URL, a dict or a list")
    urls: list[str] = []
    user = password = None
    for item in items:
        url, u, p = _one_host(item)
        urls.append(url)
        user = user or u
        password = password or p
    return tuple(urls), user, password


def hosts_fields(spec: object) -> dict[str, Any]:
    """The EsSettings fields a host spec sets: ``hosts``, and the user and password found in its URLs."""
    hosts, user, password = normalize_hosts(spec)
    fields: dict[str, Any] = {"hosts": hosts}
    if user:
        fields["username"] = user
    if password:
        fields["password"] = password
    return fields


def _one_host(item: object) -> tuple[str, str | None, str | None]:
    if isinstance(item, Mapping):
        unknown = set(item) - {"host", "port", "scheme", "path_prefix", "url"}
        if unknown:
            raise ConfigError(f"elasticsearch host: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        if "url" in item:
            return _one_host(item["url"])
        host = item.get("host", "localhost")
        scheme = item.get("scheme", "http")
        port = item.get("port", 9200)
        if scheme not in ("http", "https"):
            raise ConfigError(f"elasticsearch host: scheme {scheme!r} is not http or https")
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise ConfigError(f"elasticsearch host: port {port!r} is not a number") from None
        prefix = str(item.get("path_prefix", "") or "").strip("/")
        return f"{scheme}://{host}:{port}" + (f"/{prefix}" if prefix else ""), None, None
    if not isinstance(item, str) or not item.strip():
        raise ConfigError(f"elasticsearch host: {item!r} is not a URL")
    text = item.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"elasticsearch host: {_strip_userinfo(text)!r} is not an http(s) URL")
    try:
        port = parts.port or 9200
    except ValueError:
        raise ConfigError(f"elasticsearch host: {_strip_userinfo(text)!r} has a bad port") from None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    clean = urlunsplit((parts.scheme, f"{host}:{port}", parts.path.rstrip("/"), "", ""))
    return clean, user, password


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, ""))


# ----------------------------------------------------------------- loading

_ES_TYPES: dict[str, tuple[type, ...]] = {
    "username": (str,), "password": (str,), "api_key": (str,), "ca_certs": (str,),
    "client_cert": (str,), "client_key": (str,), "verify_certs": (bool,),
    "request_timeout": (int, float), "index_prefix": (str,), "index_period": (str,),
    "chunk_size": (int,), "max_retries": (int,), "initial_backoff": (int, float),
    "max_backoff": (int, float), "retention": (str,), "replicas": (str, int),
}
_ENV_ES = {
    "DATAMONITOR_ES_USERNAME": "username", "DATAMONITOR_ES_PASSWORD": "password",
    "DATAMONITOR_ES_API_KEY": "api_key", "DATAMONITOR_ES_CA_CERTS": "ca_certs",
    "DATAMONITOR_ES_CLIENT_CERT": "client_cert", "DATAMONITOR_ES_CLIENT_KEY": "client_key",
    "DATAMONITOR_ES_VERIFY_CERTS": "verify_certs", "DATAMONITOR_ES_INDEX_PREFIX": "index_prefix",
}


def _secrets_in(data: Mapping[str, Any]) -> list[str]:
    """The keys of a config file's content that hold secrets."""
    found = []
    es = data.get("elasticsearch")
    if isinstance(es, Mapping):
        found += [f"elasticsearch.{k}" for k in ("password", "api_key") if es.get(k)]
        for key in ("url", "hosts"):
            urls = es.get(key)
            for url in urls if isinstance(urls, list) else [urls]:
                if isinstance(url, str) and "@" in urlsplit(url if "://" in url else "http://" + url).netloc:
                    found.append(f"elasticsearch.{key} (credentials in the URL)")
    notifiers = data.get("notifiers")
    for i, notifier in enumerate(notifiers if isinstance(notifiers, list) else []):
        if isinstance(notifier, Mapping) and notifier.get("type") == "webhook" and notifier.get("url"):
            found.append(f"notifiers[{i}].url (a webhook URL is a credential)")
        if isinstance(notifier, Mapping) and notifier.get("headers"):
            found.append(f"notifiers[{i}].headers")
    return found


def _warn_if_exposed(path: Path, data: Mapping[str, Any]) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    secrets = _secrets_in(data)
    if secrets and mode & 0o044:
        log.warning("%s holds secrets (%s) and other users can read it (mode %s): run chmod 600 %s, or move "
                    "the secrets to the environment (DATAMONITOR_ES_PASSWORD, DATAMONITOR_ES_API_KEY)",
                    path, ", ".join(secrets), oct(mode & 0o777), path)


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's content: TOML, or YAML when it is named ``.yaml`` or ``.yml``."""
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            with path.open("rb") as fh:
                loaded = yaml.safe_load(fh)
            if loaded is None:
                return {}
            if not isinstance(loaded, dict):
                raise ConfigError(f"{path}: the top level must be a mapping")
            return loaded
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except ImportError:
        raise ConfigError(f"{path}: YAML needs PyYAML: pip install pyyaml") from None
    except Exception as exc:
        if type(exc).__module__.startswith("yaml"):
            raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
        raise


def _parse_bool(raw: str, where: str) -> bool:
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{where}: {raw!r} is not true or false")


def _es_from_table(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, val in table.items():
        if key in ("url", "hosts"):
            try:
                found = hosts_fields(val)
            except ConfigError as exc:
                raise ConfigError(f"{where}: key 'elasticsearch.{key}': {exc}") from None
            out["hosts"] = found.pop("hosts")
            for name, secret in found.items():
                out.setdefault(name, secret)
        elif key in _ES_TYPES:
            types = _ES_TYPES[key]
            if (isinstance(val, bool) and bool not in types) or not isinstance(val, types):
                names = " or ".join(t.__name__ for t in types)
                raise ConfigError(f"{where}: key 'elasticsearch.{key}' must be {names}, not {type(val).__name__}")
            out[key] = val
        else:
            raise ConfigError(f"{where}: unknown key 'elasticsearch.{key}'")
    return out


def _check_es(es: EsSettings, where: str) -> EsSettings:
    if es.index_period not in INDEX_PERIODS:
        raise ConfigError(f"{where}: key 'elasticsearch.index_period' must be one of {', '.join(INDEX_PERIODS)}")
    prefix = es.index_prefix
    if not prefix or prefix != prefix.lower() or any(c in prefix for c in ' "*\\<|,>/?#:') or prefix[0] in "-_+.":
        raise ConfigError(f"{where}: key 'elasticsearch.index_prefix' {prefix!r} is not a valid index name")
    from .templates import check_prefix  # here: templates imports this module

    try:
        check_prefix(prefix)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    replicas = str(es.replicas)
    low, dash, high = replicas.partition("-")
    if not (replicas.isdigit() or (dash and low.isdigit() and (high.isdigit() or high == "all"))):
        raise ConfigError(f"{where}: key 'elasticsearch.replicas' must be a number or a range such as '0-1' or "
                          f"'0-all', not {replicas!r}")
    for key in ("chunk_size",):
        if getattr(es, key) < 1:
            raise ConfigError(f"{where}: key 'elasticsearch.{key}' must be at least 1")
    for key in ("max_retries", "request_timeout", "initial_backoff", "max_backoff"):
        if getattr(es, key) < 0:
            raise ConfigError(f"{where}: key 'elasticsearch.{key}' must not be negative")
    if es.username and not es.password and not es.api_key:
        raise ConfigError(f"{where}: elasticsearch username {es.username!r} is set without a password")
    return es


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    home: str | Path | None = None,
    es_url: str | None = None,
    store_path: str | Path | None = None,
) -> Config:
    """Build a :class:`Config` from the file, the environment and explicit overrides.

    The file is ``path``, else ``$DATAMONITOR_CONFIG``, else ``<home>/datamonitor.toml``
    when it exists. Explicit arguments win over the environment, which wins over the file.
    """
    env = os.environ if env is None else env
    home_path = Path(home).expanduser() if home is not None else default_home(env)
    source: Path | None = None
    if path is not None:
        source = Path(path).expanduser()
    elif env.get("DATAMONITOR_CONFIG"):
        source = Path(env["DATAMONITOR_CONFIG"]).expanduser()
    elif (home_path / "datamonitor.toml").is_file():
        source = home_path / "datamonitor.toml"

    es_fields: dict[str, Any] = {}
    store: Path | None = None
    store_bounds: dict[str, Any] = {}
    if source is not None:
        where = str(source)
        data = read_config_file(source)
        _warn_if_exposed(source, data)  # here, once per start: the service reads the file again for its monitors
        for key, val in data.items():
            if key == "elasticsearch":
                if not isinstance(val, Mapping):
                    raise ConfigError(f"{where}: key 'elasticsearch' must be a table")
                es_fields.update(_es_from_table(val, where))
            elif key == "store":
                store_keys = {"path", "max_size", "when_full"}
                if not isinstance(val, Mapping) or set(val) - store_keys:
                    extra = sorted(set(val) - store_keys) if isinstance(val, Mapping) else []
                    raise ConfigError(f"{where}: key 'store' takes only path, max_size and when_full"
                                      + (f", not {extra}" if extra else ""))
                if "path" in val:
                    if not isinstance(val["path"], str):
                        raise ConfigError(f"{where}: key 'store.path' must be str")
                    store = Path(val["path"]).expanduser()
                if "max_size" in val:
                    store_bounds["max_size"] = parse_size(val["max_size"], f"{where}: key 'store.max_size'")
                if "when_full" in val:
                    if val["when_full"] not in WHEN_FULL:
                        raise ConfigError(f"{where}: key 'store.when_full' must be one of {', '.join(WHEN_FULL)}")
                    store_bounds["when_full"] = val["when_full"]
            elif key in ("monitors", "thresholds", "notifiers"):
                continue  # the service's sections: checked by datamonitor.service.load_service
            elif key == "home":
                if not isinstance(val, str):
                    raise ConfigError(f"{where}: key 'home' must be str")
                if home is None and not env.get("DATAMONITOR_HOME"):
                    home_path = Path(val).expanduser()
            else:
                raise ConfigError(f"{where}: unknown key '{key}'")

    if env.get("DATAMONITOR_ES_URL"):
        es_fields.update(hosts_fields(env["DATAMONITOR_ES_URL"]))
    for var, key in _ENV_ES.items():
        if env.get(var):
            es_fields[key] = _parse_bool(env[var], var) if key == "verify_certs" else env[var]
    if env.get("DATAMONITOR_STORE"):
        store = Path(env["DATAMONITOR_STORE"]).expanduser()
    if env.get("DATAMONITOR_STORE_MAX_SIZE"):
        store_bounds["max_size"] = parse_size(env["DATAMONITOR_STORE_MAX_SIZE"], "DATAMONITOR_STORE_MAX_SIZE")

    if es_url is not None:
        es_fields.update(hosts_fields(es_url))
    if store_path is not None:
        store = Path(store_path).expanduser()
    es = _check_es(EsSettings(**es_fields), str(source) if source else "configuration")
    return Config(home=home_path, store_path=store, es=es, source=source,
                  store_max_size=store_bounds.get("max_size"), store_when_full=store_bounds.get("when_full", "pause"))


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def parse_size(raw: object, where: str) -> int:
    """Bytes from an int or a text such as ``"500MB"`` or ``"10 GiB"`` (Metricbeat's spelling)."""
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ConfigError(f"{where}: must be a number of bytes or a text such as '500MB', not {type(raw).__name__}")
    if isinstance(raw, int):
        number, unit = float(raw), ""
    else:
        text = raw.strip().lower()
        digits = text.rstrip("abcdefghijklmnopqrstuvwxyz ")
        unit = text[len(digits):].strip()
        try:
            number = float(digits)
        except ValueError:
            raise ConfigError(f"{where}: {raw!r} is not a size such as '500MB'") from None
        if unit not in _UNITS:
            raise ConfigError(f"{where}: unknown unit {unit!r} (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)")
    size = int(number * _UNITS[unit])
    if size < 1:
        raise ConfigError(f"{where}: must be positive")
    return size


_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(raw: object, where: str, *, allow_zero: bool = False) -> float:
    """Seconds from a number or a text such as ``"30s"``, ``"5m"``, ``"1.5h"``, ``"7d"`` (a bare number is seconds).

    The units are Metricbeat's and Telegraf's (``ms``, ``s``, ``m``, ``h``) plus ``d`` and ``w``.
    Zero is refused unless ``allow_zero``: an interval of 0 would spin.
    """
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ConfigError(f"{where}: must be seconds or a text such as '30s', '5m', '1h', not {type(raw).__name__}")
    if isinstance(raw, str):
        text = raw.strip().lower()
        digits = text.rstrip("abcdefghijklmnopqrstuvwxyz ")
        unit = text[len(digits):].strip() or "s"
        if unit not in _DURATION_UNITS:
            raise ConfigError(f"{where}: unknown unit {unit!r} in {raw!r} (use ms, s, m, h, d or w)")
        try:
            seconds = float(digits) * _DURATION_UNITS[unit]
        except ValueError:
            raise ConfigError(f"{where}: {raw!r} is not a duration such as '30s', '5m' or '1h'") from None
    else:
        seconds = float(raw)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ConfigError(f"{where}: {raw!r} is not a finite duration")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(f"{where}: must be positive, not {raw!r}")
    return seconds
