"""The command line: help everywhere, NDJSON with --json, one-line errors, meaningful exit codes."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from datamonitor.cli import build_parser, main
from datamonitor.tests.fakes import FakeCluster

URL = "http://cli-es:9200"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(action.choices)


def test_the_required_commands_exist() -> None:
    assert {"info", "setup", "send", "get", "search", "ship", "status"} <= set(subcommands())


@pytest.mark.parametrize("command", [None, *subcommands()])
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], command: str | None) -> None:
    argv = ["--help"] if command is None else [command, "--help"]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "usage: datamonitor" in out and "--json" in out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys)
    assert code == 2 and "COMMAND" in out


def test_send_get_search_status_on_the_embedded_store(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "send", '{"unit": "nb_of_rows", "value": "6543"}')
    assert code == 0 and "no cluster configured" in err
    docid = out.strip()
    code, out, _ = run(capsys, "get", docid, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["_id"] == docid and doc["_source"]["kpi"]["value"] == 6543
    code, out, _ = run(capsys, "search")
    assert code == 0 and "nb_of_rows" in out and docid in out and out.startswith("@timestamp")
    code, out, _ = run(capsys, "status", "--json")
    st = json.loads(out)
    assert code == 0 and (st["documents"], st["pending"], st["cluster"]) == (1, 1, None)


def test_send_reads_ndjson_from_stdin_and_search_writes_ndjson(capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    lines = "\n".join(json.dumps({"name": "rows", "value": i, "timestamp": f"2026-11-0{i}T00:00:00Z"})
                      for i in range(1, 4))
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines + "\n\n"))
    code, out, _ = run(capsys, "--json", "send")
    ids = [json.loads(line)["_id"] for line in out.splitlines()]
    assert code == 0 and len(ids) == 3
    code, out, _ = run(capsys, "search", "--json", "--name", "rows", "--limit", "2")
    docs = [json.loads(line) for line in out.splitlines()]
    assert [d["kpi"]["value"] for d in docs] == [3, 2] and docs[0]["_id"] == ids[2]
    code, out, _ = run(capsys, "search", "--json", "--since", "2026-11-02T12:00:00Z")
    assert [json.loads(line)["kpi"]["value"] for line in out.splitlines()] == [3]
    code, out, _ = run(capsys, "search", "--since", "1h")
    assert code == 0


@pytest.mark.parametrize("argv, message", [
    (["send", "{not json"], "payload argument: not JSON"),
    (["send", '{"value": 1}'], "field 'name'"),
    (["send", '[1, 2]'], "JSON object"),
    (["ship"], "ship needs a cluster"),
    (["info", "--es", "ftp://nope"], "not an http(s) URL"),
    (["search", "--limit", "0"], "--limit must be from 1 to 1,000,000,000"),
    (["search", "--since", "last tuesday"], "'--since'"),
    (["get", "nope"], "document nope not found"),
    # each of these was a traceback (found by a review helper, eighth session)
    (["search", "--limit", "99999999999999999999"], "--limit must be from 1"),  # OverflowError from SQLite
    (["search", "--since", "99999999d"], "longer than the longest duration taken"),  # a date out of range
    (["info", "--es", "http://[::1"], "is not a URL"),  # urllib's ValueError: Invalid IPv6 URL
    (["status", "--es", "http://user:secret@[::1"], "'http://[::1' is not a URL"),  # and no password shown
    (["setup", "--kibana", "http://[::1"], "--kibana 'http://[::1' is not an http(s) URL"),
    (["setup", "--kibana", "http://127.0.0.1:99999"], "with a valid host and port"),
    (["udp", "--max-size", "100000000", "--duration", "1s"], "65,507 bytes"),  # MemoryError in a thread
])
def test_user_errors_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, _out, err = run(capsys, *argv)
    assert code in (1, 2) and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("option, message", [
    (["--encoding", "rot13"], "encoding: 'rot13' is not a text encoding"),  # LookupError from the engine
    (["--encoding", "bogus"], "encoding: 'bogus' is no codec Python knows"),
    (["--delimiter", "abc"], "delimiter: must be one character"),  # TypeError from the csv module
])
def test_file_options_that_cannot_be_right_are_one_line_before_any_file(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, option: list[str], message: str) -> None:
    data = tmp_path / "a.csv"
    data.write_text("a,b\n1,2\n")
    code, _out, err = run(capsys, "file", str(data), *option)
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_errors_name_a_path_with_a_newline_on_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # "evil\nERROR: fake.csv" printed a second line that looked like the error of another file
    bad = tmp_path / "evil\nERROR: fake.csv"
    bad.write_bytes(b"\x00\x01binary")
    code, _out, err = run(capsys, "file", str(bad))
    assert code == 1 and err.count("\n") == 1 and "\\nERROR: fake.csv" in err and "binary data" in err


def test_a_config_file_that_is_a_fifo_is_refused_not_waited_on(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    fifo = tmp_path / "c.toml"
    os.mkfifo(fifo)
    code, _out, err = run(capsys, "status", "--config", str(fifo))
    assert code == 2 and err == f"datamonitor: {fifo}: the config file is not a regular file\n"


def test_bad_config_file_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text("[elasticsearch]\nport = 9200\n")
    code, _out, err = run(capsys, "status", "--config", str(conf))
    assert code == 2 and err == f"datamonitor: {conf}: unknown key 'elasticsearch.port'\n"


def test_cluster_commands_through_the_fake(capsys: pytest.CaptureFixture[str], clusters: dict[str, FakeCluster]) -> None:
    code, out, _ = run(capsys, "--es", URL, "setup", "--json")
    assert code == 0 and set(json.loads(out).values()) == {"created"}
    code, out, _ = run(capsys, "setup", "--es", URL)
    assert code == 0 and "unchanged" in out
    code, out, _ = run(capsys, "--es", URL, "info")
    assert code == 0 and "fake-cluster" in out and "8.19.0" in out
    code, out, _ = run(capsys, "--es", URL, "send", '{"name": "rows", "value": 5}')
    docid = out.strip()
    fake = next(iter(clusters.values()))
    assert code == 0 and [d for _i, d in fake.accepted] == [docid]
    code, out, _ = run(capsys, "--es", URL, "get", docid, "--json")
    assert json.loads(out)["found"] is True
    code, out, _ = run(capsys, "--es", URL, "search", "--json")
    assert json.loads(out.splitlines()[0])["_id"] == docid
    code, out, _ = run(capsys, "--es", URL, "status", "--json")
    st = json.loads(out)
    assert code == 0 and st["reachable"] is True and st["shipped"] == 1


def test_backlog_made_offline_ships_later(capsys: pytest.CaptureFixture[str], clusters: dict[str, FakeCluster]) -> None:
    for i in range(3):
        assert run(capsys, "send", json.dumps({"name": "rows", "value": i}))[0] == 0
    code, out, _ = run(capsys, "ship", "--es", URL, "--json")
    result = json.loads(out)
    assert code == 0 and (result["shipped"], result["pending"]) == (3, 0)


def test_unreachable_cluster_exit_3_and_documents_wait(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       clusters: dict[str, FakeCluster]) -> None:
    conf = tmp_path / "fast.toml"
    conf.write_text("[elasticsearch]\ninitial_backoff = 0.001\nmax_backoff = 0.01\n")
    monkeypatch.setenv("DATAMONITOR_CONFIG", str(conf))
    main(["--es", URL, "info"])
    capsys.readouterr()
    fake = next(iter(clusters.values()))
    fake.unreachable = True
    code, _out, err = run(capsys, "--es", URL, "send", '{"name": "rows", "value": 1}')
    assert code == 3 and "cannot reach Elasticsearch at http://cli-es:9200" in err and "1 document(s) wait" in err
    code, _out, err = run(capsys, "--es", URL, "info")
    assert code == 3 and err.count("\n") == 1
    code, out, _ = run(capsys, "--es", URL, "status")
    assert code == 3 and "NO (" in out
    fake.unreachable = False
    assert run(capsys, "--es", URL, "ship")[0] == 0


def test_dead_letters_exit_4_and_show_in_status(capsys: pytest.CaptureFixture[str],
                                                clusters: dict[str, FakeCluster]) -> None:
    run(capsys, "send", '{"name": "rows", "value": 1}')
    docid = json.loads(run(capsys, "search", "--json")[1])["_id"]
    main(["--es", URL, "info"])
    capsys.readouterr()
    fake = next(iter(clusters.values()))
    fake.reject[docid] = (400, "document_parsing_exception", "failed to parse field [kpi.value]")
    code, out, err = run(capsys, "--es", URL, "ship")
    assert code == 4 and "rejected for good" in err and "document_parsing_exception" in out
    code, out, _ = run(capsys, "--es", URL, "status", "--no-cluster")
    assert "dead" in out and "kpi.value" in out
    del fake.reject[docid]
    code, out, _ = run(capsys, "--es", URL, "ship", "--retry-dead", "--json")
    assert code == 0 and json.loads(out)["shipped"] == 1


def test_setup_print_needs_no_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "setup", "--print")
    objs = json.loads(out)
    assert code == 0 and objs["index_template"]["name"] == "datamonitor-dm-kpi"


def test_module_and_console_script_run(tmp_path: Path) -> None:
    env = {"DATAMONITOR_HOME": str(tmp_path), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "datamonitor", "--version"], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert out.startswith("datamonitor ")
    proc = subprocess.run([sys.executable, "-m", "datamonitor", "send", "-"], input='{"name":"x","value":1}\n',
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and len(proc.stdout.strip()) == 40


def test_file_command_summarises_stores_and_reports_bad_files(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    (tmp_path / "good.csv").write_text("a,b\n1,x\n2,\n3,z\n")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n4,5\n")
    (tmp_path / "bad.csv").write_bytes(b"\x00\xff" * 64)
    code, out, err = run(capsys, "file", str(tmp_path))
    assert code == 1
    assert err == f"datamonitor: {tmp_path / 'bad.csv'}: binary data, not a text table (a NUL byte in the first 64 KiB)\n"
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert lines[str(tmp_path / "good.csv")][2:5] == ["3", "2", "0"]
    assert lines[str(tmp_path / "ragged.csv")][2:5] == ["2", "2", "1"]
    code, out, _ = run(capsys, "search", "--json", "--name", "column.nulls", "--limit", "10")
    nulls = {(d["file"]["name"], d["kpi"]["subject"]): d["kpi"]["value"] for d in map(json.loads, out.splitlines())}
    assert nulls[("good.csv", "b")] == 1


def test_file_command_json_is_one_document_per_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "d.tsv").write_text("a\tb\n1\t2\n")
    code, out, _ = run(capsys, "file", "--json", "--delimiter", "\\t", str(tmp_path / "d.tsv"))
    docs = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and {d["kpi"]["name"] for d in docs} >= {"file.rows", "column.nulls", "file.sha256"}
    assert all(len(d["_id"]) == 40 for d in docs)
