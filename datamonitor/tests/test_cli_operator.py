"""The command line as an operator lives with it (issue 13): every item through the real CLI, exact lines."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from datamonitor import DataMonitor, load_config
from datamonitor.cli import main
from datamonitor.tests.fakes import FakeCluster
from datamonitor.tests.helpers import loopback_http, running_cli, wait_until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
URL = "http://cli-es:9200"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def cli(*argv: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "datamonitor", *argv], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def errors(err: str) -> list[str]:
    """stderr without the warning about a world-readable example file (its mode depends on the checkout)."""
    return [line for line in err.splitlines() if "holds secrets" not in line]


# ------------------------------------------------------- run and test config

@pytest.mark.skipif(Path("/data").exists(), reason="the examples' /data paths exist on this machine")
def test_run_with_the_toml_example_reports_every_problem_at_once(tmp_path: Path) -> None:
    conf = EXAMPLES / "datamonitor.toml"
    proc = cli("--config", str(conf), "--store", str(tmp_path / "s.db"), "run", "--duration", "1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert errors(proc.stderr) == [
        f"datamonitor: {conf}: monitors[0].paths[1]: /data: no such file or directory",
        f"datamonitor: {conf}: monitors[1].dirs[0]: /data/inbox: no such directory",
        f"datamonitor: {conf}: monitors[3].paths[0]: /data/exports/*.csv.gz: no such directory /data/exports",
        f"datamonitor: {conf}: notifiers[2]: email: username 'datamonitor' is set but $DATAMONITOR_SMTP_PASSWORD "
        "is empty",
    ]


@pytest.mark.skipif(Path("/data").exists(), reason="the examples' /data paths exist on this machine")
def test_run_and_test_config_with_the_yaml_example(tmp_path: Path) -> None:
    conf = EXAMPLES / "datamonitor.yaml"
    proc = cli("--config", str(conf), "--store", str(tmp_path / "s.db"), "run")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    problem = f"{conf}: monitors[1].dirs[0]: /data/inbox: no such directory"
    assert errors(proc.stderr) == [f"datamonitor: {problem}"]
    proc = cli("--config", str(conf), "--store", str(tmp_path / "s.db"), "test", "config")
    assert proc.returncode == 2
    assert proc.stdout.splitlines()[-2:] == [f"monitors  ERROR  {problem}", "Config FAILED"]


def test_test_config_passes_a_good_config_and_checks_nothing_runs(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    conf = tmp_path / "ok.toml"
    conf.write_text(f'[[monitors]]\ntype = "watch"\ndirs = ["{inbox}"]\n\n[[monitors]]\ntype = "disk"\n'
                    f'paths = ["{tmp_path}"]\ninterval = "5m"\n\n[[notifiers]]\ntype = "log"\n')
    proc = cli("--config", str(conf), "--home", str(tmp_path / "home"), "test", "config")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"config    OK     {conf}",
        f"store     OK     {tmp_path / 'home' / 'datamonitor.db'}",
        "monitors  OK     2 (watch, disk), 0 threshold(s), 1 notifier(s)",
        "Config OK",
    ]
    assert not (tmp_path / "home").exists(), "test config writes nothing"


def test_every_bad_entry_is_reported_not_only_the_first(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf = tmp_path / "bad.toml"
    conf.write_text('[[monitors]]\ntype = "disk"\nintervall = 5\n\n[[monitors]]\ntype = "udp"\nflush = "0s"\n\n'
                    '[[notifiers]]\ntype = "webhook"\nurl = "ftp://x/y"\n')
    conf.chmod(0o600)
    code, _out, err = run(capsys, "--config", str(conf), "run")
    assert code == 2
    assert err.splitlines() == [
        f"datamonitor: {conf}: monitors[0].intervall: unknown key (did you mean interval? known: interval, "
        "max_used_pct, min_free_gb, paths)",
        f"datamonitor: {conf}: monitors[1].flush: must be positive, not '0s'",
        f"datamonitor: {conf}: notifiers[0]: webhook: url ftp://x/... is not an http(s) URL",
    ]


# ------------------------------------------------------------------ Ctrl-C

@pytest.mark.slow
def test_ctrl_c_during_a_long_file_pass_exits_130_without_a_traceback(tmp_path: Path) -> None:
    import psutil

    big = tmp_path / "big.csv"
    with big.open("w") as fh:
        fh.write("id,name,amount,day\n")
        row = "".join(f"{i},name{i % 977},{i * 0.37:.2f},2026-11-{i % 28 + 1:02d}\n" for i in range(100_000))
        for _ in range(60):  # 200 MB: a few seconds of work
            fh.write(row)
    proc = subprocess.Popen([sys.executable, "-m", "datamonitor", "--home", str(tmp_path / "h"), "file", str(big)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # wait on a condition: the process has spent real CPU on the pass (start-up takes about 0.6 s)
        ps = psutil.Process(proc.pid)
        wait_until(lambda: proc.poll() is not None or sum(ps.cpu_times()[:2]) >= 1.5, timeout=60,
                   what="1.5 s of CPU spent on the pass")
        assert proc.poll() is None, "the pass ended before it could be interrupted: make the file bigger"
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.splitlines()[-1] == "datamonitor: interrupted"


def test_a_library_error_caused_by_ctrl_c_is_an_interruption(capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def interrupted(*_a: Any, **_k: Any) -> Any:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:  # a library that wraps the interruption in its own error
            raise RuntimeError("the engine stopped") from exc

    monkeypatch.setattr(DataMonitor, "collect_file", interrupted)
    (tmp_path / "a.csv").write_text("a\n1\n")
    assert run(capsys, "file", str(tmp_path / "a.csv")) == (130, "", "datamonitor: interrupted\n")

    def other(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("not an interruption")

    monkeypatch.setattr(DataMonitor, "collect_file", other)
    with pytest.raises(RuntimeError):
        run(capsys, "file", str(tmp_path / "a.csv"))


# ------------------------------------------------------------------ search

def _seed(capsys: pytest.CaptureFixture[str]) -> None:
    docs = [
        {"name": "column.nulls", "value": 3, "subject": "price", "file.path": "/in/sales_1.csv",
         "dataset": "datamonitor.file", "timestamp": "2026-11-20T00:00:01Z"},
        {"name": "column.null_ratio", "value": 0.5, "subject": "price", "file.path": "/in/sales_1.csv",
         "dataset": "datamonitor.file", "timestamp": "2026-11-20T00:00:02Z"},
        {"name": "file.sha256", "text": "ab" * 32, "file.path": "/in/orders.parquet",
         "dataset": "datamonitor.file", "timestamp": "2026-11-20T00:00:03Z"},
        {"name": "disk.used_pct", "value": 40.0, "subject": "/", "dataset": "datamonitor.disk",
         "timestamp": "2026-11-20T00:00:04Z"},
        {"name": "jobs", "value": 1, "dataset": "datamonitor.udp", "timestamp": "2026-11-20T00:00:05Z"},
        {"name": "jobs", "value": 2, "labels": {"env": "prod"}, "dataset": "datamonitor.udp",
         "timestamp": "2026-11-20T00:00:06Z"},
    ]
    for doc in docs:
        assert main(["send", json.dumps(doc)]) == 0
    capsys.readouterr()


def _names(out: str) -> list[str]:
    return [json.loads(line)["kpi"]["name"] for line in out.splitlines()]


def test_search_filters_by_file_dataset_subject_and_wildcards(capsys: pytest.CaptureFixture[str]) -> None:
    _seed(capsys)
    assert _names(run(capsys, "search", "--json", "--name", "column.*")[1]) == ["column.null_ratio", "column.nulls"]
    assert _names(run(capsys, "search", "--json", "--file", "sales_*.csv")[1]) == ["column.null_ratio",
                                                                                    "column.nulls"]
    assert _names(run(capsys, "search", "--json", "--file", "/in/orders.parquet")[1]) == ["file.sha256"]
    assert _names(run(capsys, "search", "--json", "--dataset", "datamonitor.disk")[1]) == ["disk.used_pct"]
    assert _names(run(capsys, "search", "--json", "--subject", "price", "--name", "*.nulls")[1]) == ["column.nulls"]
    code, out, err = run(capsys, "search", "--file", "nothing*")
    assert (code, out, err) == (0, "", "datamonitor: no documents match\n")


def test_search_table_has_file_and_labels_and_cuts_long_values(capsys: pytest.CaptureFixture[str]) -> None:
    _seed(capsys)
    code, out, _ = run(capsys, "search")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["@timestamp", "kpi", "subject", "value", "unit", "file", "dataset",
                                              "labels", "id"]
    sha = next(line for line in lines if "file.sha256" in line)
    assert "ab" * 19 + "a…" in sha and "ab" * 32 not in sha and "orders.parquet" in sha
    jobs = [line for line in lines if " jobs " in line]
    assert "env=prod" in jobs[0] and "env=prod" not in jobs[1], "tagged and untagged series differ"
    whole = [json.loads(line) for line in run(capsys, "search", "--json", "--name", "file.sha256")[1].splitlines()]
    assert whole[0]["kpi"]["text"] == "ab" * 32, "--json keeps the full value"


def test_search_filters_reach_the_cluster(capsys: pytest.CaptureFixture[str],
                                          clusters: dict[str, FakeCluster]) -> None:
    _seed(capsys)
    assert run(capsys, "--es", URL, "ship")[0] == 0
    code, out, _ = run(capsys, "--es", URL, "search", "--json", "--dataset", "datamonitor.disk")
    assert code == 0 and _names(out) == ["disk.used_pct"]
    code, out, _ = run(capsys, "--es", URL, "search", "--json", "--subject", "price", "--file", "/in/sales_1.csv")
    assert sorted(_names(out)) == ["column.null_ratio", "column.nulls"]


def test_search_wildcards_become_wildcard_queries_on_the_cluster(capsys: pytest.CaptureFixture[str],
                                                                  clusters: dict[str, FakeCluster],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # ElasticMock evaluates term and bool but not wildcard: check the query sent. Its shape is Elasticsearch's
    # wildcard query, {"wildcard": {FIELD: {"value": PATTERN}}}, where * and ? are the only wildcards
    # (https://www.elastic.co/guide/en/elasticsearch/reference/current/query-dsl-wildcard-query.html).
    bodies: list[Any] = []

    def record(self: FakeCluster, index: Any = None, body: Any = None, **kwargs: Any) -> Any:
        bodies.append(body)
        return {"hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}}

    monkeypatch.setattr(FakeCluster, "search", record)
    code, _out, err = run(capsys, "--es", URL, "search", "--name", "column.*", "--file", "*.csv", "--dataset", "x")
    assert (code, err) == (0, "datamonitor: no documents match\n")
    assert bodies[0]["query"]["bool"]["filter"] == [
        {"wildcard": {"kpi.name": {"value": "column.*"}}},
        {"term": {"event.dataset": "x"}},
        {"bool": {"should": [{"wildcard": {"file.path": {"value": "*.csv"}}},
                             {"wildcard": {"file.name": {"value": "*.csv"}}}]}},
    ]


def test_brackets_are_literal_in_local_search_as_on_the_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", json.dumps({"name": "x", "value": 1, "file.path": "/in/a[1].csv"})]) == 0
    assert main(["send", json.dumps({"name": "x", "value": 2, "file.path": "/in/a1.csv"})]) == 0
    capsys.readouterr()
    out = run(capsys, "search", "--json", "--file", "a[1]*")[1]
    assert [json.loads(line)["file"]["name"] for line in out.splitlines()] == ["a[1].csv"]


# ------------------------------------------------------------------ disk

def test_disk_measures_the_good_paths_and_reports_the_bad_one(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    code, out, err = run(capsys, "disk", str(tmp_path), "/nonexistent")
    assert code == 1
    assert err == "datamonitor: WARNING: /nonexistent: cannot measure the filesystem: No such file or directory\n"
    assert [line.split()[0] for line in out.splitlines()] == ["mount", str(tmp_path)]
    code, out, err = run(capsys, "-q", "disk", "/nonexistent")
    assert (code, out) == (1, "") and err == "datamonitor: /nonexistent: cannot measure the filesystem: No such file " \
                                             "or directory\n"


@pytest.mark.parametrize("argv, line", [
    (["disk", "--interval", "0"], "datamonitor: error: argument --interval: must be positive, not '0'"),
    (["disk", "--interval", "0s"], "datamonitor: error: argument --interval: must be positive, not '0s'"),
    (["disk", "--interval", "5 parsecs"],
     "datamonitor: error: argument --interval: unknown unit 'parsecs' in '5 parsecs' (use ms, s, m, h, d or w)"),
    (["udp", "--flush", "-1"], "datamonitor: error: argument --flush: must be positive, not '-1'"),
])
def test_a_zero_or_bad_interval_is_refused(capsys: pytest.CaptureFixture[str], argv: list[str], line: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and capsys.readouterr().err == line + "\n"


def test_the_disk_loop_prints_a_line_per_measurement_on_a_terminal(tmp_path: Path) -> None:
    import pty

    pattern = re.compile(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d  {re.escape(str(tmp_path))}  [\d.]+% used, [\d.,]+ \w+ free")
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "datamonitor", "--home", str(tmp_path / "h"), "disk", str(tmp_path),
                             "--interval", "100ms"], stdout=slave, stderr=subprocess.DEVNULL)
    os.close(slave)
    chunks: list[bytes] = []

    def live() -> list[str]:
        return [line for line in b"".join(chunks).decode().splitlines() if pattern.fullmatch(line)]

    def three_lines() -> bool:  # read what the terminal shows; the condition: three measurements' lines
        if select.select([master], [], [], 0.05)[0]:
            chunks.append(os.read(master, 4096))
        return len(live()) >= 3 or proc.poll() is not None

    try:
        wait_until(three_lines, what="three live lines on the terminal")
        proc.send_signal(signal.SIGTERM)
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert proc.wait(timeout=60) == 0
    assert len(live()) >= 3, b"".join(chunks).decode()
    # piped: no such lines, the table only
    piped = cli("--home", str(tmp_path / "h"), "disk", str(tmp_path), "--interval", "0.1", "--duration", "0.25")
    assert piped.returncode == 0 and "% used," not in piped.stdout


def test_alerts_read_in_human_units(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _out, err = run(capsys, "disk", str(tmp_path), "--min-free-gb", "100000")
    st = os.statvfs(tmp_path)
    free_gib = st.f_bavail * st.f_frsize / (1 << 30)
    found = re.fullmatch(rf"datamonitor: WARNING: ALERT: disk.free_bytes on {re.escape(str(tmp_path))} is below "
                         rf"100,000 GiB: disk.free_bytes on {re.escape(str(tmp_path))} is ([\d,.]+) GiB, below "
                         r"100,000 GiB\n", err)
    assert code == 0 and found, err
    assert abs(float(found.group(1).replace(",", "")) - free_gib) < 0.2


def test_threshold_state_holds_across_one_shot_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["disk", str(tmp_path), "--max-used-pct", "0.0001"]
    first = run(capsys, *argv)[2]
    assert f"ALERT: disk.used_pct on {tmp_path} is above 0.0001%" in first
    for _ in range(2):  # as from cron: the line is still crossed, and already reported
        code, _out, err = run(capsys, *argv)
        assert code == 0 and err == ""
    code, out, _ = run(capsys, "search", "--json", "--name", "notification")
    assert [json.loads(line)["labels"]["state"] for line in out.splitlines()] == ["alert"]
    code, _out, err = run(capsys, "disk", str(tmp_path), "--max-used-pct", "99.9999")  # another line: its own state
    assert code == 0 and err == ""


# ------------------------------------------------------------------ watch

def test_the_watcher_logs_a_line_per_file_at_the_default_level(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "good.csv").write_text("a,b\n1,2\n")
    (inbox / "bad.csv").write_bytes(b"\x00\xff" * 64)
    with running_cli(["--home", str(tmp_path / "h"), "watch", str(inbox), "--settle", "50ms"], tmp_path / "h") as cli:
        cli.wait_for_line("good.csv: measured")
        cli.wait_for_line("bad.csv")
        code, out, err = cli.stop()
    assert code == 0
    seen = err.splitlines()
    with DataMonitor(load_config(home=tmp_path / "h")) as dm:
        stored = len(dm.search(file=str(inbox / "good.csv"), limit=1000))
    assert f"datamonitor: INFO: {inbox / 'good.csv'}: measured, {stored} KPIs" in seen
    assert f"datamonitor: ERROR: {inbox / 'bad.csv'}: binary data, not a text table (a NUL byte in the first " \
           "64 KiB)" in seen
    assert out == "measured 1 file(s), 1 failed\n"


# ------------------------------------------------------------------ report, send, typos, help

def test_report_names_itself_and_local_when_the_cluster_is_unreachable(capsys: pytest.CaptureFixture[str],
                                                                        tmp_path: Path) -> None:
    conf = tmp_path / "fast.toml"
    conf.write_text("[elasticsearch]\nmax_retries = 0\nrequest_timeout = 2\n")
    code, _out, err = run(capsys, "--config", str(conf), "--es", "http://127.0.0.1:9", "report", "--out",
                          str(tmp_path / "r.html"))
    assert (code, err) == (3, "datamonitor: report: cannot reach Elasticsearch at http://127.0.0.1:9: connection "
                              "refused; add --local to report from the local store\n")


def test_send_suggests_the_key_a_typo_meant(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "send", '{"name":"x","value":1,"subjet":"a"}')
    assert (code, out) == (2, "")
    assert err == "datamonitor: document 0: unknown key 'subjet': did you mean 'subject'? (a label goes under " \
                  "\"labels\")\n"
    code, out, _ = run(capsys, "send", '{"name":"x","value":1,"team":"ops"}')  # not close to a key: a label
    assert code == 0
    doc = json.loads(run(capsys, "get", out.strip(), "--json")[1])
    assert doc["_source"]["labels"] == {"team": "ops"}


@pytest.mark.parametrize("argv, line", [
    (["search", "--limt", "5"], "datamonitor: error: unrecognized arguments: --limt 5; --limt: did you mean --limit?"),
    (["serach"], "datamonitor: error: unknown command 'serach': did you mean search? (see datamonitor --help)"),
    (["disk", "--max-usd-pct=5"],
     "datamonitor: error: unrecognized arguments: --max-usd-pct=5; --max-usd-pct=5: did you mean --max-used-pct?"),
])
def test_a_mistyped_option_or_command_gets_a_suggestion(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                        line: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and capsys.readouterr().err == line + "\n"


def test_help_texts_say_percent_once_and_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["disk", "--help"])
    out = capsys.readouterr().out
    assert "%%" not in out and "used % as df" in " ".join(out.split())
    assert "TOML, or YAML when named .yaml/.yml" in " ".join(out.split())


def test_durations_take_units_on_the_command_line_and_in_the_config(tmp_path: Path) -> None:
    from datamonitor.service import load_service

    conf = tmp_path / "c.yaml"
    conf.write_text('monitors:\n  - {type: disk, interval: 5m}\n  - {type: udp, flush: 1.5s}\n'
                    f'  - {{type: watch, dirs: ["{tmp_path}"], settle: 250ms}}\n  - {{type: files, paths: ["{tmp_path}"],'
                    ' interval: 2h}\n')
    spec = load_service(conf)
    # each monitor is its typed model (datamonitor.monitors), its durations in seconds
    assert [next(getattr(m, k) for k in ("interval", "flush", "settle") if hasattr(m, k)) for m in spec.monitors] == \
        [300.0, 1.5, 0.25, 7200.0]
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = cli("--home", str(tmp_path / "h"), "watch", str(empty), "--duration", "300ms", "--settle", "50ms")
    assert proc.returncode == 0 and proc.stdout == "measured 0 file(s)\n"


# ------------------------------------------------------------------ logging options, version

def test_quiet_log_level_and_short_version(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["-V"])
    assert exc.value.code == 0 and re.fullmatch(r"datamonitor \S+\n", capsys.readouterr().out)
    code, _out, err = run(capsys, "disk", str(tmp_path), "--min-free-gb", "100000", "-q")
    assert (code, err) == (0, ""), "-q hides the alert's warning line"
    code, _out, err = run(capsys, "--log-level", "error", "disk", "/nonexistent", str(tmp_path))
    assert (code, err) == (1, "")
    code, _out, err = run(capsys, "--log-level", "WARNING", "disk", "/nonexistent", str(tmp_path))
    assert (code, err) == (1, "datamonitor: WARNING: /nonexistent: cannot measure the filesystem: No such file or "
                              "directory\n")
    with pytest.raises(SystemExit) as exc:
        main(["-q", "-v", "status"])
    assert exc.value.code == 2 and capsys.readouterr().err == \
        "datamonitor: error: -q goes with neither -v nor --log-level\n"


# ------------------------------------------------------------------ kpis and completion

def test_kpis_lists_every_kpi_with_unit_source_and_meaning(capsys: pytest.CaptureFixture[str]) -> None:
    from datamonitor.kpis import KPIS

    code, out, _ = run(capsys, "kpis")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["kpi", "unit", "source", "meaning"] and len(lines) == len(KPIS) + 1
    assert re.search(r"^disk\.free_bytes\s+bytes\s+disk\s+bytes available", out, re.M)
    code, out, _ = run(capsys, "kpis", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0] == {"name": "file.rows", "unit": "rows", "source": "file", "meaning": "rows read"}


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts_come_from_the_parser(tmp_path: Path, shell: str) -> None:
    proc = cli("completion", shell)
    assert proc.returncode == 0
    script = proc.stdout
    for word in ("search", "kpis", "--max-used-pct", "--log-level", "completion"):
        assert word in script
    if shell == "bash":
        path = tmp_path / "c.bash"
        path.write_text(script)
        check = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        # complete a word the way bash does, by calling the function the script registers
        probe = subprocess.run(["bash", "-c", f"source {path}; COMP_WORDS=(datamonitor sea); COMP_CWORD=1; "
                                              "_shtab_datamonitor; printf '%s\\n' \"${COMPREPLY[@]}\""],
                               capture_output=True, text=True)
        assert probe.stdout.split() == ["search"], probe.stderr
    else:
        assert script.startswith("#compdef datamonitor")


# ------------------------------------------------------------------ test output

class _Kibana(BaseHTTPRequestHandler):
    version = "8.11.3"

    def do_GET(self) -> None:  # the status API's v8 shape: {"version": {"number": ...}, "status": {...}}
        body = json.dumps({"name": "kibana", "version": {"number": self.version},
                           "status": {"overall": {"level": "available"}}}).encode()
        self.send_response(200 if self.path == "/api/status" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def kibana() -> Iterator[str]:
    with loopback_http(_Kibana) as url:
        yield url


def test_test_output_reaches_the_cluster_and_says_what_setup_would_change(
        capsys: pytest.CaptureFixture[str], clusters: dict[str, FakeCluster], kibana: str) -> None:
    code, out, _ = run(capsys, "--es", URL, "test", "output", "--kibana", kibana)
    lines = out.splitlines()
    assert code == 0, out
    assert lines[0] == f"elasticsearch  OK     {URL}"
    assert lines[1] == "connection     OK     cluster 'fake-cluster', version 8.19.0"
    assert lines[2] == "auth           OK     no credentials: the cluster answered"
    assert lines[3] == "templates      WARN   setup would create datamonitor-dm-kpi-policy, create datamonitor-dm-kpi-mappings, " \
                       "create datamonitor-dm-kpi-settings, create datamonitor-dm-kpi"
    assert lines[4] == f"kibana         OK     {kibana}: version 8.11.3"
    assert lines[5] == "Output OK"
    assert run(capsys, "--es", URL, "setup")[0] == 0
    code, out, _ = run(capsys, "--es", URL, "test", "output")
    assert code == 0 and re.search(r"^templates      OK     all \d+ installed and current$", out, re.M)
    assert not any(d for _i, d in next(iter(clusters.values())).accepted), "test output sends no document"


def test_test_output_fails_with_the_reason(capsys: pytest.CaptureFixture[str], clusters: dict[str, FakeCluster],
                                           kibana: str, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(capsys, "test", "output")
    assert (code, out) == (2, "elasticsearch  ERROR  none configured: give --es URL, DATAMONITOR_ES_URL or "
                              "[elasticsearch] url\nOutput FAILED\n")
    monkeypatch.setattr(_Kibana, "version", "7.17.0")
    code, out, _ = run(capsys, "--es", URL, "test", "output", "--kibana", kibana)
    assert code == 3 and f"kibana         ERROR  {kibana}: version 7.17.0, the dashboard needs 8.9.0 or later" in out
    main(["--es", URL, "info"])
    next(iter(clusters.values())).unreachable = True
    capsys.readouterr()
    code, out, _ = run(capsys, "--es", URL, "test", "output")
    assert code == 3 and "connection     ERROR  info: cannot reach Elasticsearch at http://cli-es:9200" in out


def test_config_check_uses_the_same_config_as_the_commands() -> None:
    cfg = load_config(home="/nonexistent-home")
    from datamonitor.checks import check_config

    assert [c.what for c in check_config(cfg)] == ["config", "store"]
