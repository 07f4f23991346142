"""Elasticsearch host specs: a URL, several comma-separated, a table or a list, made into credential-free URLs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from .errors import ConfigError

__all__ = ["hosts_fields", "normalize_hosts"]


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
    try:
        parts = urlsplit(text)
    except ValueError:  # "http://[::1": an IPv6 address without its closing bracket
        raise ConfigError(f"elasticsearch host: {_strip_userinfo(text)!r} is not a URL") from None
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
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL urllib can split: credentials cut by hand, up to the last "@"
        scheme, sep, rest = url.partition("://")
        return f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}" if "@" in rest else url
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, ""))
