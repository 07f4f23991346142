"""The one validator of configuration: a model's dataclass fields say which keys it takes and what each holds.

A model (a monitor type, a notifier, a threshold, the cluster settings) declares
each configurable key with :func:`option`: the types it accepts, the type of a
list's items, a parser (durations such as ``"5m"``), the values allowed, whether
it is a secret. :func:`read_fields` checks a table of the config file against
those fields and returns the model's keyword arguments, or raises a
:class:`~datamonitor.errors.ConfigError` that names the key and the reason (and
the key meant, for a typo); each section says where in the file that is.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import ConfigError, UnknownKey

__all__ = ["REQUIRED", "option", "options_of", "parse_duration", "parse_size", "read_fields", "secret_keys",
           "type_problem"]

#: The default of an option that must be given.
REQUIRED: Any = dataclasses.MISSING
#: A duration: seconds, or a text with a unit ("30s", "5m", "1h"), read by :func:`parse_duration`.
DURATION = (int, float, str)


def option(default: Any = REQUIRED, *, types: tuple[type, ...], items: type | None = None,
           parse: Callable[[Any, str], Any] | None = None, choices: Iterable[str] | None = None,
           secret: bool | str = False) -> Any:
    """A dataclass field that is a config key: what it accepts, and its default (:data:`REQUIRED` for none).

    :param items: the type of a list's items, or a table's values.
    :param parse: turns the raw value into the field's value (``parse(value, key)``); raises ConfigError.
    :param secret: a secret (kept out of ``repr``); a text says why it is one, for the file-mode warning.
    """
    meta = {"types": types, "items": items, "parse": parse, "choices": tuple(choices or ()), "secret": secret}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta, repr=not secret)
    return dataclasses.field(default=default, metadata=meta, repr=not secret)


def options_of(model: type) -> dict[str, dataclasses.Field[Any]]:
    """The model's config keys: its fields declared with :func:`option`, in order."""
    if not dataclasses.is_dataclass(model):
        return {}
    return {f.name: f for f in dataclasses.fields(model) if "types" in f.metadata}


def _names(types: tuple[type, ...], items: type | None) -> str:
    def name(t: type) -> str:
        if items is not None and t is list:
            return f"list of {items.__name__}"
        if items is not None and t is dict:
            return f"table of {items.__name__}"
        return t.__name__
    return " or ".join(name(t) for t in types)


def type_problem(value: object, types: tuple[type, ...], items: type | None = None) -> str | None:
    """Why ``value`` is not one of ``types`` (``must be int, not bool``), or None when it is.

    A bool is an int to Python but not to a config file: it passes only where bool is named.
    """
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        return f"must be {_names(types, items)}, not {type(value).__name__}"
    if items is not None and isinstance(value, (list, dict)):
        inner = value.values() if isinstance(value, dict) else value
        bad = [v for v in inner if (isinstance(v, bool) and items is not bool) or not isinstance(v, items)]
        if bad:
            return f"must be {_names(types, items)}, not a {type(value).__name__} holding {type(bad[0]).__name__}"
    return None


def unknown_key(key: str, known: Iterable[str]) -> UnknownKey:
    """The error for a key the model does not take, with the closest known key."""
    names = sorted(known)
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return UnknownKey(f"unknown key ({hint}known: {', '.join(names)})", key=key, known=names,
                      suggestion=close[0] if close else None)


def check_value(model: type, key: str, value: object) -> Any:
    """One key of a table, checked against the model's field: its value as the model takes it."""
    spec = options_of(model).get(key)
    if spec is None:
        raise unknown_key(key, options_of(model))
    meta = spec.metadata
    problem = type_problem(value, meta["types"], meta["items"])
    if problem is not None:
        raise ConfigError(problem, key=key)
    if meta["choices"] and value not in meta["choices"]:
        raise ConfigError(f"must be one of {', '.join(meta['choices'])}", key=key)
    if meta["parse"] is not None:
        try:
            return meta["parse"](value, key)
        except ConfigError as exc:
            raise ConfigError(exc.reason, key=key) from None
    return value


def read_fields(model: type, table: object, *, ignore: Iterable[str] = ()) -> dict[str, Any]:
    """The keyword arguments of ``model`` from a table of the config file: every key known, typed and parsed,
    every required key present. The first problem is raised, naming its key."""
    if not isinstance(table, Mapping):
        raise ConfigError("must be a table")
    skip = set(ignore)
    out = {key: check_value(model, key, value) for key, value in table.items() if key not in skip}
    for name, spec in options_of(model).items():
        if name not in out and spec.default is REQUIRED and spec.default_factory is REQUIRED:
            raise ConfigError("required", key=name)
    return out


def secret_keys(model: type, table: Mapping[str, Any]) -> list[str]:
    """The keys of a table that hold secrets of the model and are set, each with why where the model says."""
    found = []
    for name, spec in options_of(model).items():
        why = spec.metadata["secret"]
        if why and table.get(name):
            found.append(f"{name} ({why})" if isinstance(why, str) else name)
    return found


# ------------------------------------------------------------------ parsers

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def _number_and_unit(text: str) -> tuple[str, str]:
    text = text.strip().lower()
    digits = text.rstrip("abcdefghijklmnopqrstuvwxyz ")
    return digits, text[len(digits):].strip()


def parse_size(raw: object, where: str) -> int:
    """Bytes from an int or a text such as ``"500MB"`` or ``"10 GiB"`` (Metricbeat's spelling)."""
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ConfigError.at(where, f"must be a number of bytes or a text such as '500MB', not {type(raw).__name__}")
    if isinstance(raw, int):
        number, unit = float(raw), ""
    else:
        digits, unit = _number_and_unit(raw)
        try:
            number = float(digits)
        except ValueError:
            raise ConfigError.at(where, f"{raw!r} is not a size such as '500MB'") from None
        if unit not in _UNITS:
            raise ConfigError.at(where, f"unknown unit {unit!r} (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)")
    size = int(number * _UNITS[unit])
    if size < 1:
        raise ConfigError.at(where, "must be positive")
    return size


_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


#: the longest duration taken: ten years
MAX_DURATION = 3650 * 86400.0


def parse_duration(raw: object, where: str, *, allow_zero: bool = False) -> float:
    """Seconds from a number or a text such as ``"30s"``, ``"5m"``, ``"1.5h"``, ``"7d"`` (a bare number is seconds).

    The units are Metricbeat's and Telegraf's (``ms``, ``s``, ``m``, ``h``) plus ``d`` and ``w``.
    Zero is refused unless ``allow_zero``: an interval of 0 would spin.
    """
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ConfigError.at(where, f"must be seconds or a text such as '30s', '5m', '1h', not {type(raw).__name__}")
    if isinstance(raw, str):
        digits, unit = _number_and_unit(raw)
        unit = unit or "s"
        if unit not in _DURATION_UNITS:
            raise ConfigError.at(where, f"unknown unit {unit!r} in {raw!r} (use ms, s, m, h, d or w)")
        try:
            seconds = float(digits) * _DURATION_UNITS[unit]
        except ValueError:
            raise ConfigError.at(where, f"{raw!r} is not a duration such as '30s', '5m' or '1h'") from None
    else:
        seconds = float(raw)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ConfigError.at(where, f"{raw!r} is not a finite duration")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError.at(where, f"must be positive, not {raw!r}")
    if seconds > MAX_DURATION:  # a timer's wait (threading.TIMEOUT_MAX, ~292 years) or a date would overflow
        raise ConfigError.at(where, f"{raw!r} is longer than the longest duration taken, 3650d")
    return seconds
