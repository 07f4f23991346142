"""Delivery through a real HTTP client to loopback endpoints: one layer of retries, fast failure, one-line errors.

These talk to a real ``Elasticsearch`` client (no fake), pointed at small HTTP
servers on 127.0.0.1 that answer the way a struggling cluster, a closed port, a
misconfigured proxy or a non-Elasticsearch server would.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest

from datamonitor import DataMonitor, load_config
from datamonitor.cli import main
from datamonitor.store import PENDING
from datamonitor.tests.helpers import free_port, loopback_http


class _Endpoint(BaseHTTPRequestHandler):
    """Counts requests by method and path; answers every one with ``answer`` (status, headers, body)."""

    counts: ClassVar[Counter[str]] = Counter()
    answer: ClassVar[tuple[int, dict[str, str], bytes]] = (503, {}, b"{}")

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        type(self).counts[f"{self.command} {self.path.split('?')[0]}"] += 1
        status, headers, body = type(self).answer
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = _reply

    def log_message(self, *args: Any) -> None:
        pass


def _bulk_requests() -> int:
    return sum(n for key, n in _Endpoint.counts.items() if key.endswith(" /_bulk"))


@pytest.fixture
def endpoint() -> Iterator[str]:
    _Endpoint.counts = Counter()
    _Endpoint.answer = (503, {}, json.dumps({"error": {"type": "unavailable", "reason": "busy"}, "status": 503}).encode())
    with loopback_http(_Endpoint) as url:
        yield url


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL where nothing listens: connecting is refused at once."""
    return f"http://127.0.0.1:{free_port('tcp')}"


def _fast_config(tmp_path: Path, url: str, max_retries: int = 2) -> Path:
    conf = tmp_path / "datamonitor.toml"
    conf.write_text(f'[elasticsearch]\nurl = "{url}"\nmax_retries = {max_retries}\n'
                    "initial_backoff = 0.001\nmax_backoff = 0.002\n")
    return conf


def test_max_retries_means_what_it_says_library(endpoint: str, home: Path) -> None:
    """The client's retries and ours multiplied: 9 bulk requests for max_retries=2 (36 at the default 5)."""
    with DataMonitor(load_config(home=home)) as dm:
        dm.es_connect(endpoint, max_retries=2, initial_backoff=0.001, max_backoff=0.002)
        dm.record([{"name": "rows", "value": 1}], ship=False)
        result = dm.ship()
    assert result.error and "503" in result.error and result.pending == 1
    assert _bulk_requests() == 3, _Endpoint.counts


def test_max_retries_means_what_it_says_cli(endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One ``datamonitor send`` made 27 bulk requests for max_retries = 2."""
    conf = _fast_config(tmp_path, endpoint)
    code = main(["--config", str(conf), "send", '{"name": "rows", "value": 1}'])
    err = capsys.readouterr().err
    assert code == 3 and _bulk_requests() == 3, _Endpoint.counts
    assert "1 document(s) wait in the store" in err


def test_a_bulk_answer_without_items_is_one_line_naming_the_endpoint(
        endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """200 without ``items`` (a proxy, a non-Elasticsearch server) ended ``send`` in KeyError: 'items'."""
    _Endpoint.answer = (200, {"X-Elastic-Product": "Elasticsearch"}, b'{"took": 1, "errors": false}')
    conf = _fast_config(tmp_path, endpoint)
    code = main(["--config", str(conf), "send", '{"name": "rows", "value": 1}'])
    err = capsys.readouterr().err
    assert code == 3
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"the answer of {endpoint} cannot be used (no 'items' in the bulk answer)" in err
    assert _bulk_requests() == 1, "an unusable answer is not retried"
    with DataMonitor(load_config(conf)) as dm:
        assert dm.store.count(PENDING) == 1


def test_a_server_that_is_not_elasticsearch_is_one_line(
        endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _Endpoint.answer = (200, {}, b'{"items": []}')
    conf = _fast_config(tmp_path, endpoint)
    code = main(["--config", str(conf), "send", '{"name": "rows", "value": 1}'])
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1
    assert f"the answer of {endpoint} cannot be used (it is not Elasticsearch)" in err


@pytest.mark.parametrize("command", ["send", "file", "disk"])
def test_a_refused_connection_fails_fast_with_one_line_and_exit_3_everywhere(
        command: str, closed_port_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``file`` and ``disk`` exited 0 after 20 s of retries, ``send`` 3; now one attempt and 3 everywhere."""
    data = tmp_path / "t.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    argv = {"send": ["send", '{"name": "rows", "value": 1}'], "file": ["file", str(data)],
            "disk": ["disk", str(tmp_path)]}[command]
    conf = _fast_config(tmp_path, closed_port_url, max_retries=5)
    code = main(["--config", str(conf), *argv])
    err = capsys.readouterr().err
    assert code == 3, err
    lines = err.splitlines()
    assert len(lines) == 1 and "connection refused" in lines[0] and "wait in the store" in lines[0], lines
    assert "retry" not in err
    with DataMonitor(load_config(conf)) as dm:
        assert dm.store.count(PENDING) >= 1, "the documents are kept"


def test_report_from_an_unreachable_cluster_points_to_local(
        closed_port_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = _fast_config(tmp_path, closed_port_url)
    code = main(["--config", str(conf), "report", "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1
    assert "connection refused" in err and "add --local to report from the local store" in err


def test_space_is_documented_as_an_id(capsys: pytest.CaptureFixture[str]) -> None:
    """Kibana's URL uses the space id (/s/<id>/), not its display name."""
    with pytest.raises(SystemExit):
        main(["setup", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--space ID" in text and "by its id" in text and "not its display name" in text
