"""Faults: each ends as a failed scan with a clear reason, or a completed one with complete: false,
and never hangs. Every server is a private redis-server on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest
from scan_fixtures import (
    DRIFT_INSTANCE,
    TODAY,
    client,
    drift_design,
    findings_summary,
    make_tls_files,
    options,
)

from advisor.core.scan import ScanError, ScanReport, ScanTarget, evaluate_drift, namespace_specs, run_scan
from advisor.core.scan import connect as connect_mod
from advisor.lib.redisproc import RedisProcess, free_port

CANNOT_CONCLUDE = {"DRF011"}  # "nothing there" conclusions an incomplete scan must not draw


def _scan(url: str, *, credential: str = "none", progress=None, **opts) -> ScanReport:
    design = drift_design(url, credential=credential)
    target = ScanTarget.from_instance(design.instance(DRIFT_INSTANCE))
    return run_scan(target, namespace_specs(design, DRIFT_INSTANCE), options(**opts), progress=progress)


def _fails(kind: str, url: str, **kw) -> ScanError:
    start = time.monotonic()
    with pytest.raises(ScanError) as e:
        _scan(url, **kw)
    assert e.value.kind == kind, e.value.reason
    assert "\n" not in e.value.reason
    assert time.monotonic() - start < 6
    return e.value


def _load(server: RedisProcess, n: int = 20_000) -> None:
    r = client(server)
    for start in range(0, n, 5000):
        p = r.pipeline(transaction=False)
        for i in range(start, min(start + 5000, n)):
            p.set(f"prod:catalog:product:v3:{i}", "x", ex=600)
        p.execute()


def test_an_unreachable_port_fails_at_once():
    port = free_port()
    err = _fails("unreachable", f"redis://127.0.0.1:{port}/0")
    assert err.reason == f"connection to 127.0.0.1:{port} refused: nothing listens there"


def test_a_host_off_the_allowlist_is_refused_before_any_connection():
    with RedisProcess() as server:
        before = client(server).info("stats")["total_connections_received"]
        err = _fails("refused_host", server.url, allowed_hosts=[".redis.azure.net"])
        assert "127.0.0.1 is not on the scan allowlist" in err.reason
        assert client(server).info("stats")["total_connections_received"] == before + 1  # our own INFO only
    # a name that does not resolve is refused, not looked up
    err = _fails("refused_host", "redis://scanner-test.invalid:6379/0", allowed_hosts=["127.0.0.1"])
    assert "scanner-test.invalid" in err.reason


def test_a_wrong_password_is_an_auth_error(monkeypatch):
    with RedisProcess(args=["--requirepass", "right-pw"]) as server:
        monkeypatch.setenv("LAB_PW", "wrong-pw")
        err = _fails("auth", server.url, credential="env:LAB_PW")
        assert err.reason.startswith(f"authentication to 127.0.0.1:{server.port} failed: WRONGPASS")
        assert "wrong-pw" not in err.reason
        err = _fails("auth", server.url)
        assert "requires a password and none was given" in err.reason
        monkeypatch.setenv("LAB_PW", "right-pw")
        assert _scan(server.url, credential="env:LAB_PW").complete


def test_tls_to_a_plain_port_fails_fast_with_a_clear_reason():
    with RedisProcess() as server:
        # A plain port waits for a line that a ClientHello never ends; the handshake gets the
        # connect timeout, then a reason that says what is probably wrong.
        err = _fails("tls", f"rediss://127.0.0.1:{server.port}/0", connect_timeout=1.0)
        assert err.reason.startswith(f"TLS handshake with 127.0.0.1:{server.port}")
        assert "plain-text port" in err.reason or "TLS port" in err.reason


def test_tls_verifies_the_certificate(tmp_path):
    files = make_tls_files(tmp_path)
    tls_port = free_port()
    args = ["--tls-port", str(tls_port), "--tls-cert-file", files["cert"], "--tls-key-file", files["key"]]
    args += ["--tls-ca-cert-file", files["ca"], "--tls-auth-clients", "no"]
    with RedisProcess(args=args) as server:
        client(server).set("prod:catalog:product:v3:1", "x", ex=600)
        url = f"rediss://localhost:{tls_port}/0"
        report = _scan(url, tls_ca_file=files["ca"])
        assert report.complete and report.keys_scanned == 1
        # without our CA the certificate is not trusted: verification is never switched off
        err = _fails("tls", url)
        assert "certificate" in err.reason


def test_a_server_that_stops_answering_ends_the_scan_within_the_timeout():
    with RedisProcess() as server:
        _load(server)
        pid = server.proc.pid
        stopped = threading.Event()

        def freeze(p):
            if p.keys_scanned >= 2000 and not stopped.is_set():
                os.kill(pid, signal.SIGSTOP)
                stopped.set()

        start = time.monotonic()
        try:
            report = _scan(server.url, count=500, read_timeout=1.0, progress=freeze)
        finally:
            os.kill(pid, signal.SIGCONT)
        assert stopped.is_set()
        assert time.monotonic() - start < 5
    assert report.status == "completed" and not report.complete
    assert report.error_kind == "timeout" and "stopped answering" in report.error
    assert 2000 <= report.keys_scanned < 20_000
    rules = {f.rule for f in evaluate_drift(drift_design(server.url), DRIFT_INSTANCE, report, TODAY)}
    assert not rules & CANNOT_CONCLUDE


def test_a_server_restarted_mid_scan_ends_the_scan_incomplete():
    with RedisProcess() as server:
        _load(server)
        port = server.port
        restarted = []

        def restart(p):
            if p.keys_scanned >= 2000 and not restarted:
                server.stop()
                restarted.append(RedisProcess(port=port).start())

        try:
            report = _scan(server.url, count=500, progress=restart)
        finally:
            for s in restarted:
                s.stop()
    assert restarted
    assert not report.complete and report.error_kind == "unreachable"
    assert "closed the connection" in report.error or "lost" in report.error
    assert report.keys_scanned >= 2000


def test_a_server_that_never_answers_the_handshake_times_out():
    # A listener that accepts and then says nothing, like a wedged server or a black-holing proxy.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        err = _fails("timeout", f"redis://127.0.0.1:{port}/0", read_timeout=1.0)
        assert "stopped answering" in err.reason
    finally:
        listener.close()


def test_a_garbled_server_is_a_protocol_error():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def serve():
        conn, _ = listener.accept()
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        time.sleep(0.5)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        err = _fails("protocol", f"redis://127.0.0.1:{port}/0")
        assert "does not speak RESP" in err.reason
    finally:
        listener.close()


def test_an_entra_id_token_failure_fails_the_scan_before_reading(monkeypatch):
    from redis.auth.err import RequestTokenErr
    from redis_entraid import cred_provider

    class NoToken:
        def request_token(self, force_refresh=False):
            raise RequestTokenErr("ManagedIdentityCredential: no managed identity endpoint found")

    monkeypatch.setattr(connect_mod, "_ENTRA_PROVIDERS", {})
    monkeypatch.setattr(
        cred_provider, "_create_provider_from_default_azure_credential", lambda config: NoToken()
    )
    with RedisProcess() as server:
        err = _fails("auth", server.url, credential="entra-id")
    assert (
        err.reason
        == "could not get an Entra ID token: ManagedIdentityCredential: no managed identity endpoint found"
    )


def test_an_entra_id_token_authenticates_as_its_object_id_and_again_while_scanning(monkeypatch):
    """A token is sent as AUTH <oid> <token>, as Azure Managed Redis expects, and sent again
    (the provider's fresh token) while a long scan runs, before the old one expires."""
    handed_out = []

    class Provider:
        def get_credentials(self):
            handed_out.append(1)
            return ("4d1b0a52-oid", "eyJ-token-value")

    monkeypatch.setattr(connect_mod, "_ENTRA_PROVIDERS", {None: Provider()})
    monkeypatch.setattr(connect_mod, "ENTRA_REAUTH_INTERVAL_S", 0.0)  # every batch, for the test
    with RedisProcess() as server:
        _load(server, 3000)
        r = client(server)
        r.execute_command(
            "ACL", "SETUSER", "4d1b0a52-oid", "on", ">eyJ-token-value", "allcommands", "allkeys"
        )
        r.execute_command("ACL", "SETUSER", "default", "off")
        report = _scan(server.url, credential="entra-id", count=500)
        r.execute_command("AUTH", "4d1b0a52-oid", "eyJ-token-value")
        auths = r.info("commandstats")["cmdstat_auth"]["calls"]
    assert report.complete and report.keys_scanned == 3000
    assert auths >= 6 and len(handed_out) >= 6  # the first AUTH, then one ahead of each batch


def test_a_failed_scan_report_concludes_nothing():
    report = ScanReport.failed("lab-cache", ScanError("unreachable", "connection refused"))
    assert report.status == "failed" and not report.complete and report.error_kind == "unreachable"
    assert (
        findings_summary(evaluate_drift(drift_design("redis://127.0.0.1:1/0"), DRIFT_INSTANCE, report, TODAY))
        == []
    )
