"""The one validator: a model's fields say what each key takes; the same models serve the file and the CLI."""

from __future__ import annotations

import pytest

from datamonitor.errors import ConfigError, UnknownKey
from datamonitor.monitors import MONITORS, DiskMonitor, UdpMonitor, WatchMonitor
from datamonitor.notify import EmailNotifier, Threshold, WebhookNotifier, notifier_secrets
from datamonitor.validation import read_fields, type_problem


@pytest.mark.parametrize("value, types, items, problem", [
    (True, (int,), None, "must be int, not bool"),
    (True, (int, float), None, "must be int or float, not bool"),
    (True, (bool,), None, None),
    (3, (int, float), None, None),
    (3.5, (int,), None, "must be int, not float"),
    (["a", 1], (list,), str, "must be list of str, not a list holding int"),
    ({"a": "b"}, (dict,), str, None),
    ({"a": False}, (dict,), str, "must be table of str, not a dict holding bool"),
])
def test_one_bool_aware_type_check(value: object, types: tuple[type, ...], items: type | None,
                                   problem: str | None) -> None:
    assert type_problem(value, types, items) == problem


def test_read_fields_names_the_key_the_reason_and_the_key_meant() -> None:
    with pytest.raises(UnknownKey) as unknown:
        read_fields(DiskMonitor, {"intervall": 5})
    assert (unknown.value.key, unknown.value.suggestion) == ("intervall", "interval")
    assert unknown.value.known == ("interval", "max_used_pct", "min_free_gb", "paths")
    with pytest.raises(ConfigError) as required:
        read_fields(WatchMonitor, {"recursive": True})
    assert (required.value.key, required.value.reason) == ("dirs", "required")
    with pytest.raises(ConfigError) as parsed:
        read_fields(UdpMonitor, {"flush": "0s"})
    assert (parsed.value.key, parsed.value.reason) == ("flush", "must be positive, not '0s'")
    assert read_fields(DiskMonitor, {"interval": "5m", "paths": ["/"]}) == {"interval": 300.0, "paths": ("/",)}


def test_every_monitor_type_is_a_model_whose_keys_are_its_fields() -> None:
    assert list(MONITORS) == ["disk", "watch", "udp", "files"]
    assert DiskMonitor(**read_fields(DiskMonitor, {})) == DiskMonitor(paths=None, interval=60.0)


def test_the_disk_thresholds_are_built_in_one_place() -> None:
    assert DiskMonitor(max_used_pct=90, min_free_gb=2).thresholds() == [
        Threshold("disk.used_pct", above=90, hysteresis=1.0),
        Threshold("disk.free_bytes", below=2 * (1 << 30), hysteresis=float(1 << 30)),
    ]
    assert DiskMonitor().thresholds() == []


def test_each_notifier_model_names_its_own_secrets() -> None:
    assert notifier_secrets({"type": "webhook", "url": "https://hooks/x", "headers": {"a": "b"}}) == [
        "url (a webhook URL is a credential)", "headers"]
    assert notifier_secrets({"type": "email", "host": "h", "to": ["a@b"]}) == []
    assert notifier_secrets({"type": ["webhook"], "url": "x"}) == []
    assert "T0" not in repr(WebhookNotifier("https://hooks.example/T0/secret"))
    assert EmailNotifier(host="h", to=["a@b"]).problems({}) == []
