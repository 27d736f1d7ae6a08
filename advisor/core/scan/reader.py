"""The read loop: SCAN, TYPE, PTTL, MEMORY USAGE and element counts over one node, within budget.

Each round trip carries one whole batch as a single pre-encoded RESP buffer: the next SCAN
first, then TYPE and PTTL for every key the previous SCAN returned, then MEMORY USAGE for the
sampled ones, then the element count (HLEN, SCARD, ZCARD, LLEN or XLEN: read-only and O(1)) of
the sampled keys of an earlier batch that turned out to be collections: a key's type is known
only once its TYPE reply is in, so its count rides on the next request sent. Two batches are in
flight: as soon as a request's SCAN reply is in, the next request is built and sent, and only
then are the previous batch's replies read and folded into the statistics, so the server always
has the next batch queued while Python works. Replies are parsed by hiredis, pulled with
`iter(reader.gets, ...)` so that no Python loop runs per reply.

A server that refuses MEMORY USAGE or a count command (renamed away, or not in the scanner's
ACL) is asked once; the refusal is recorded (`refused`) and the command not sent again.

Every request waits for the ops budget (`Budget`) before it goes out and gives its share back
once its replies are read; each round trip's replies must be in by the connection's reply
deadline, and the loop ends with ScanError(timeout) once the scan's own deadline has passed.
The stop check is asked before every request, while pausing for the budget and, through the
connection, while waiting on a slow server.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain, compress, islice, repeat
from operator import itemgetter

import hiredis

from advisor.core.scan.aggregate import Aggregator
from advisor.core.scan.connect import (
    INCOMPLETE,
    NO_DEADLINE,
    Credentials,
    Deadline,
    NodeConnection,
    encode_command,
)
from advisor.core.scan.errors import ScanError, ScanInterrupted
from advisor.core.scan.facts import refusal

_TYPE = b"*2\r\n$4\r\nTYPE\r\n"
_PTTL = b"*2\r\n$4\r\nPTTL\r\n"
_MEMORY = b"*3\r\n$6\r\nMEMORY\r\n$5\r\nUSAGE\r\n"
_BULK = b"$%d\r\n%b\r\n".__mod__
_CRLF = b"\r\n"
_ERROR = hiredis.ReplyError
_TABLE_LEN = 1024
_TYPE_BY_LEN = [b"\r\n" + _TYPE + b"$%d\r\n" % n for n in range(_TABLE_LEN)]
_PTTL_BY_LEN = [b"\r\n" + _PTTL + b"$%d\r\n" % n for n in range(_TABLE_LEN)]
_MEMORY_BY_LEN = [b"\r\n" + _MEMORY + b"$%d\r\n" % n for n in range(_TABLE_LEN)]
# TYPE reply -> the O(1) command that counts the collection's elements
COUNT_COMMANDS = {b"hash": "HLEN", b"set": "SCARD", b"zset": "ZCARD", b"list": "LLEN", b"stream": "XLEN"}
_COUNT_HEAD = {t: b"*2\r\n$%d\r\n%b\r\n" % (len(c), c.encode()) for t, c in COUNT_COMMANDS.items()}
# Error replies about one key or a passing state of the server, not about the command itself.
_PASSING_ERRORS = ("MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "LOADING", "BUSY", "MASTERDOWN", "WRONGTYPE")


def _refuses_command(text: str) -> bool:
    """Whether an error reply says the command itself is not available (renamed, disabled, not
    in the user's ACL) rather than something about one key or a passing server state."""
    if text.startswith(_PASSING_ERRORS):
        return False
    return not (text.startswith("NOPERM") and "key" in text)


def _scan_command(cursor: bytes, count: int) -> bytes:
    c = b"%d" % count
    return b"*4\r\n$4\r\nSCAN\r\n$%d\r\n%b\r\n$5\r\nCOUNT\r\n$%d\r\n%b\r\n" % (len(cursor), cursor, len(c), c)


class Budget:
    """The ops budget: never more than `max_ops` commands in any one-second window, as the server
    sees them, and paced at `max_ops` per second within it.

    A batch is `acquire`d before it is sent and `release`d once its last reply has been read.
    The server executes its commands somewhere in between, so the budget counts the batch in
    every one-second window that overlaps that span: a batch may go only when the batches still
    unanswered, plus those answered within the last second, plus itself, fit in `max_ops`. That
    holds on the server's side whatever happens in between: a server paused for seconds (or a
    worker paused) runs the commands queued before the pause and the ones sent after it within
    one budget, never a catch-up burst. On top of that, batches are paced: once a batch of n commands
    goes out, the next one waits n / max_ops seconds, so the load is spread over the second
    rather than sent in one burst at its start.

    Precision: commands are counted per batch, so the window holds at most `max_ops`, except that
    a single batch larger than `max_ops` (only with budgets below about 20, where even SCAN COUNT 1
    makes a batch of a few commands) goes out alone, once the window is empty. The price is
    throughput: a batch occupies the budget for the time it is in flight on top of its second,
    so a scan runs at about max_ops / (1 + time in flight) commands per second; the reader keeps
    that time short by reading the batch in flight before it waits for the budget.
    """

    WINDOW_S = 1.0
    STEP_S = 0.1  # longest single sleep: stop checks and the deadline are looked at this often

    def __init__(self, max_ops: int | None, *, deadline=None):
        self.max_ops = max_ops
        self.deadline = deadline
        self.ops = 0  # commands of the read loop (the report's ops_sent)
        self.paused_s = 0.0
        self._in_flight = 0  # commands sent whose replies are not all read yet
        self._answered: deque[tuple[float, int]] = deque()  # (when the last reply was read, ops)
        self._answered_ops = 0
        self._next = 0.0  # pacing: when the next batch may go

    def _forget_old(self, now: float) -> None:
        cutoff = now - self.WINDOW_S
        answered = self._answered
        while answered and answered[0][0] <= cutoff:
            self._answered_ops -= answered.popleft()[1]

    def must_drain(self, ops: int) -> bool:
        """Whether `ops` more commands fit only once the batches in flight are read: those alone
        leave no room, and waiting cannot make any (the caller reads them first)."""
        return self.max_ops is not None and self._in_flight > 0 and self._in_flight + ops > self.max_ops

    def would_wait(self, ops: int) -> bool:
        """Whether `ops` more commands would have to wait (or the batches in flight be read first)."""
        if self.max_ops is None:
            return False
        return self.must_drain(ops) or self._delay(ops, time.monotonic()) > 0

    def _delay(self, ops: int, now: float) -> float:
        """How long `ops` more commands must wait; 0 or less: they may go now."""
        self._forget_old(now)
        delay = self._next - now
        used = self._in_flight + self._answered_ops
        if used and used + ops > self.max_ops:
            if self.must_drain(ops):
                raise RuntimeError("the batches in flight must be read before this one fits the budget")
            # Wait until enough answered batches have left the window (all of them, for a batch
            # larger than the whole budget: it then goes alone).
            need = min(used + ops - self.max_ops, self._answered_ops)
            freed = 0
            for when, n in self._answered:
                freed += n
                if freed >= need:
                    delay = max(delay, when + self.WINDOW_S - now)
                    break
        return delay

    def acquire(
        self, ops: int, should_stop: Callable[[], bool] | None = None, *, setup: bool = False
    ) -> int | None:
        """Wait until `ops` more commands fit, then count them as in flight and return the ticket
        to `release`; None when `should_stop` said stop while waiting. ScanError(timeout) when
        the scan's deadline passes while waiting. `setup`: commands that open a connection or
        read a node's facts (an upper bound of them), in the window but not in `ops`."""
        if self.max_ops is not None:
            while True:
                now = time.monotonic()
                delay = self._delay(ops, now)
                if delay <= 0:
                    break
                if should_stop is not None and should_stop():
                    return None
                if self.deadline is not None:
                    self.deadline.check()
                    delay = min(delay, max(self.deadline.remaining(), 0.001))
                step = min(delay, self.STEP_S)
                time.sleep(step)
                self.paused_s += step
            self._next = now + ops / self.max_ops
        self._in_flight += ops
        if not setup:
            self.ops += ops
        return ops

    def release(self, ticket: int) -> None:
        """The batch's last reply has been read (or the connection is gone): it is done."""
        self._in_flight -= ticket
        if self.max_ops is not None and ticket:
            self._answered.append((time.monotonic(), ticket))
            self._answered_ops += ticket

    def wait(self, ops: int, should_stop: Callable[[], bool] | None = None) -> bool:
        """`acquire` and `release` at once, for commands that are done by the time this returns
        to the caller's caller; False when told to stop while pausing."""
        ticket = self.acquire(ops, should_stop)
        if ticket is None:
            return False
        self.release(ticket)
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
    # commands the node refused ("MEMORY USAGE", "HLEN", ...) -> the (safe) reason
    refused: dict[str, str] = field(default_factory=dict)


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
        deadline: Deadline | None = None,
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
        self.deadline = deadline or NO_DEADLINE
        self.outcome = NodeOutcome()
        self._held = 0  # budget tickets of requests whose replies are not all read
        # sampled collections whose element count goes out with the next request: (key, type, ns)
        self.pending: list[tuple[bytes, bytes, int]] = []

    # -- the loop

    def run(self) -> NodeOutcome:
        """Scan the node; errors end it early with `outcome.error` set, never raise."""
        out = self.outcome
        in_flight = None  # a batch sent whose replies are not read yet
        try:
            ticket = self._acquire(1)
            if ticket is None:
                out.stopped = True
                return out
            self.conn.sendall(_scan_command(b"0", self.count))
            cursor, keys = self._read_scan()
            self._release(ticket)
            finished = cursor == b"0"
            truncated = False
            while True:
                self.deadline.check()
                if not out.stopped and self.should_stop():
                    out.stopped = True
                if out.stopped:
                    keys, finished = [], True
                taken = self.key_limit.take(len(keys))
                if taken < len(keys) or (not finished and self.key_limit.exhausted):
                    truncated = True  # the node has keys beyond max_keys: not complete
                    keys = keys[:taken]
                want_scan = not finished and not truncated
                sent = None
                if keys or want_scan:
                    ix = self.agg.match(keys)
                    sampled = self._memory_positions(ix)
                    mem_pos = sampled if "MEMORY USAGE" not in out.refused else []
                    counts = self._take_pending()
                    auth_due = self._reauth_due()
                    ops = 2 * len(keys) + len(mem_pos) + len(counts) + want_scan + auth_due
                    if in_flight is not None and self.budget.would_wait(ops):
                        # This batch has to wait for the budget anyway (or the batch in flight
                        # leaves it no room): read the one in flight first, so that it stops
                        # counting as unanswered, rather than keep it queued through the wait.
                        batch, in_flight = self._read_batch(in_flight), None
                        self._fold(batch)
                    ticket = self._acquire(ops)
                    if ticket is not None:
                        auth = self._reauth_command() if auth_due else b""
                        self.conn.sendall(
                            auth + self._request(keys, mem_pos, cursor if want_scan else None, counts)
                        )
                        sent = (keys, ix, mem_pos, sampled, counts, want_scan, bool(auth), ticket)
                    else:
                        out.stopped = True
                # Replies come in request order: the previous batch's, then this request's.
                # Reading (and folding) the previous batch now lets the server work on this one.
                if in_flight is not None:
                    batch, in_flight = self._read_batch(in_flight), None
                    self._fold(batch)
                if sent is None:
                    if not out.stopped:
                        self._flush_counts()
                    out.complete = finished and not truncated and not out.stopped
                    return out
                sent_keys, ix, mem_pos, sampled, counts, want_scan, auth, ticket = sent
                if auth:
                    self._read_auth_reply()
                if want_scan:
                    cursor, keys = self._read_scan()
                    finished = cursor == b"0"
                else:
                    keys, finished = [], True
                in_flight = (sent_keys, ix, mem_pos, sampled, counts, ticket)
        except ScanError as exc:
            out.error = exc
            return out
        except ScanInterrupted:
            out.stopped = True  # told to stop while waiting on the server
            out.complete = False
            return out
        finally:
            # Whatever was sent and not read counts as done now: the connection is given up.
            self._release(self._held)

    # -- the budget

    def _acquire(self, ops: int) -> int | None:
        ticket = self.budget.acquire(ops, self.should_stop)
        if ticket is not None:
            self._held += ticket
        return ticket

    def _release(self, ticket: int) -> None:
        if ticket:
            self._held -= ticket
            self.budget.release(ticket)

    # -- element counts (DRF016)

    def _take_pending(self) -> list[tuple[bytes, bytes, int]]:
        pending, self.pending = self.pending, []
        refused = self.outcome.refused
        if pending and refused:
            pending = [p for p in pending if COUNT_COMMANDS[p[1]] not in refused]
        return pending

    def _queue_counts(self, keys: list[bytes], ix: list[int], types: list, sampled: list[int]) -> None:
        """Queue the sampled keys of a batch that are collections for an element count."""
        if not sampled:
            return
        if len(sampled) == len(keys):
            chosen = list(compress(range(len(types)), map(_COUNT_HEAD.__contains__, types)))
        else:
            chosen = [p for p in sampled if types[p] in _COUNT_HEAD]
        if chosen:
            self.pending += zip(
                map(keys.__getitem__, chosen),
                map(types.__getitem__, chosen),
                map(ix.__getitem__, chosen),
                strict=True,
            )

    def _fold_counts(self, counts: list[tuple[bytes, bytes, int]], replies: list) -> None:
        if _ERROR in set(map(type, replies)):
            refused = self.outcome.refused
            kept = []
            for item, reply in zip(counts, replies, strict=True):
                if isinstance(reply, _ERROR):
                    text = str(reply)
                    if _refuses_command(text):
                        refused.setdefault(COUNT_COMMANDS[item[1]], refusal(text))
                else:
                    kept.append((item, reply))
            counts, replies = [k for k, _ in kept], [r for _, r in kept]
        self.agg.add_counts(counts, replies)

    def _flush_counts(self) -> None:
        """The counts still queued when the node has no more keys: one last round trip."""
        counts = self._take_pending()
        if not counts:
            return
        ticket = self._acquire(len(counts))
        if ticket is None:
            return
        self.conn.sendall(self._count_block(counts))
        replies = self._replies(len(counts))
        self._release(ticket)
        self._fold_counts(counts, replies)

    @staticmethod
    def _count_block(counts: list[tuple[bytes, bytes, int]]) -> bytes:
        keys = list(map(itemgetter(0), counts))
        heads = map(_COUNT_HEAD.__getitem__, map(itemgetter(1), counts))
        bulks = map(_BULK, zip(map(len, keys), keys, strict=True))
        return b"".join(chain.from_iterable(zip(heads, bulks, strict=True)))

    def _memory_positions(self, ix: list[int]) -> list[int]:
        rate = self.sampler.rate
        if rate >= 1.0:
            return list(range(len(ix)))
        if rate <= 0.0:
            return []
        return self.agg.memory_positions(ix, self.sampler.positions(len(ix)))

    def _reauth_due(self) -> bool:
        """Whether AUTH goes again ahead of the next batch, as the credential's tokens expire (Entra ID)."""
        creds = self.credentials
        if creds is None or creds.reauth_interval_s is None:
            return False
        return time.monotonic() - self.conn.last_auth >= creds.reauth_interval_s

    def _reauth_command(self) -> bytes:
        """AUTH again, ahead of a batch (`_reauth_due`)."""
        args = self.credentials.auth_args()
        self.conn.last_auth = time.monotonic()
        return encode_command(*args) if args else b""

    def _read_auth_reply(self) -> None:
        (reply,) = self._replies(1)
        if isinstance(reply, hiredis.ReplyError):
            raise ScanError(
                "auth", f"authentication to {self.conn.endpoint.label} failed: {str(reply)[:200]}"
            )

    def _fold(self, batch) -> None:
        keys, ix, types, pttls, mem_pos, mems, sampled, counts, count_replies = batch
        kept = self.agg.add_batch(keys, ix, types, pttls, mem_pos, mems)
        self.outcome.keys += kept
        self.outcome.vanished += len(keys) - kept
        if counts:
            self._fold_counts(counts, count_replies)
        self._queue_counts(keys, ix, types, sampled)
        if self.on_batch is not None:
            self.on_batch(self.outcome)

    # -- encoding

    def _request(
        self,
        keys: list[bytes],
        mem_pos: list[int],
        cursor: bytes | None,
        counts: list[tuple[bytes, bytes, int]] = (),
    ) -> bytes:
        # SCAN first: its reply (the next batch) comes back before the server starts on this
        # batch's commands, so the next request can be built and queued while it works.
        parts = [] if cursor is None else [_scan_command(cursor, self.count)]
        if keys:
            lens = list(map(len, keys))
            if max(lens) < _TABLE_LEN:
                # Per key: a header looked up by key length, the key, another header, the key.
                # Every header starts with the CRLF that ends the previous command, so the
                # block's first two bytes are dropped and one CRLF closes it.
                block = b"".join(
                    chain.from_iterable(
                        zip(
                            map(_TYPE_BY_LEN.__getitem__, lens),
                            keys,
                            map(_PTTL_BY_LEN.__getitem__, lens),
                            keys,
                            strict=True,
                        )
                    )
                )
                parts += (block[2:], _CRLF)
                if mem_pos:
                    if len(mem_pos) == len(keys):
                        m_lens, m_keys = lens, keys
                    else:
                        m_lens, m_keys = [lens[p] for p in mem_pos], [keys[p] for p in mem_pos]
                    block = b"".join(
                        chain.from_iterable(zip(map(_MEMORY_BY_LEN.__getitem__, m_lens), m_keys, strict=True))
                    )
                    parts += (block[2:], _CRLF)
            else:  # a key too long for the tables: format each one
                enc = list(map(_BULK, zip(lens, keys, strict=True)))
                parts.append(b"".join(chain.from_iterable(zip(repeat(_TYPE), enc, repeat(_PTTL), enc))))
                if mem_pos:
                    parts += (_MEMORY, _MEMORY.join([enc[p] for p in mem_pos]))
        if counts:
            parts.append(self._count_block(counts))
        return b"".join(parts)

    # -- decoding

    def _replies(self, n: int) -> list:
        """The next n replies, parsed by hiredis; reading more from the socket as needed."""
        reader = self.conn.reader
        try:
            out = list(islice(iter(reader.gets, INCOMPLETE), n))
            if len(out) < n:
                self.conn.start_reply()  # the round trip's replies must all be in by its deadline
            while len(out) < n:
                reader.feed(self.conn.recv())
                out += islice(iter(reader.gets, INCOMPLETE), n - len(out))
        except hiredis.ProtocolError as exc:
            raise ScanError("protocol", f"{self.conn.endpoint.label} sent a malformed reply: {exc}") from None
        return out

    def _read_batch(self, in_flight) -> tuple:
        """Read one request's replies: TYPE and PTTL per key, MEMORY USAGE per sampled key, then
        the element counts it carried."""
        keys, ix, mem_pos, sampled, counts, ticket = in_flight
        n_keys = len(keys)
        n_mem = len(mem_pos)
        replies = self._replies(2 * n_keys + n_mem + len(counts))
        self._release(ticket)
        types = replies[0 : 2 * n_keys : 2]
        pttls = replies[1 : 2 * n_keys : 2]
        mems = replies[2 * n_keys : 2 * n_keys + n_mem]
        count_replies = replies[2 * n_keys + n_mem :]
        # Errors are rare (MOVED while resharding, NOPERM): look for them cheaply first.
        try:
            sum(pttls)
            clean = _ERROR not in set(map(type, types)) and (not mems or _ERROR not in set(map(type, mems)))
        except TypeError:
            clean = False
        if not clean:
            types, pttls, mems = self._without_errors(types, pttls, mems)
            if "MEMORY USAGE" in self.outcome.refused:
                mem_pos, mems = [], []  # refused: the keys were not measured, not gone
        return keys, ix, types, pttls, mem_pos, mems, sampled, counts, count_replies

    def _without_errors(self, types: list, pttls: list, mems: list):
        """A key that moved (MOVED while resharding) or was refused counts as gone; a MEMORY
        USAGE the server refuses as a command is recorded and not asked again."""
        for m in mems:
            if isinstance(m, _ERROR):
                if _refuses_command(str(m)):
                    self.outcome.refused.setdefault("MEMORY USAGE", refusal(str(m)))
                break
        errors = [t for t in types if isinstance(t, _ERROR)]
        if errors:
            self.outcome.key_errors += len(errors)
            if len(errors) == len(types):
                text = str(errors[0])
                kind = "auth" if text.startswith("NOPERM") else "protocol"
                raise ScanError(kind, f"{self.conn.endpoint.label} refused TYPE: {text[:200]}")
        types = [b"none" if isinstance(t, _ERROR) else t for t in types]
        pttls = [-2 if isinstance(p, _ERROR) else p for p in pttls]
        mems = [None if isinstance(m, _ERROR) else m for m in mems]
        return types, pttls, mems

    def _read_scan(self) -> tuple[bytes, list[bytes]]:
        (reply,) = self._replies(1)
        if isinstance(reply, _ERROR):
            text = str(reply)
            kind = "auth" if text.startswith("NOPERM") else "protocol"
            raise ScanError(kind, f"{self.conn.endpoint.label} refused SCAN: {text[:200]}")
        if not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[1], list):
            raise ScanError("protocol", f"{self.conn.endpoint.label} sent an unexpected reply to SCAN")
        return reply[0], reply[1]
