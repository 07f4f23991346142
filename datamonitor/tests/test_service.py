"""The service: a config of monitors checked at start, run in one process, stopped cleanly."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from datamonitor import ConfigError, DataMonitor, load_config
from datamonitor.service import load_service, run_service
from datamonitor.tests.helpers import free_port, running_cli, stored, udp_bound, wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["datamonitor.toml", "datamonitor.yaml"])
def test_the_shipped_examples_load(name: str) -> None:
    path = ROOT / "examples" / name
    if not path.exists():
        pytest.skip("examples/ is not beside an installed package")
    spec = load_service(path)
    assert {m.type for m in spec.monitors} >= {"disk", "watch", "udp"}
    assert load_config(path).es.hosts == ("http://localhost:9200",)


@pytest.mark.parametrize("text, message", [
    ('[[monitors]]\ntype = "dsk"\n', "monitors[0].type: 'dsk' is not one of disk, watch, udp, files"),
    ('[[monitors]]\ntype = "disk"\nintervall = 5\n', "monitors[0].intervall: unknown key"),
    ('[[monitors]]\ntype = "disk"\ninterval = "5 parsecs"\n', "monitors[0].interval: unknown unit 'parsecs'"),
    ('[[monitors]]\ntype = "disk"\ninterval = [5]\n', "monitors[0].interval: must be int or float or str, not list"),
    ('[[monitors]]\ntype = "disk"\ninterval = 0\n', "monitors[0].interval: must be positive"),
    ('[[monitors]]\ntype = "watch"\n', "monitors[0].dirs: required"),
    ('[[monitors]]\ntype = "udp"\nport = true\n', "monitors[0].port: must be int, not bool"),
    ('[[monitors]]\ntype = "disk"\n[[thresholds]]\nkpi = "x"\n', "thresholds[0]: threshold on 'x'"),
    ('[[monitors]]\ntype = "disk"\n[[notifiers]]\ntype = "pager"\n', "notifiers[0]: notifier 'pager'"),
    ('[[monitors]]\ntype = "disk"\n[[notifiers]]\nurl = "x"\n', "notifiers[0].type: required"),
    ('[elasticsearch]\nurl = "http://x"\n', "no [[monitors]]"),
])
def test_a_bad_config_is_rejected_at_start_with_key_and_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_service(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("monitors: [\n")
    with pytest.raises(ConfigError, match=f"{path}: not valid YAML"):
        load_service(path)


def test_every_monitor_runs_in_one_process(tmp_path: Path, home: Path) -> None:
    inbox, exports = tmp_path / "inbox", tmp_path / "exports"
    inbox.mkdir()
    exports.mkdir()
    (exports / "daily.csv").write_text("a,b\n1,2\n3,\n")
    port = free_port()
    conf = tmp_path / "service.toml"
    conf.write_text(f"""
[[monitors]]
type = "disk"
paths = ["{tmp_path}"]
interval = 0.2
max_used_pct = 0.0001

[[monitors]]
type = "watch"
dirs = ["{inbox}"]
settle = 0.1

[[monitors]]
type = "udp"
port = {port}
flush = 0.3

[[monitors]]
type = "files"
paths = ["{exports}/*.csv"]
interval = 0.5
""")
    spec = load_service(conf)
    stop = threading.Event()
    result: dict = {}
    with DataMonitor() as dm:
        runner = threading.Thread(target=lambda: result.update(run_service(dm, spec, stop=stop)))
        runner.start()
        # up: the UDP listener's socket is bound, and it starts after the watcher (run_service's order)
        wait_until(lambda: udp_bound(port) or not runner.is_alive(), what=f"the service to bind UDP port {port}")
        assert runner.is_alive(), "run_service ended before its monitors were up"
        (inbox / "arrived.csv").write_text("x,y\n1,2\n")
        import statsd

        client = statsd.StatsClient("127.0.0.1", port)
        client.incr("jobs.done", 7)
        client.close()

        def names() -> set[str]:
            return {h["_source"]["kpi"]["name"] for h in dm.search(limit=2000)}

        def files() -> set[str]:
            return {h["_source"]["file"]["name"] for h in dm.search(name="file.rows", limit=100)}

        wanted = {"disk.used_pct", "notification", "jobs.done", "udp.accepted"}
        wait_until(lambda: wanted <= names() and files() == {"arrived.csv", "daily.csv"}
                   and len(dm.search(name="disk.used_pct", limit=100)) >= 3,
                   what="every monitor's documents and three disk steps in the store")
        stop.set()
        runner.join(timeout=30)
        assert not runner.is_alive()
        assert wanted <= names() and files() == {"arrived.csv", "daily.csv"}
    assert result["udp[2]"]["accepted"] == 1 and result["watch[1]"]["files"] == 1
    assert result["disk[0]"]["steps"] >= 3


def test_run_command_stops_on_sigterm(tmp_path: Path) -> None:
    conf = tmp_path / "service.toml"
    conf.write_text(f'[[monitors]]\ntype = "disk"\npaths = ["{tmp_path}"]\ninterval = 0.2\n')
    home = tmp_path / "home"
    with running_cli(["--config", str(conf), "--json", "run"], home) as cli:
        cli.wait_for(lambda: stored(home, "disk.used_pct") >= 3, "three disk steps in the store")
        code, out, err = cli.stop()
    assert code == 0, err
    assert json.loads(out)["disk[0]"]["steps"] >= 3


def test_run_without_a_config_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from datamonitor.cli import main

    assert main(["run"]) == 2
    assert "run needs a config file" in capsys.readouterr().err
