"""A hostile Redis on loopback: it speaks just enough RESP for a scan, and answers the commands it
is told to slowly, a byte at a time, so that an idle timer reset by every byte would never fire.

    with TrickleServer(slow={"INFO"}, byte_every=1.0) as server:
        run_scan(... server.url ...)

Fast replies come at once; a slow command's reply is sent one byte per `byte_every` seconds.
SCAN never ends (its cursor is never 0): the keyspace is endless. After `life` seconds the server
closes every connection, so a scanner that ignores its deadlines fails a test instead of hanging it.
"""

from __future__ import annotations

import socket
import threading
import time

import hiredis

KEYS_PER_SCAN = 10


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(value), value)


def _array(items: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(items)


INFO = (
    b"# Server\r\nredis_version:7.2.4\r\nredis_mode:standalone\r\n# Memory\r\nused_memory:1048576\r\n"
    b"maxmemory_policy:noeviction\r\n# Keyspace\r\ndb0:keys=1000000,expires=0,avg_ttl=0\r\n"
)


class TrickleServer:
    def __init__(
        self,
        *,
        slow: set[str] = frozenset(),
        byte_every: float = 1.0,
        life: float = 30.0,
        tls_header_trickle: bool = False,
    ):
        self.slow = {s.upper() for s in slow}
        self.byte_every = byte_every
        self.life = life
        # Instead of RESP: the header of a 16 KiB TLS handshake record, then one byte a second.
        self.tls_header_trickle = tls_header_trickle
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.commands: list[str] = []  # every command name received, in order
        self.bytes_trickled = 0
        self.open_connections = 0  # clients connected now (a closed one is noticed at the next byte)
        self.connections = 0  # clients accepted in all
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._scans = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> TrickleServer:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopped.set()
        for s in [self.listener, *self._conns]:
            try:
                s.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(5)

    def _spawn(self, target, *args) -> None:
        t = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(t)
        t.start()

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        end = time.monotonic() + self.life
        while not self.stopped.is_set() and time.monotonic() < end:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            self.connections += 1
            self.open_connections += 1
            self._spawn(self._serve, conn, end)

    def _serve(self, conn: socket.socket, end: float) -> None:
        conn.settimeout(0.2)
        reader = hiredis.Reader()
        try:
            if self.tls_header_trickle:
                conn.sendall(b"\x16\x03\x03\x40\x00")
                self._trickle(conn, b"\x02" * 16384, end)
                return
            while not self.stopped.is_set() and time.monotonic() < end:
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return
                reader.feed(data)
                while (request := reader.gets()) is not False:
                    name = request[0].decode().upper()
                    self.commands.append(name)
                    reply = self._reply(name, request[1:])
                    if name in self.slow:
                        if not self._trickle(conn, reply, end):
                            return
                    else:
                        conn.sendall(reply)
        except OSError:
            return
        finally:
            self.open_connections -= 1
            conn.close()

    def _trickle(self, conn: socket.socket, reply: bytes, end: float) -> bool:
        for i in range(len(reply)):
            if self.stopped.wait(self.byte_every) or time.monotonic() >= end:
                return False
            try:
                conn.sendall(reply[i : i + 1])
            except OSError:
                return False
            self.bytes_trickled += 1
        return True

    def _reply(self, name: str, args: list[bytes]) -> bytes:
        if name in ("CLIENT", "SELECT", "AUTH"):
            return b"+OK\r\n"
        if name == "PING":
            return b"+PONG\r\n"
        if name == "INFO":
            return _bulk(INFO)
        if name == "CONFIG":
            setting = args[1] if len(args) > 1 else b""
            value = b"noeviction" if setting == b"maxmemory-policy" else b""
            return _array([_bulk(setting), _bulk(value)])
        if name == "SLOWLOG":
            return b"*0\r\n"
        if name == "SCAN":
            self._scans += 1
            keys = [_bulk(b"trickle:%d:%d" % (self._scans, i)) for i in range(KEYS_PER_SCAN)]
            return _array([_bulk(b"%d" % self._scans), _array(keys)])
        if name == "TYPE":
            return b"+string\r\n"
        if name == "PTTL":
            return b":-1\r\n"
        if name == "MEMORY":
            return b":64\r\n"
        return b"-ERR unknown command\r\n"
