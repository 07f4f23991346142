"""Kibana saved objects for the KPI indices (a data view, Lens charts and tables, a dashboard) and their import.

The objects are built in :mod:`datamonitor.kibanaobjects` (importable from here too);
``resources/kibana-objects.ndjson`` is their rendering for the default prefix. Import goes
through Kibana's saved-objects API with ``overwrite=true`` and fixed ids, so running it
again replaces rather than duplicates.

Kibana refuses a document that declares a migration version newer than its own
last migration for the type ("Document ... belongs to a more recent version of
Kibana [8.9.0] when the last known version is [...]", Kibana's
``core-saved-objects-migration-server-internal`` document migrator). The Lens and
dashboard objects here are written in the 8.9.0 form (and Lens' ``formBased``
layers exist only from 8.6), so :func:`import_objects` reads Kibana's version
from ``GET /api/status`` first and refuses anything before :data:`MIN_KIBANA`
with one clear line.
"""

from __future__ import annotations

import base64
import json
import ssl
import uuid
from dataclasses import dataclass
from typing import Any
from urllib import error, request
from urllib.parse import quote, urlsplit

from .config import EsSettings
from .errors import ClusterUnreachable, ConfigError, RequestRejected
from .kibanaobjects import ANOMALY_COLUMNS, CHARTS, MIN_KIBANA, objects, to_ndjson

__all__ = ["ANOMALY_COLUMNS", "CHARTS", "MIN_KIBANA", "KibanaTarget", "auth_headers", "import_objects", "kibana_version",
           "objects", "to_ndjson"]


@dataclass(frozen=True)
class KibanaTarget:
    """Where Kibana is and how to log in; the credentials are the Elasticsearch ones."""

    url: str
    #: the space's id, as in Kibana's ``/s/<id>/`` URLs (not its display name); None: the default space
    space: str | None = None

    def base(self) -> str:
        """Kibana's base URL, without credentials."""
        try:
            parts = urlsplit(self.url if "://" in self.url else "http://" + self.url)
            _ = parts.port  # raises for a port past 65535
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:  # "http://[::1" (no closing bracket), a port past 65535
            ok = False
        if not ok:
            raise ConfigError(f"--kibana {self.url!r} is not an http(s) URL with a valid host and port")
        return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path.rstrip('/')}"

    def endpoint(self) -> str:
        space = f"/s/{quote(self.space, safe='')}" if self.space and self.space != "default" else ""
        return f"{self.base()}{space}/api/saved_objects/_import?overwrite=true"


def _multipart(ndjson: str) -> tuple[bytes, str]:
    boundary = "datamonitor-" + uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"datamonitor.ndjson\"\r\n"
            f"Content-Type: application/ndjson\r\n\r\n{ndjson}\r\n--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _ssl_context(settings: EsSettings) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=settings.ca_certs)
    if settings.client_cert:
        ctx.load_cert_chain(settings.client_cert, settings.client_key)
    if not settings.verify_certs:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def auth_headers(settings: EsSettings) -> dict[str, str]:
    """The Authorization header for Kibana, from the Elasticsearch credentials (none without them)."""
    if settings.api_key:
        return {"Authorization": f"ApiKey {settings.api_key}"}
    if settings.username:
        token = base64.b64encode(f"{settings.username}:{settings.password or ''}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return {}


def _headers(settings: EsSettings) -> dict[str, str]:
    return {"kbn-xsrf": "datamonitor", **auth_headers(settings)}


def _call(req: request.Request, settings: EsSettings, shown: str, timeout: float) -> Any:
    """Send one request to Kibana; its JSON answer, or our error with one clear line."""
    try:
        ctx = _ssl_context(settings) if req.full_url.startswith("https:") else None
        with request.urlopen(req, timeout=timeout, context=ctx) as resp:
            text = resp.read().decode("utf-8")
    except error.HTTPError as exc:
        detail = " ".join(exc.read().decode("utf-8", "replace").split())[:300]  # one line
        if exc.code == 401:
            raise RequestRejected(f"Kibana at {shown} rejected the credentials (401)") from None
        raise RequestRejected(f"Kibana at {shown} answered {exc.code}: {detail}") from None
    except (error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ClusterUnreachable(f"cannot reach Kibana at {shown}: {reason}") from None
    try:
        return json.loads(text or "{}")
    except json.JSONDecodeError:
        raise RequestRejected(f"Kibana at {shown} answered something that is not JSON: {text[:80]!r}") from None


def kibana_version(target: KibanaTarget, settings: EsSettings, timeout: float = 30.0) -> tuple[int, ...]:
    """Kibana's version, from ``GET /api/status`` (``version.number``), as a tuple such as ``(8, 19, 0)``."""
    shown = target.base()
    req = request.Request(f"{shown}/api/status", headers=_headers(settings), method="GET")
    answer = _call(req, settings, shown, timeout)
    number = (answer.get("version") or {}).get("number") if isinstance(answer, dict) else None
    try:
        return tuple(int(part) for part in str(number).split("-")[0].split("."))
    except ValueError:
        raise RequestRejected(f"Kibana at {shown}: /api/status names no version (is it Kibana, and may this user "
                              "read its status?)") from None


def _describe_failure(err: dict[str, Any], titles: dict[str, str]) -> str:
    """One rejected object: its type and title, Kibana's error type, its message, the references it misses."""
    detail = err.get("error") or {}
    text = f"{err.get('type')} {titles.get(err.get('id', ''), err.get('id'))!r}: {detail.get('type', 'error')}"
    if detail.get("message"):
        text += f" ({detail['message']})"
    missing = detail.get("references") or []
    if missing:
        text += " missing " + ", ".join(f"{r.get('type')} {r.get('id')}" for r in missing)
    return text


def import_objects(target: KibanaTarget, settings: EsSettings, objs: list[dict[str, Any]] | None = None,
                   timeout: float = 30.0) -> dict[str, Any]:
    """POST the objects to Kibana's import API; returns its answer. Every rejected object is named in the error.

    Kibana before :data:`MIN_KIBANA` is refused before anything is sent.
    """
    objs = objs if objs is not None else objects(settings)
    shown = target.base()
    version = kibana_version(target, settings, timeout)
    if version < MIN_KIBANA:
        need = ".".join(map(str, MIN_KIBANA))
        raise RequestRejected(f"Kibana at {shown} is {'.'.join(map(str, version))}; the dashboard needs Kibana {need} "
                              "or later (its Lens and dashboard objects are in the 8.9 form)")
    body, content_type = _multipart(to_ndjson(objs))
    req = request.Request(target.endpoint(), data=body, headers={**_headers(settings), "Content-Type": content_type},
                          method="POST")
    answer = _call(req, settings, shown, timeout)
    if not isinstance(answer, dict):
        raise RequestRejected(f"Kibana at {shown} answered the import with {type(answer).__name__}, not an object")
    if not answer.get("success", False):
        titles = {o["id"]: o["attributes"].get("title", o["id"]) for o in objs}
        failed = [_describe_failure(e, titles) for e in answer.get("errors", [])]
        raise RequestRejected(f"Kibana at {shown} rejected {len(failed)} object(s): {'; '.join(failed) or answer}")
    result: dict[str, Any] = answer
    return result
