"""The read loop: SCAN, TYPE, PTTL and MEMORY USAGE over one node, fast and within budget.

Each round trip carries one whole batch as a single pre-encoded RESP buffer: TYPE and PTTL for
every key the previous SCAN returned, then MEMORY USAGE for the sampled ones, then the next SCAN. The replies to TYPE, PTTL and MEMORY USAGE are one line each, so they are cut
out of the socket buffer with one `split` instead of parsing reply by reply; only the SCAN reply
(keys may hold any byte) goes through hiredis. The next batch is sent before the current one is
folded into the statistics, so the server works while Python does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain, repeat
from operator import add

from advisor.core.scan.aggregate import Aggregator
from advisor.core.scan.connect import Credentials, NodeConnection
from advisor.core.scan.errors import ScanError

_TYPE = b"*2\r\n$4\r\nTYPE\r\n"
_PTTL = b"*2\r\n$4\r\nPTTL\r\n"
_MEMORY = b"*3\r\n$6\r\nMEMORY\r\n$5\r\nUSAGE\r\n"
_BULK = b"$%d\r\n%b\r\n".__mod__
_CRLF = b"\r\n"
_LEN_PREFIX = [b"$%d\r\n" % n for n in range(1024)]


def _scan_command(cursor: bytes, count: int) -> bytes:
    c = b"%d" % count
    return b"*4\r\n$4\r\nSCAN\r\n$%d\r\n%b\r\n$5\r\nCOUNT\r\n$%d\r\n%b\r\n" % (len(cursor), cursor, len(c), c)


class Budget:
    """Commands per second, kept by pausing before a batch is sent (a token bucket without burst)."""

    def __init__(self, max_ops: int | None):
        self.max_ops = max_ops
        self.start = time.monotonic()
        self.ops = 0
        self.paused_s = 0.0

    def wait(self, ops: int, should_stop: Callable[[], bool]) -> bool:
        """Pause until `ops` more commands fit; False when told to stop while pausing."""
        if self.max_ops is not None:
            due = self.start + self.ops / self.max_ops
            while True:
                delay = due - time.monotonic()
                if delay <= 0:
                    break
                if should_stop():
                    return False
                step = min(delay, 0.1)
                time.sleep(step)
                self.paused_s += step
        self.ops += ops
        return True


class KeyLimit:
    """`max_keys` shared by all nodes of a scan."""

    def __init__(self, max_keys: int | None):
        self.max_keys = max_keys
        self.taken = 0

    def take(self, n: int) -> int:
        if self.max_keys is None:
            self.taken += n
            return n
        n = max(0, min(n, self.max_keys - self.taken))
        self.taken += n
        return n

    @property
    def exhausted(self) -> bool:
        return self.max_keys is not None and self.taken >= self.max_keys


class Sampler:
    """Which keys of a batch get MEMORY USAGE: evenly spread, `rate` of them over the whole scan."""

    def __init__(self, rate: float):
        self.rate = rate
        self._acc = 0.0
        inverse = 1 / rate if rate > 0 else 0
        # 0.1, 0.25, 0.5...: every k-th key, with the phase carried from batch to batch
        self._step = round(inverse) if rate > 0 and abs(inverse - round(inverse)) < 1e-9 else None
        self._next = (self._step or 0) - 1

    def positions(self, n: int) -> list[int]:
        rate = self.rate
        if rate >= 1.0:
            return list(range(n))
        if rate <= 0.0 or n == 0:
            return []
        if self._step is not None:
            out = list(range(self._next, n, self._step))
            self._next = (out[-1] + self._step - n) if out else self._next - n
            return out
        start = self._acc
        end = start + n * rate
        self._acc = end
        ticks = range(math.floor(start) + 1, math.floor(end) + 1)
        return [min(n - 1, int((t - start) / rate - 1e-9)) for t in ticks]


@dataclass
class NodeOutcome:
    keys: int = 0  # keys examined that still existed
    vanished: int = 0  # returned by SCAN, gone by TYPE/PTTL
    key_errors: int = 0  # TYPE answered with an error (MOVED during resharding, ...)
    complete: bool = False
    stopped: bool = False  # by cancellation
    error: ScanError | None = None


class NodeReader:
    """Scans one node into an Aggregator."""

    def __init__(
        self,
        conn: NodeConnection,
        agg: Aggregator,
        *,
        count: int,
        sampler: Sampler,
        budget: Budget,
        key_limit: KeyLimit,
        should_stop: Callable[[], bool],
        on_batch: Callable[[NodeOutcome], None] | None = None,
        credentials: Credentials | None = None,
    ):
        self.conn = conn
        self.agg = agg
        self.count = count
        self.sampler = sampler
        self.budget = budget
        self.key_limit = key_limit
        self.should_stop = should_stop
        self.on_batch = on_batch
        self.credentials = credentials
        self.outcome = NodeOutcome()
        self._buf = bytearray()

    # -- the loop

    def run(self) -> NodeOutcome:
        out = self.outcome
        pending = None
        try:
            if not self.budget.wait(1, self.should_stop):
                out.stopped = True
                return out
            self.conn.sendall(_scan_command(b"0", self.count))
            cursor, keys = self._read_scan()
            finished = cursor == b"0"
            while True:
                if self.should_stop():
                    out.stopped = True
                    keys, finished = [], True
                taken = self.key_limit.take(len(keys))
                truncated = taken < len(keys) or (not finished and self.key_limit.exhausted)
                if taken < len(keys):
                    keys = keys[:taken]
                want_scan = not finished and not truncated
                sent = None
                if keys or want_scan:
                    ix = self.agg.match(keys)
                    mem_pos = self._memory_positions(ix)
                    ops = 2 * len(keys) + len(mem_pos) + want_scan
                    if not self.budget.wait(ops, self.should_stop):
                        out.stopped = True
                        if pending is not None:
                            self._fold(pending)
                        return out
                    self._maybe_reauth()
                    self.conn.sendall(self._request(keys, mem_pos, cursor if want_scan else None))
                    sent = (keys, ix, mem_pos, want_scan)
                if pending is not None:
                    batch, pending = pending, None
                    self._fold(batch)
                if sent is None:
                    out.complete = finished and not truncated and not out.stopped
                    return out
                keys, ix, mem_pos, want_scan = sent
                types, pttls, mems = self._read_lines(len(keys), len(mem_pos))
                pending = (keys, ix, types, pttls, mem_pos, mems)
                if want_scan:
                    cursor, keys = self._read_scan()
                    finished = cursor == b"0"
                else:
                    keys, finished = [], True
                    if truncated:
                        # Stop here: the node has keys beyond max_keys; its scan is not complete.
                        self._fold(pending)
                        return out
        except ScanError as exc:
            out.error = exc
            if pending is not None:
                self._fold(pending)
            return out

    def _memory_positions(self, ix: list[int]) -> list[int]:
        rate = self.sampler.rate
        if rate >= 1.0:
            return list(range(len(ix)))
        if rate <= 0.0:
            return []
        return self.agg.memory_positions(ix, self.sampler.positions(len(ix)))

    def _maybe_reauth(self) -> None:
        creds = self.credentials
        if creds is None or creds.reauth_interval_s is None:
            return
        if time.monotonic() - self.conn.last_auth >= creds.reauth_interval_s:
            self.conn.authenticate(creds)

    def _fold(self, batch) -> None:
        keys = batch[0]
        kept = self.agg.add_batch(*batch)
        self.outcome.keys += kept
        self.outcome.vanished += len(keys) - kept
        if self.on_batch is not None:
            self.on_batch(self.outcome)

    # -- encoding

    def _request(self, keys: list[bytes], mem_pos: list[int], cursor: bytes | None) -> bytes:
        parts = []
        if keys:
            lens = list(map(len, keys))
            if max(lens) < len(_LEN_PREFIX):
                # `$<len>\r\n` from a table, then two concatenations: cheaper than formatting.
                enc = list(map(add, map(add, map(_LEN_PREFIX.__getitem__, lens), keys), repeat(_CRLF)))
            else:
                enc = list(map(_BULK, zip(lens, keys, strict=True)))
            # TYPE and PTTL of one key side by side: the server finds the key still in its cache.
            parts.append(
                b"".join(chain.from_iterable(zip(repeat(_TYPE), enc, repeat(_PTTL), enc, strict=False)))
            )
            if mem_pos:
                sampled = enc if len(mem_pos) == len(enc) else [enc[p] for p in mem_pos]
                parts += (_MEMORY, _MEMORY.join(sampled))
        if cursor is not None:
            parts.append(_scan_command(cursor, self.count))
        return b"".join(parts)

    # -- decoding

    def _fill(self) -> None:
        self._buf += self.conn.recv()

    def _read_lines(self, n_keys: int, n_mem: int) -> tuple[list[bytes], list[int], list[int | None]]:
        """The single-line replies of one batch: TYPEs, PTTLs, then MEMORY USAGEs."""
        n = 2 * n_keys + n_mem
        if n == 0:
            return [], [], []
        buf = self._buf
        found, pos = 0, 0
        while True:
            c = buf.count(_CRLF, pos)
            if found + c >= n:
                break
            if c:
                found += c
                pos = buf.rfind(_CRLF, pos) + 2
            self._fill()
        raw = bytes(buf)
        parts = raw.split(_CRLF, n)
        rest = parts.pop() if len(parts) > n else b""
        self._buf = bytearray(rest)
        types = parts[0 : 2 * n_keys : 2]
        if raw[:1] == b"-" or b"\n-" in raw:
            return self._slow_lines(parts, n_keys, n_mem)
        pttl_blob = b"".join(parts[1 : 2 * n_keys : 2])
        try:
            pttls = list(map(int, pttl_blob.split(b":")[1:]))
            if len(pttls) != n_keys:
                raise ValueError
        except ValueError:
            return self._slow_lines(parts, n_keys, n_mem)
        mems: list[int | None] = []
        if n_mem:
            mem_blob = b"".join(parts[2 * n_keys :])
            if b"$" in mem_blob or b"_" in mem_blob:
                mems = [_int_or_none(line) for line in parts[2 * n_keys :]]
            else:
                mems = list(map(int, mem_blob.split(b":")[1:]))
        return types, pttls, mems

    def _slow_lines(self, parts: list[bytes], n_keys: int, n_mem: int):
        """Replies with errors in them: a key that moved or is refused counts as gone."""
        types, pttls, mems = [], [], []
        errors: list[bytes] = []
        for line in parts[0 : 2 * n_keys : 2]:
            if line[:1] == b"+":
                types.append(line)
            else:
                types.append(b"+none")
                errors.append(line)
        for line in parts[1 : 2 * n_keys : 2]:
            value = _int_or_none(line)
            pttls.append(-2 if value is None else value)
        for line in parts[2 * n_keys : 2 * n_keys + n_mem]:
            mems.append(_int_or_none(line))
        if errors:
            self.outcome.key_errors += len(errors)
            if len(errors) == n_keys:
                text = errors[0][1:].decode("utf-8", "replace")
                kind = "auth" if text.startswith("NOPERM") else "protocol"
                raise ScanError(kind, f"{self.conn.endpoint.label} refused TYPE: {text[:200]}")
        return types, pttls, mems

    def _read_scan(self) -> tuple[bytes, list[bytes]]:
        reader = self.conn.reader
        if self._buf:
            reader.feed(bytes(self._buf))
            self._buf = bytearray()
        reply = self.conn.read_reply()
        if isinstance(reply, Exception):
            text = str(reply)
            kind = "auth" if text.startswith("NOPERM") else "protocol"
            raise ScanError(kind, f"{self.conn.endpoint.label} refused SCAN: {text[:200]}")
        if not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[1], list):
            raise ScanError("protocol", f"{self.conn.endpoint.label} sent an unexpected reply to SCAN")
        if reader.has_data():
            raise ScanError("protocol", f"{self.conn.endpoint.label} sent more replies than commands")
        return reply[0], reply[1]


def _int_or_none(line: bytes) -> int | None:
    if line[:1] == b":":
        try:
            return int(line[1:])
        except ValueError:
            return None
    return None
