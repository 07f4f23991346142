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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any, Protocol
from urllib import error, request

from .errors import ConfigError
from .records import KpiRecord

__all__ = ["EmailNotifier", "LogNotifier", "Notifier", "Threshold", "ThresholdSet", "WebhookNotifier",
           "make_notifier", "send_all"]

log = logging.getLogger(__name__)
DATASET = "datamonitor.notify"


class Notifier(Protocol):
    """A plug-in point: anything that can deliver a title and a message."""

    def notify(self, title: str, message: str) -> None:
        """Deliver one notification; raise on failure (the caller logs it and goes on)."""
        ...


class LogNotifier:
    """Notifications as WARNING log lines (stderr in the command line)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger("datamonitor.notifications")

    def notify(self, title: str, message: str) -> None:
        self._log.warning("%s: %s", title, message)


@dataclass
class EmailNotifier:
    """E-mail over SMTP, with STARTTLS when asked; the password comes from the environment."""

    host: str
    to: Sequence[str]
    sender: str = "datamonitor@localhost"
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password_env: str = "DATAMONITOR_SMTP_PASSWORD"
    timeout: float = 10.0

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


@dataclass
class WebhookNotifier:
    """An HTTP POST of a JSON body; ``text`` makes it work with Slack-style incoming webhooks."""

    url: str = field(repr=False)
    timeout: float = 10.0
    headers: dict[str, str] = field(default_factory=dict, repr=False)

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


_OPTION_TYPES: dict[str, dict[str, tuple[type, ...]]] = {
    "log": {},
    "email": {"host": (str,), "to": (list,), "sender": (str,), "port": (int,), "starttls": (bool,),
              "username": (str,), "password_env": (str,), "timeout": (int, float)},
    "webhook": {"url": (str,), "timeout": (int, float), "headers": (dict,)},
}


def make_notifier(kind: str, **options: Any) -> Notifier:
    """A notifier by name: ``log``, ``email`` or ``webhook``, with its options."""
    kinds: dict[str, Any] = {"log": LogNotifier, "email": EmailNotifier, "webhook": WebhookNotifier}
    if not isinstance(kind, str) or kind not in kinds:
        raise ConfigError(f"notifier {kind!r} is not one of {', '.join(kinds)}")
    if kind == "email" and isinstance(options.get("to"), str):
        options["to"] = [options["to"]]
    for key, value in options.items():
        types = _OPTION_TYPES[kind].get(key)
        if types is None:
            continue  # an unknown option: the constructor names it below
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types) or (
                isinstance(value, (list, dict)) and not all(isinstance(v, str) for v in
                                                            (value.values() if isinstance(value, dict) else value))):
            names = " or ".join("list of str" if t is list else "table of str" if t is dict else t.__name__
                                for t in types)
            raise ConfigError(f"notifier {kind!r}: {key} must be {names}, not {type(value).__name__}")
    try:
        notifier: Notifier = kinds[kind](**options)
    except TypeError as exc:
        raise ConfigError(f"notifier {kind!r}: {exc}") from None
    return notifier


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

    kpi: str
    above: float | None = None
    below: float | None = None
    hysteresis: float = 0.0
    subject: str | None = None

    def __post_init__(self) -> None:
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

    def describe(self) -> str:
        return f"above {self.above:g}" if self.above is not None else f"below {self.below:g}"


class ThresholdSet:
    """Thresholds with their state, turning measurements into notification records."""

    def __init__(self, thresholds: Iterable[Threshold] = ()) -> None:
        self.thresholds = list(thresholds)
        self._active: set[tuple[int, str | None]] = set()

    def check(self, records: Iterable[KpiRecord]) -> list[KpiRecord]:
        """The notifications the records cause: one per crossing, in either direction."""
        out = []
        for record in records:
            for i, th in enumerate(self.thresholds):
                if not th.matches(record):
                    continue
                key = (i, record.subject)
                active = key in self._active
                value = float(record.value)  # type: ignore[arg-type]  # matches() checked it
                now = th.breached(value, active)
                if now == active:
                    continue
                if now:
                    self._active.add(key)
                else:
                    self._active.discard(key)
                state = "alert" if now else "ok"
                where = f" on {record.subject}" if record.subject else ""
                title = f"{'ALERT' if now else 'OK'}: {th.kpi}{where} {'is ' + th.describe() if now else 'is back'}"
                detail = f"{th.kpi}{where} is {value:g} {record.unit or ''}".rstrip() + f" (threshold: {th.describe()})"
                out.append(KpiRecord(
                    name="notification", value=value, unit=record.unit, subject=f"{th.kpi}{where}",
                    text=title, message=detail, dataset=DATASET,
                    timestamp=max(record.timestamp, datetime.now(timezone.utc)),
                    labels={"kpi": th.kpi, "state": state},
                ))
        return out
