"""The ops budget is a budget over any one-second window, as the server counts, pauses included
(issue 11, item 6: after a 20 s stop of the server the scanner sent 6,467 commands in one
second with a budget of 300).

The server-side count comes from MONITOR on a private redis-server: every command it executes,
with the time it executed it."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest
from scan_fixtures import DRIFT_INSTANCE, client, drift_design, options

from advisor.core.scan import ScanTarget, namespace_specs, run_scan
from advisor.core.scan import reader as reader_mod
from advisor.core.scan.reader import Budget
from advisor.lib.redisproc import RedisProcess

BUDGET = 300


class Monitor:
    """MONITOR on its own connection: the execution time of every command the server runs."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=0.5)
        self.sock.sendall(b"MONITOR\r\n")
        self.times: list[float] = []
        self._stop = threading.Event()
        self._buffer = b""
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            self._buffer += data
            *lines, self._buffer = self._buffer.split(b"\r\n")
            for line in lines:
                # +1718000000.123456 [0 127.0.0.1:5555] "TYPE" "key"   (the first line is +OK)
                if line.startswith(b"+") and b" [" in line:
                    self.times.append(float(line[1:].split(b" ", 1)[0]))

    def stop(self) -> list[float]:
        time.sleep(0.3)  # the last lines
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        return sorted(self.times)


def busiest_second(times: list[float]) -> int:
    """The most commands in any window [t, t + 1 s) that starts at a command."""
    best, j = 0, 0
    for i, t in enumerate(times):
        while j < len(times) and times[j] < t + 1.0:
            j += 1
        best = max(best, j - i)
    return best


@pytest.mark.slow
def test_no_second_exceeds_the_budget_even_right_after_the_server_was_paused():
    with RedisProcess() as server:
        r = client(server)
        pipe = r.pipeline(transaction=False)
        for i in range(1500):
            pipe.set(f"prod:catalog:product:v3:{i}", "x" * 50, ex=600)
        pipe.execute()
        r.close()
        monitor = Monitor(server.port)
        pid = server.proc.pid
        paused = []

        def pause(progress):
            if progress.keys_scanned >= 400 and not paused:
                os.kill(pid, signal.SIGSTOP)
                paused.append(time.monotonic())
                threading.Timer(3.0, os.kill, (pid, signal.SIGCONT)).start()

        design = drift_design(server.url)
        target = ScanTarget.from_instance(design.instance(DRIFT_INSTANCE))
        try:
            report = run_scan(
                target,
                namespace_specs(design, DRIFT_INSTANCE),
                options(max_ops=BUDGET, read_timeout=20.0),
                progress=pause,
            )
        finally:
            os.kill(pid, signal.SIGCONT)
        times = monitor.stop()
    assert paused and report.complete and report.keys_scanned == 1500, report.error
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) >= 2.5  # the pause is in the record
    assert len(times) >= report.ops_sent  # MONITOR saw every command (and the set-up ones)
    assert busiest_second(times) <= BUDGET


# -- the accounting, on a clock of our own (no timing)


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(reader_mod.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(reader_mod.time, "sleep", fake.sleep)
    return fake


def test_batches_answered_after_a_pause_still_count_for_a_second(clock):
    b = Budget(100)
    first = b.acquire(40)
    clock.now += 0.4
    second = b.acquire(40)  # paced: 40 commands at 100/s
    clock.now += 20  # the server stops for 20 s; both batches are answered when it comes back
    b.release(first)
    b.release(second)
    t = clock.now
    b.acquire(40)
    # 80 answered just now + 40 > 100: the third batch waits until the first leaves the window
    assert clock.now == pytest.approx(t + 1.0, abs=0.11)


def test_a_batch_in_flight_counts_until_it_is_answered(clock):
    b = Budget(100)
    b.acquire(60)
    clock.now += 30  # no reply for 30 s: still in flight, still in every window
    assert b.must_drain(50)
    with pytest.raises(RuntimeError):
        b.acquire(50)  # the reader reads the batch in flight first; waiting could not help
    assert not b.must_drain(40)
    b.acquire(40)  # fits beside it
    assert clock.slept == 0


def test_pacing_spreads_the_budget_over_the_second(clock):
    b = Budget(1000)
    start = clock.now
    for _ in range(5):
        b.release(b.acquire(100))
    assert clock.now - start == pytest.approx(0.4, abs=0.01)


def test_a_batch_bigger_than_the_whole_budget_goes_alone(clock):
    b = Budget(5)
    b.release(b.acquire(6))
    t = clock.now
    b.release(b.acquire(6))
    assert clock.now >= t + 1.0  # once the window is empty, and only then


def test_no_budget_never_waits(clock):
    b = Budget(None)
    for _ in range(100):
        b.release(b.acquire(10_000))
    assert clock.slept == 0 and b.ops == 1_000_000 and not b.must_drain(10**9)
