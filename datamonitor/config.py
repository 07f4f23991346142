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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import ConfigError, UnknownKey
from .hosts import hosts_fields, normalize_hosts
from .validation import option, parse_duration, parse_size, read_fields, secret_keys

if TYPE_CHECKING:
    from .baseline import BaselineSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ["WHEN_FULL", "Config", "EsSettings", "StoreSettings", "default_home", "hosts_fields", "load_config",
           "normalize_hosts", "parse_duration", "parse_size", "read_config_file"]

log = logging.getLogger(__name__)

ENV_PREFIX = "DATAMONITOR_"
INDEX_PERIODS = ("month", "day", "none")
#: what a bounded store does when full: pause collection, or drop the oldest undelivered documents
WHEN_FULL = ("pause", "drop_oldest")
_REDACTED = "***"


@dataclass(frozen=True)
class EsSettings:
    """How to reach Elasticsearch and where documents go there."""

    hosts: tuple[str, ...] = ()  # from the url or hosts key: normalize_hosts
    username: str | None = option(None, types=(str,))
    password: str | None = option(None, types=(str,), secret=True)
    api_key: str | None = option(None, types=(str,), secret=True)
    ca_certs: str | None = option(None, types=(str,))
    client_cert: str | None = option(None, types=(str,))
    client_key: str | None = option(None, types=(str,))
    verify_certs: bool = option(True, types=(bool,))
    request_timeout: float = option(10.0, types=(int, float))
    index_prefix: str = option("dm-kpi", types=(str,))
    index_period: str = option("month", types=(str,), choices=INDEX_PERIODS)
    chunk_size: int = option(500, types=(int,))
    max_retries: int = option(5, types=(int,))
    initial_backoff: float = option(1.0, types=(int, float))
    max_backoff: float = option(60.0, types=(int, float))
    retention: str = option("400d", types=(str,))
    #: replicas of each KPI index: a range for ``auto_expand_replicas`` ("0-1": none on a single node, so it
    #: stays green, one where there are two nodes), or a number for ``number_of_replicas``
    replicas: str | int = option("0-1", types=(str, int))

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
class StoreSettings:
    """The ``[store]`` table: where the store lives, and how much undelivered data it holds."""

    path: str | None = option(None, types=(str,))
    #: bytes, or a text such as "500MB" (parse_size)
    max_size: int | str | None = option(None, types=(int, str))
    when_full: str = option("pause", types=(str,), choices=WHEN_FULL)


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
    #: the ``[baseline]`` table: how baselines are learned (None: the defaults of BaselineSettings)
    baseline: BaselineSettings | None = None

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


# ----------------------------------------------------------------- loading

_ENV_ES = {
    "DATAMONITOR_ES_USERNAME": "username", "DATAMONITOR_ES_PASSWORD": "password",
    "DATAMONITOR_ES_API_KEY": "api_key", "DATAMONITOR_ES_CA_CERTS": "ca_certs",
    "DATAMONITOR_ES_CLIENT_CERT": "client_cert", "DATAMONITOR_ES_CLIENT_KEY": "client_key",
    "DATAMONITOR_ES_VERIFY_CERTS": "verify_certs", "DATAMONITOR_ES_INDEX_PREFIX": "index_prefix",
}


def _secrets_in(data: Mapping[str, Any]) -> list[str]:
    """The keys of a config file's content that hold secrets; each model names its own."""
    found = []
    es = data.get("elasticsearch")
    if isinstance(es, Mapping):
        found += [f"elasticsearch.{k}" for k in secret_keys(EsSettings, es)]
        for key in ("url", "hosts"):
            urls = es.get(key)
            if any(_has_credentials(url) for url in (urls if isinstance(urls, list) else [urls])):
                found.append(f"elasticsearch.{key} (credentials in the URL)")
    notifiers = data.get("notifiers")
    if isinstance(notifiers, list) and notifiers:
        from .notify import notifier_secrets  # here: only a file with notifiers needs them

        for i, notifier in enumerate(notifiers):
            found += [f"notifiers[{i}].{key}" for key in notifier_secrets(notifier)]
    return found


def _has_credentials(url: object) -> bool:
    """Whether a URL names a user (``https://user:pass@host``); a URL that cannot be split is
    reported by the settings' own check, not here."""
    if not isinstance(url, str):
        return False
    try:
        return "@" in urlsplit(url if "://" in url else "http://" + url).netloc
    except ValueError:
        return False


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
    if path.exists() and not path.is_file() and not path.is_dir():  # a FIFO would block the read for good
        raise ConfigError(f"{path}: the config file is not a regular file")
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
    except _yaml_errors() as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None


def _yaml_errors() -> tuple[type[BaseException], ...]:
    """PyYAML's error class when it is imported (a YAML file was read), else nothing to catch."""
    yaml = sys.modules.get("yaml")
    return (yaml.YAMLError,) if yaml is not None else ()


def _parse_bool(raw: str, where: str) -> bool:
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{where}: {raw!r} is not true or false")


def _es_from_table(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    hosts = {key: table[key] for key in ("url", "hosts") if key in table}
    for key, val in hosts.items():
        try:
            found = hosts_fields(val)
        except ConfigError as exc:
            raise ConfigError(f"{where}: key 'elasticsearch.{key}': {exc}") from None
        out["hosts"] = found.pop("hosts")
        for name, secret in found.items():
            out.setdefault(name, secret)
    try:
        fields = read_fields(EsSettings, table, ignore=hosts)
    except UnknownKey as exc:
        hint = f" (did you mean {exc.suggestion}?)" if exc.suggestion else ""
        raise ConfigError(f"{where}: unknown key 'elasticsearch.{exc.key}'{hint}") from None
    except ConfigError as exc:
        raise ConfigError(f"{where}: key 'elasticsearch.{exc.key}' {exc.reason}") from None
    return {**fields, **{k: v for k, v in out.items() if k not in fields}}


def _store_from_table(table: object, where: str) -> dict[str, Any]:
    """The [store] table as Config's fields: store_path, store_max_size, store_when_full."""
    try:
        fields = read_fields(StoreSettings, table)
    except UnknownKey:
        extra = sorted(set(table) - set(StoreSettings.__dataclass_fields__)) if isinstance(table, Mapping) else []
        raise ConfigError(f"{where}: key 'store' takes only path, max_size and when_full, not {extra}") from None
    except ConfigError as exc:
        if exc.key is None:
            raise ConfigError(f"{where}: key 'store' takes only path, max_size and when_full") from None
        raise ConfigError(f"{where}: key 'store.{exc.key}' {exc.reason}") from None
    out: dict[str, Any] = {}
    if "path" in fields:
        out["store_path"] = Path(fields["path"]).expanduser()
    if "max_size" in fields:
        out["store_max_size"] = parse_size(fields["max_size"], f"{where}: key 'store.max_size'")
    if "when_full" in fields:
        out["store_when_full"] = fields["when_full"]
    return out


def _check_es(es: EsSettings, where: str) -> EsSettings:
    """What no single key says: the prefix is an index name, the replicas a range, the numbers in range."""
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

    fields: dict[str, Any] = {"home": home_path, "es": {}}
    if source is not None:
        fields.update(_from_file(source, home_given=home is not None or bool(env.get("DATAMONITOR_HOME")),
                                 es=fields["es"]))
    _from_env(env, fields)
    if es_url is not None:
        fields["es"].update(hosts_fields(es_url))
    if store_path is not None:
        fields["store_path"] = Path(store_path).expanduser()
    fields["es"] = _check_es(EsSettings(**fields["es"]), str(source) if source else "configuration")
    return Config(source=source, **fields)


def _from_file(source: Path, *, home_given: bool, es: dict[str, Any]) -> dict[str, Any]:
    """Config's fields that the file sets (the elasticsearch ones into ``es``)."""
    where = str(source)
    data = read_config_file(source)
    _warn_if_exposed(source, data)  # here, once per start: the service reads the file again for its monitors
    out: dict[str, Any] = {}
    for key, val in data.items():
        if key == "elasticsearch":
            if not isinstance(val, Mapping):
                raise ConfigError(f"{where}: key 'elasticsearch' must be a table")
            es.update(_es_from_table(val, where))
        elif key == "store":
            out.update(_store_from_table(val, where))
        elif key == "baseline":
            if not isinstance(val, Mapping):
                raise ConfigError(f"{where}: key 'baseline' must be a table")
            from .baseline import BaselineSettings  # here: numpy is imported only by a file that has the table

            out["baseline"] = BaselineSettings.from_mapping(val, f"{where}: [baseline]")
        elif key in ("monitors", "thresholds", "notifiers"):
            continue  # the service's sections: checked by datamonitor.service.load_service
        elif key == "home":
            if not isinstance(val, str):
                raise ConfigError(f"{where}: key 'home' must be str")
            if not home_given:
                out["home"] = Path(val).expanduser()
        else:
            raise ConfigError(f"{where}: unknown key '{key}'")
    return out


def _from_env(env: Mapping[str, str], fields: dict[str, Any]) -> None:
    """The environment's settings, over the file's."""
    if env.get("DATAMONITOR_ES_URL"):
        fields["es"].update(hosts_fields(env["DATAMONITOR_ES_URL"]))
    for var, key in _ENV_ES.items():
        if env.get(var):
            fields["es"][key] = _parse_bool(env[var], var) if key == "verify_certs" else env[var]
    if env.get("DATAMONITOR_STORE"):
        fields["store_path"] = Path(env["DATAMONITOR_STORE"]).expanduser()
    if env.get("DATAMONITOR_STORE_MAX_SIZE"):
        fields["store_max_size"] = parse_size(env["DATAMONITOR_STORE_MAX_SIZE"], "DATAMONITOR_STORE_MAX_SIZE")
