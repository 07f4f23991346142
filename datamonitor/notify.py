"""Notifiers and thresholds: tell people when a KPI crosses a line, once per crossing.

A :class:`Threshold` watches one KPI (and optionally one subject). It fires
when the value crosses its limit and again when the value comes back past the
limit by the hysteresis margin. A value that stays over the limit fires
nothing more. Every firing becomes a ``notification`` KPI record, so Kibana
and the report can show it, and is handed to each notifier. A notifier that
fails is logged and the others still run.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any, Protocol
from urllib import error, request

from .errors import ConfigError, UnknownKey
from .records import KpiRecord
from .validation import REQUIRED, option, read_fields, secret_keys

__all__ = ["NOTIFIERS", "EmailNotifier", "LogNotifier", "Notifier", "Threshold", "ThresholdSet", "WebhookNotifier",
           "check_notifier", "human", "make_notifier", "notifier_secrets", "send_all"]

log = logging.getLogger(__name__)
DATASET = "datamonitor.notify"


class Notifier(Protocol):
    """A plug-in point: anything that can deliver a title and a message."""

    def notify(self, title: str, message: str) -> None:
        """Deliver one notification; raise on failure (the caller logs it and goes on)."""
        ...


@dataclass
class LogNotifier:
    """Notifications as WARNING log lines (stderr in the command line); it takes no options."""

    logger: logging.Logger | None = field(default=None, repr=False)

    def notify(self, title: str, message: str) -> None:
        (self.logger or logging.getLogger("datamonitor.notifications")).warning("%s: %s", title, message)

    def problems(self, env: Mapping[str, str]) -> list[str]:
        return []


def _addresses(value: object, key: str) -> list[str]:
    """``to``: one address, or a list of them."""
    return [value] if isinstance(value, str) else list(value)  # type: ignore[call-overload]


@dataclass
class EmailNotifier:
    """E-mail over SMTP, with STARTTLS when asked; the password comes from the environment."""

    host: str = option(REQUIRED, types=(str,))
    to: Sequence[str] = option(REQUIRED, types=(list, str), items=str, parse=_addresses)
    sender: str = option("datamonitor@localhost", types=(str,))
    port: int = option(25, types=(int,))
    starttls: bool = option(False, types=(bool,))
    username: str | None = option(None, types=(str,))
    password_env: str = option("DATAMONITOR_SMTP_PASSWORD", types=(str,))
    timeout: float = option(10.0, types=(int, float))

    def notify(self, title: str, message: str) -> None:
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = title, self.sender, ", ".join(self.to)
        msg.set_content(message)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, os.environ.get(self.password_env, ""))
            smtp.send_message(msg)

    def __repr__(self) -> str:
        return f"EmailNotifier(host={self.host!r}, port={self.port}, to={list(self.to)!r})"

    def problems(self, env: Mapping[str, str]) -> list[str]:
        """What would keep it from delivering, found without sending anything."""
        problems = []
        if not self.host:
            problems.append("email: host is empty")
        if not self.to:
            problems.append("email: 'to' names nobody")
        if self.username and not env.get(self.password_env):
            problems.append(f"email: username {self.username!r} is set but ${self.password_env} is empty")
        return problems


@dataclass
class WebhookNotifier:
    """An HTTP POST of a JSON body; ``text`` makes it work with Slack-style incoming webhooks."""

    url: str = option(REQUIRED, types=(str,), secret="a webhook URL is a credential")
    timeout: float = option(10.0, types=(int, float))
    headers: dict[str, str] = option({}, types=(dict,), items=str, secret=True)

    def __repr__(self) -> str:
        # a Slack-style URL holds its token in the path, and headers may hold one: show the host only
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        return f"WebhookNotifier(url='{parts.scheme}://{parts.hostname}/***', timeout={self.timeout})"

    def notify(self, title: str, message: str) -> None:
        body = json.dumps({"text": f"{title}\n{message}", "title": title, "message": message}).encode()
        req = request.Request(self.url, data=body, method="POST",
                              headers={"Content-Type": "application/json", **self.headers})
        try:
            with request.urlopen(req, timeout=self.timeout) as resp:
                resp.read()
        except error.HTTPError as exc:
            raise OSError(f"webhook answered {exc.code}") from None

    def problems(self, env: Mapping[str, str]) -> list[str]:
        """What would keep it from delivering, found without sending anything."""
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return [f"webhook: url {parts.scheme}://{parts.hostname or ''}/... is not an http(s) URL"]
        return []


#: Every notifier by the name a config file gives it; each class's option() fields are its keys.
NOTIFIERS: dict[str, type[Any]] = {"log": LogNotifier, "email": EmailNotifier, "webhook": WebhookNotifier}


def make_notifier(kind: str, **options: Any) -> Notifier:
    """A notifier by name: ``log``, ``email`` or ``webhook``, with its options."""
    if not isinstance(kind, str) or kind not in NOTIFIERS:
        raise ConfigError(f"notifier {kind!r} is not one of {', '.join(NOTIFIERS)}")
    try:
        fields = read_fields(NOTIFIERS[kind], options)
    except UnknownKey as exc:
        raise ConfigError(f"notifier {kind!r}: {exc.key}: {exc.reason}") from None
    except ConfigError as exc:
        raise ConfigError(f"notifier {kind!r}: {exc.key} {exc.reason}") from None
    notifier: Notifier = NOTIFIERS[kind](**fields)
    return notifier


def notifier_secrets(entry: object) -> list[str]:
    """The keys of a ``[[notifiers]]`` entry that hold secrets, each with why where its model says."""
    if not isinstance(entry, Mapping):
        return []
    kind = entry.get("type")
    return secret_keys(NOTIFIERS[kind], entry) if isinstance(kind, str) and kind in NOTIFIERS else []


def check_notifier(notifier: Notifier, env: Mapping[str, str] | None = None) -> list[str]:
    """What would keep a notifier from delivering, found without sending anything: one line each."""
    check = getattr(notifier, "problems", None)
    return list(check(os.environ if env is None else env)) if check is not None else []


def send_all(notifiers: Iterable[Notifier], title: str, message: str) -> int:
    """Hand a notification to every notifier; returns how many delivered it. Failures are logged, never raised."""
    delivered = 0
    for notifier in notifiers:
        try:
            notifier.notify(title, message)
            delivered += 1
        except Exception as exc:  # noqa: BLE001 - a broken notifier must never stop the monitor
            log.error("notifier %r failed: %s", notifier, exc)
    return delivered


@dataclass(frozen=True)
class Threshold:
    """A line on one KPI: ``above`` or ``below`` a limit, cleared only past ``hysteresis``."""

    kpi: str = option(REQUIRED, types=(str,))
    above: float | None = option(None, types=(int, float))
    below: float | None = option(None, types=(int, float))
    hysteresis: float = option(0.0, types=(int, float))
    subject: str | None = option(None, types=(str,))

    def __post_init__(self) -> None:
        if not self.kpi:
            raise ConfigError("threshold: kpi is required", reason="required", key="kpi")
        if (self.above is None) == (self.below is None):
            raise ConfigError(f"threshold on {self.kpi!r}: give exactly one of above or below")
        if self.hysteresis < 0:
            raise ConfigError(f"threshold on {self.kpi!r}: hysteresis must not be negative")

    def matches(self, record: KpiRecord) -> bool:
        return record.name == self.kpi and record.value is not None and (
            self.subject is None or record.subject == self.subject)

    def breached(self, value: float, active: bool) -> bool:
        """Whether the line is crossed, given whether it was crossed at the last look."""
        if self.above is not None:
            return value > self.above - (self.hysteresis if active else 0.0)
        assert self.below is not None
        return value < self.below + (self.hysteresis if active else 0.0)

    @property
    def limit(self) -> float:
        return self.above if self.above is not None else self.below  # type: ignore[return-value]

    def describe(self, unit: str | None = None) -> str:
        """``above 90%``, ``below 100,000 GiB``: the limit in the KPI's unit, for people."""
        return f"{'above' if self.above is not None else 'below'} {human(self.limit, unit, like=self.limit)}"

    def key(self, subject: str | None) -> str:
        """What identifies this line and one subject across runs (the threshold state kept in the store)."""
        side = f">{self.above!r}" if self.above is not None else f"<{self.below!r}"
        return f"{self.kpi}{side}|{self.subject or '*'}|{subject or ''}"


_BINARY = (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


def _byte_unit(like: float) -> tuple[str, int]:
    """The unit to show a byte count in: the largest that divides ``like`` exactly, else the largest below it."""
    if like and float(like).is_integer():
        for name, size in _BINARY:
            if abs(like) >= size and int(like) % size == 0:
                return name, size
    for name, size in _BINARY:
        if abs(like) >= size:
            return name, size
    return "bytes", 1


def human(value: float, unit: str | None, *, like: float | None = None) -> str:
    """A value as people read it: ``71.8 GiB``, ``93.4%``, ``12,345 rows``.

    Bytes are shown in the binary unit that suits ``like`` (the threshold), so a
    value and its limit share one unit; other units follow the number.
    """
    if unit == "bytes":
        name, size = _byte_unit(value if like is None else like)
        shown = value / size
        return f"{shown:,.0f} {name}" if shown.is_integer() or size == 1 else f"{shown:,.1f} {name}"
    if unit == "percent":
        return f"{value:,.4g}%"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    number = f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"
    return f"{number} {unit}" if unit else number


class _State(Protocol):
    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


class ThresholdSet:
    """Thresholds with their state, turning measurements into notification records.

    :param state: where the state lives between runs (``get``/``set``, e.g. the
        store's meta table), so a one-shot run from cron keeps the hysteresis of
        the last one and does not alert again on a line it already reported.
    """

    def __init__(self, thresholds: Iterable[Threshold] = (), *, state: _State | None = None) -> None:
        self.thresholds = list(thresholds)
        self._state = state
        self._active: dict[tuple[int, str | None], bool] = {}

    def _was_active(self, i: int, th: Threshold, subject: str | None) -> bool:
        key = (i, subject)
        if key not in self._active:
            self._active[key] = bool(self._state.get(th.key(subject))) if self._state is not None else False
        return self._active[key]

    def check(self, records: Iterable[KpiRecord]) -> list[KpiRecord]:
        """The notifications the records cause: one per crossing, in either direction."""
        out = []
        for record in records:
            for i, th in enumerate(self.thresholds):
                if not th.matches(record):
                    continue
                active = self._was_active(i, th, record.subject)
                value = float(record.value)  # type: ignore[arg-type]  # matches() checked it
                now = th.breached(value, active)
                if now == active:
                    continue
                self._active[(i, record.subject)] = now
                if self._state is not None:
                    self._state.set(th.key(record.subject), now)
                state = "alert" if now else "ok"
                where = f" on {record.subject}" if record.subject else ""
                limit = th.describe(record.unit)
                title = f"{'ALERT' if now else 'OK'}: {th.kpi}{where} {'is ' + limit if now else 'is back'}"
                shown = human(record.value, record.unit, like=th.limit)  # type: ignore[arg-type]
                detail = f"{th.kpi}{where} is {shown}, {limit if now else 'back past ' + limit}"
                out.append(KpiRecord(
                    name="notification", value=value, unit=record.unit, subject=f"{th.kpi}{where}",
                    text=title, message=detail, dataset=DATASET,
                    timestamp=max(record.timestamp, datetime.now(timezone.utc)),
                    labels={"kpi": th.kpi, "state": state},
                ))
        return out
