"""Security: TLS verified by default, CA bundles and client certificates, no secret anywhere, safe defaults."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from datamonitor import ClusterUnreachable, DataMonitor, load_config
from datamonitor.cli import main
from datamonitor.errors import PayloadError
from datamonitor.notify import WebhookNotifier
from datamonitor.sources.udp import UdpListener, parse_datagram, sign
from datamonitor.sources.watch import DirectoryWatcher
from datamonitor.tests.helpers import wait_until, wait_until_async

trustme = pytest.importorskip("trustme")

SECRET = "Sup3r-S3cret-Pa55w0rd-9f2c"
API_KEY = "QXBpS2V5LXNlY3JldC0xMjM0NTY3ODkw"


@contextmanager
def tls_server(ca: Any, *, require_client_cert: bool) -> Iterator[tuple[int, dict[str, Any]]]:
    """A TLS listener on loopback that records each handshake and closes: it speaks no HTTP, it proves TLS."""
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(ctx)
    if require_client_cert:
        ca.configure_trust(ctx)
        ctx.verify_mode = ssl.CERT_REQUIRED
    seen: dict[str, Any] = {"handshakes": 0, "errors": [], "peer": None}
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    seen["handshakes"] += 1
                    seen["peer"] = tls.getpeercert()
            except (ssl.SSLError, OSError) as exc:
                seen["errors"].append(str(exc))
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], seen
    finally:
        stop.set()
        thread.join()
        sock.close()


def test_tls_is_verified_by_default_and_an_unknown_ca_is_refused(home: Path) -> None:
    ca = trustme.CA()
    with tls_server(ca, require_client_cert=False) as (port, seen), \
            DataMonitor(load_config(home=home, es_url=f"https://127.0.0.1:{port}")) as dm:
        assert dm.config.es.verify_certs is True
        with pytest.raises(ClusterUnreachable, match=r"TLS handshake .* failed"):
            dm.es_info()
    assert seen["handshakes"] == 0, "the client refused a certificate from a CA it was not given"


def test_a_ca_bundle_and_a_client_certificate_are_used(home: Path, tmp_path: Path) -> None:
    ca = trustme.CA()
    client = ca.issue_cert("datamonitor-client@example.org")
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "client.pem", tmp_path / "client.key"
    ca.cert_pem.write_to_path(str(ca_file))
    client.cert_chain_pems[0].write_to_path(str(cert_file))
    client.private_key_pem.write_to_path(str(key_file))
    toml = home.parent / "tls.toml"
    toml.write_text(f'[elasticsearch]\nca_certs = "{ca_file}"\nclient_cert = "{cert_file}"\nclient_key = "{key_file}"\n')
    with tls_server(ca, require_client_cert=True) as (port, seen):
        with DataMonitor(load_config(toml, home=home, es_url=f"https://127.0.0.1:{port}")) as dm:
            with pytest.raises(ClusterUnreachable) as err:
                dm.es_info()  # the handshake succeeds; this listener then hangs up, as no cluster would
            assert "TLS" not in str(err.value)
        assert seen["handshakes"] >= 1, seen["errors"]
        assert ("email", "datamonitor-client@example.org") in seen["peer"]["subjectAltName"], "the client's own cert"
    # without the client certificate, a server that requires one refuses the handshake
    with tls_server(ca, require_client_cert=True) as (port, seen):
        bare = home.parent / "bare.toml"
        bare.write_text(f'[elasticsearch]\nca_certs = "{ca_file}"\n')
        with DataMonitor(load_config(bare, home=home, es_url=f"https://127.0.0.1:{port}")) as dm, \
                pytest.raises(ClusterUnreachable):
            dm.es_info()
        assert seen["handshakes"] == 0


def test_turning_verification_off_warns(home: Path, caplog: pytest.LogCaptureFixture) -> None:
    from elastic_transport import SecurityWarning

    with DataMonitor(load_config(home=home)) as dm, pytest.warns(SecurityWarning):
        dm.es_connect("https://127.0.0.1:9", verify_certs=False)
    assert "TLS certificate verification is OFF" in caplog.text


def test_no_secret_in_logs_output_json_errors_or_repr(home: Path, capsys: pytest.CaptureFixture[str],
                                                     caplog: pytest.LogCaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Known secrets go in through every door; nothing that a user or a log can see may hold them."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("DATAMONITOR_ES_PASSWORD", SECRET)
    monkeypatch.setenv("DATAMONITOR_ES_USERNAME", "elastic")
    monkeypatch.setenv("DATAMONITOR_SMTP_PASSWORD", SECRET)
    hook = f"https://hooks.example.org/services/T000/B000/{SECRET}"
    conf = home.parent / "secret.toml"
    conf.write_text(f'[elasticsearch]\napi_key = "{API_KEY}"\nrequest_timeout = 1\nmax_retries = 0\n'
                    f'[[notifiers]]\ntype = "webhook"\nurl = "{hook}"\n')
    unreachable = f"https://elastic:{SECRET}@127.0.0.1:9"
    seen: list[str] = []
    for argv in (["status"], ["status", "--json"], ["info"], ["ship"], ["-vv", "send", '{"name": "rows", "value": 1}'],
                 ["--json", "send", '{"name": "rows", "value": 2}'], ["search", "--json"], ["get", "nope"]):
        for es in (unreachable, None):
            args = ["--home", str(home), "--config", str(conf)] + (["--es", es] if es else []) + argv
            main(args)
            out = capsys.readouterr()
            seen += [out.out, out.err]
    with DataMonitor(load_config(conf, home=home, es_url=unreachable)) as dm:
        seen += [repr(dm), str(dm.config), repr(dm.config.es), str(dm.status())]
        try:
            dm.es_info()
        except Exception as exc:  # noqa: BLE001 - the message is what we scan
            seen.append(str(exc))
    seen.append(repr(WebhookNotifier(hook, headers={"Authorization": f"Bearer {SECRET}"})))
    seen += [r.getMessage() for r in caplog.records]
    everything = "\n".join(seen)
    assert "cannot reach" in everything or "TLS" in everything, "the commands really ran"
    basic = base64.b64encode(f"elastic:{SECRET}".encode()).decode()
    for secret in (SECRET, API_KEY, basic):
        assert secret not in everything


def test_the_udp_listener_binds_to_loopback_and_caps_datagrams() -> None:
    listener = UdpListener(port=0)
    assert listener.host == "127.0.0.1"

    async def run() -> None:
        task = asyncio.create_task(listener.serve())
        bound = await wait_until_async(lambda: listener.bound, what="the listener bound")
        assert bound[0] == "127.0.0.1"
        listener.stop()
        await task

    asyncio.run(run())
    with pytest.raises(PayloadError, match="over the 8192-byte limit"):
        parse_datagram(b"x:1|c\n" * 2000)
    with pytest.raises(PayloadError, match="bad HMAC"):
        parse_datagram(sign(b"x:1|c", b"someone-else"), secret=b"ours")


def test_the_watcher_never_follows_a_symlink_out_of_its_root_and_survives_loops(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.csv").write_text("a\n1\n")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)  # root/sub/loop -> root: a cycle
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "link.csv").symlink_to(outside / "secret.csv")
    (root / "sub" / "own.csv").write_text("a\n1\n")
    measured: list[Path] = []
    watcher = DirectoryWatcher([root], measured.append, recursive=True, settle=0.05)
    watcher.start()
    try:
        (outside / "new.csv").write_text("a\n2\n")  # reachable only through the escape link
        (root / "sub" / "late.csv").write_text("a\n3\n")
        wait_until(lambda: len(measured) >= 2, what="own.csv and late.csv measured")
        # a barrier: a last file in the same folder; once it is measured and the watcher idle, every earlier event
        # (one that followed the escape link, say) was handled
        (root / "sub" / "zz-barrier.csv").write_text("a\n4\n")
        wait_until(lambda: "zz-barrier.csv" in {p.name for p in measured} and watcher.idle(),
                   what="the barrier measured")
    finally:
        watcher.stop()
    measured = [p for p in measured if p.name != "zz-barrier.csv"]
    assert sorted(p.name for p in measured) == ["late.csv", "own.csv"]
    assert all(outside not in p.resolve().parents for p in measured)


@pytest.mark.parametrize("mode, warned", [(0o644, True), (0o640, True), (0o600, False)])
def test_a_config_with_secrets_readable_by_others_is_warned_about(tmp_path: Path, mode: int, warned: bool,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text(f'[elasticsearch]\nurl = "https://elastic:{SECRET}@es:9200"\n')
    os.chmod(conf, mode)
    load_config(conf, env={})
    assert ("other users can read it" in caplog.text) is warned
    assert SECRET not in caplog.text


def test_a_config_without_secrets_is_not_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('[elasticsearch]\nurl = "https://es:9200"\n')
    os.chmod(conf, 0o644)
    load_config(conf, env={})
    assert "other users can read it" not in caplog.text


def test_the_service_warns_about_a_readable_config_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from datamonitor.service import load_service

    conf = tmp_path / "c.toml"
    conf.write_text(f'[elasticsearch]\npassword = "{SECRET}"\nusername = "u"\n'
                    f'[[monitors]]\ntype = "disk"\npaths = ["{tmp_path}"]\n')
    os.chmod(conf, 0o644)
    load_config(conf, env={})
    load_service(conf)  # 'datamonitor run' reads the file twice
    assert caplog.text.count("other users can read it") == 1
