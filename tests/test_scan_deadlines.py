"""Deadlines that a hostile server cannot stretch (issue 11, item 4): a reply that trickles in one
byte a second fails the scan when its reply deadline passes, not when the server stops sending;
the whole scan has a deadline of its own; a cancel is seen while waiting on such a server.

The servers are `TrickleServer`s on loopback (they close after 30 s, so a scanner that only
has an idle timer fails these tests instead of hanging them) and private redis-servers."""

from __future__ import annotations

import threading
import time

import pytest
from scan_fixtures import DRIFT_INSTANCE, client, drift_design, options
from trickle_server import TrickleServer

from advisor.core.scan import ScanError, ScanReport, ScanTarget, namespace_specs, run_scan
from advisor.lib.redisproc import RedisProcess

# Generous: the machine is shared and loaded; what matters is "seconds", not "the server's life".
MARGIN_S = 4.0


def _scan(url: str, *, cancel=None, **opts) -> ScanReport:
    design = drift_design(url)
    target = ScanTarget.from_instance(design.instance(DRIFT_INSTANCE))
    return run_scan(target, namespace_specs(design, DRIFT_INSTANCE), options(**opts), cancel=cancel)


def test_a_reply_trickled_a_byte_a_second_fails_at_its_reply_deadline():
    with TrickleServer(slow={"INFO"}) as server:
        start = time.monotonic()
        with pytest.raises(ScanError) as e:
            _scan(server.url, read_timeout=2.0)
        elapsed = time.monotonic() - start
        trickled = server.bytes_trickled
    assert e.value.kind == "timeout"
    assert e.value.reason == f"127.0.0.1:{server.port} stopped answering (no complete reply within 2s)"
    assert trickled >= 1  # bytes did come in: an idle timer would have been reset by each of them
    assert elapsed < 2.0 + MARGIN_S


def test_a_trickled_scan_reply_ends_the_scan_incomplete_at_its_reply_deadline():
    with TrickleServer(slow={"SCAN"}) as server:
        start = time.monotonic()
        report = _scan(server.url, read_timeout=2.0)
        elapsed = time.monotonic() - start
    assert report.status == "completed" and not report.complete
    assert report.error_kind == "timeout" and "no complete reply within 2s" in report.error
    assert report.server.redis_version == "7.2.4"  # the facts came in before the SCAN stalled
    assert elapsed < 2.0 + MARGIN_S


def test_the_whole_scan_has_a_deadline_even_when_every_reply_is_in_time():
    # Each SCAN reply trickles in within its reply deadline (under a second of 3 s), and SCAN never
    # ends: only the scan's own deadline stops it.
    with TrickleServer(slow={"SCAN"}, byte_every=0.003) as server:
        start = time.monotonic()
        report = _scan(server.url, read_timeout=3.0, scan_timeout=4.0)
        elapsed = time.monotonic() - start
    assert not report.complete and report.error_kind == "timeout"
    assert report.error == "the scan did not finish within its time limit of 4s"
    assert report.keys_scanned >= 10  # it did read: the replies were in time
    assert elapsed < 4.0 + MARGIN_S


def test_the_scan_deadline_also_ends_a_scan_that_waits_for_its_ops_budget():
    with RedisProcess() as server:
        r = client(server)
        pipe = r.pipeline(transaction=False)
        for i in range(5000):
            pipe.set(f"prod:catalog:product:v3:{i}", "x", ex=600)
        pipe.execute()
        start = time.monotonic()
        # ~10,000 commands at 200 a second would take 50 s
        report = _scan(server.url, max_ops=200, scan_timeout=2.0)
        elapsed = time.monotonic() - start
    assert not report.complete and report.error_kind == "timeout"
    assert "time limit of 2s" in report.error
    assert 0 < report.keys_scanned < 5000 and report.paused_s > 0
    assert elapsed < 2.0 + MARGIN_S


def test_a_cancel_is_seen_while_waiting_on_a_trickling_server():
    cancelled = threading.Event()
    with TrickleServer(slow={"SCAN"}) as server:
        threading.Timer(1.0, cancelled.set).start()
        start = time.monotonic()
        report = _scan(server.url, read_timeout=25.0, cancel=cancelled.is_set)
        elapsed = time.monotonic() - start
    assert report.status == "cancelled" and not report.complete
    assert elapsed < 1.0 + MARGIN_S  # not the 25 s reply deadline


def test_a_tls_handshake_trickled_a_byte_a_second_fails_at_the_connect_timeout():
    with TrickleServer(tls_header_trickle=True) as server:
        start = time.monotonic()
        with pytest.raises(ScanError) as e:
            _scan(f"rediss://127.0.0.1:{server.port}/0", connect_timeout=2.0)
        elapsed = time.monotonic() - start
        trickled = server.bytes_trickled
    assert e.value.kind == "tls" and "no answer within 2s" in e.value.reason
    assert trickled >= 1
    assert elapsed < 2.0 + MARGIN_S


def test_the_time_limits_are_checked():
    for bad in ({"read_timeout": 0}, {"connect_timeout": -1}, {"scan_timeout": 0}):
        with pytest.raises(ValueError, match="must be > 0"):
            options(**bad)
