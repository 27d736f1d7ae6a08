"""The demo keyspace: a private Redis filled with keys of the demo design's namespaces, plus drift.

Keys are generated from each namespace's pattern, with its data type, a value size near its
typical size (capped, so that a few hundred thousand keys stay near 150 MB) and a TTL as
designed. On top of that, the drift a scan should find: keys without TTL in a TTL'd namespace,
TTLs far above the design, keys of the wrong type, oversized values, collections of more than
10,000 elements (DRF016), unregistered key families (a legacy prefix, forgotten exports, e-mail
addresses in key names), and slow log entries of commands that walk the whole keyspace or a whole
collection (KEYS, HGETALL, ZRANGE: DRF015).

Everything is deterministic for a seed. :class:`Refresher` then plays the applications'
cache-aside writes: it re-creates keys as they expire, so the keyspace keeps its shape for as
long as the demo runs instead of emptying within minutes.

CLI, for manual use: ``python -m advisor.demo.keyspace redis://127.0.0.1:PORT/0 [--keys N]``.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

from advisor.core.design import Connection, Design, load_design_file
from advisor.core.patterns import Literal, Matcher, Pattern, key_hash_slot, parse_pattern

DEMO_DESIGN_PATH = Path(__file__).with_name("demo_design.yaml")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
SHARED_REDIS_PORT = 6379

CHUNK = 10_000  # commands per pipeline round trip
VALUE_CAP = 512  # bytes; keeps 300k keys near 150 MB unless a value is meant to be oversized
BIG_VALUE_BYTES = 2 * 1024 * 1024
FLOOR = 50  # keys at least, per namespace, so that small namespaces still show up in a scan

# Unregistered families, as a share of all keys.
LEGACY_CART = "legacy:cart:<cart_id:int>"
TMP_EXPORT = "tmp:export:<export_id:uuid>"
EMAIL_KEYS = "prod:identity:user:by-email:<email>"
UNREGISTERED_SHARE = {LEGACY_CART: 1 / 15, TMP_EXPORT: 1 / 200, EMAIL_KEYS: 1 / 250}

# Drift inside registered namespaces: preferred namespaces of the demo design, with a fallback
# for any other design. Residues of the key index keep the kinds disjoint.
DRIFT_PREFERRED = {
    "without_ttl": "product-cache",
    "ttl_above_design": "recommendations",
    "wrong_type": "category-listing",
    "oversized": "recommendations",
    "big_collections": "bestsellers",
}
# Collections above DRF016's 10,000 elements: every 15th key of the family, at most this many.
# Scans count the elements of the keys they sample (every 10th by default), so a few dozen are
# needed for a scan to meet some; each costs about a megabyte.
BIG_COLLECTION_ELEMENTS = 12_000
BIG_COLLECTIONS_MAX = 40
_BIG_TYPES = ("zset", "hash", "set", "list")
_ELEMENTS_PER_COMMAND = 1_000


# ---------------------------------------------------------------------------------------------
# Which instances the demo fills, and where they live


def local_instances(design: Design) -> list[str]:
    """Instances whose connection points at this machine: the ones the demo fills and scans."""
    return [
        i.name
        for i in design.instances
        if i.connection and (urlsplit(i.connection.url).hostname or "") in LOCAL_HOSTS
    ]


def url_db(url: str) -> int:
    path = urlsplit(url).path.strip("/")
    return int(path) if path else 0


def with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def with_cache_url(design: Design, cache_url: str, only: list[str] | None = None) -> Design:
    """The design with its local instances (or only those named) pointed at the demo cache.

    Scheme, host and port come from ``cache_url``; each instance keeps its own database number,
    so instances the design separates by database stay separated.
    """
    local = set(local_instances(design))
    if only is not None:
        local &= set(only)
    instances = []
    for inst in design.instances:
        if inst.name in local:
            assert inst.connection is not None
            url = with_db(cache_url, url_db(inst.connection.url))
            conn = Connection(url=url, credential=inst.connection.credential)
            inst = inst.model_copy(update={"connection": conn})
        instances.append(inst)
    return design.model_copy(update={"instances": instances})


# ---------------------------------------------------------------------------------------------
# Generating key names

_FIRST = "jane john maria li ahmed sofia lukas emma noah olivia mateo chen fatima lars anna pierre".split()
_LAST = "doe smith garcia mueller rossi nowak jensen kowalski dubois silva tanaka okafor berg novak hansen meyer".split()
_DOMAINS = ["example.com", "example.org", "example.net", "contoso.example"]
_MARKETS = "de fr nl be at ch uk ie se dk no fi pl cz it es pt us ca".split()
_LOCALES = "de-DE fr-FR nl-NL en-GB en-US sv-SE da-DK pl-PL it-IT es-ES pt-PT fr-CH de-AT".split()
_COLOURS = "BLK WHT RED BLU GRN GRY NVY OLV".split()
_SKU_LINES = "TNT JKT BOOT PACK BAG STOVE LAMP MAT POLE".split()
_FLAG_AREAS = "checkout search catalog account storefront payments".split()
_FLAG_WORDS = "new fast legacy beta dark compact instant express wishlist reviews bundles klarna".split()
_DAY0 = dt.date(2026, 11, 26)


def _below(rng: random.Random, n: int) -> int:
    # random() is several times faster than randrange(), which shows at 300k keys.
    return int(rng.random() * n)


def _pick(rng: random.Random, seq):
    return seq[int(rng.random() * len(seq))]


def _product_id(rng: random.Random) -> str:
    return str(100_000 + _below(rng, 9_900_000))


def _email(rng: random.Random) -> str:
    first, last, domain = _pick(rng, _FIRST), _pick(rng, _LAST), _pick(rng, _DOMAINS)
    style = _below(rng, 3)
    if style == 0:
        return f"{first}.{last}@{domain}"
    if style == 1:
        return f"{first}.{last}{1 + _below(rng, 999)}@{domain}"
    return f"{first[0]}{last}{1 + _below(rng, 9999)}@{domain}"


def _day(rng: random.Random) -> str:
    return (_DAY0 - dt.timedelta(days=_below(rng, 60))).strftime("%Y%m%d")


# Realistic values for placeholder names of the demo design; each yields text of its kind.
_NAMED: dict[tuple[str, str], Callable[[random.Random], str]] = {
    ("market", "str"): lambda rng: _pick(rng, _MARKETS),
    ("locale", "str"): lambda rng: _pick(rng, _LOCALES),
    ("sku", "str"): lambda rng: (
        f"{_pick(rng, _SKU_LINES)}-{10000 + _below(rng, 90000)}-{_pick(rng, _COLOURS)}"
    ),
    ("flag_key", "str"): lambda rng: (
        f"{_pick(rng, _FLAG_AREAS)}.{_pick(rng, _FLAG_WORDS)}-{_pick(rng, _FLAG_WORDS)}"
    ),
    ("email", "str"): _email,
    ("page", "int"): lambda rng: str(1 + _below(rng, 25)),
    ("day", "int"): _day,
    ("category_id", "int"): lambda rng: str(100 + _below(rng, 900)),
    ("partition", "int"): lambda rng: str(_below(rng, 16)),
    ("window", "int"): lambda rng: str(29_000_000 + _below(rng, 10_000)),
}


def _kind_value(kind: str, rng: random.Random) -> str:
    if kind == "int":
        return _product_id(rng)
    if kind == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if kind == "hex":
        return f"{rng.getrandbits(64):016x}"
    if kind == "hash":
        return base64.urlsafe_b64encode(rng.randbytes(24)).decode()
    if kind == "str":
        return "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=rng.randint(4, 10)))
    return f"{_kind_value('str', rng)}:{_kind_value('str', rng)}"  # any


def key_maker(pattern: Pattern) -> Callable[[random.Random], str]:
    """A function that draws one key of the pattern, with realistic values where it can."""
    parts: list[str | Callable[[random.Random], str]] = []
    for t in pattern.tokens:
        if isinstance(t, Literal):
            parts.append(t.text)
        else:
            named = _NAMED.get((t.name or "", t.kind))
            parts.append(named or (lambda rng, kind=t.kind: _kind_value(kind, rng)))

    def make(rng: random.Random) -> str:
        return "".join(p if isinstance(p, str) else p(rng) for p in parts)

    return make


# ---------------------------------------------------------------------------------------------
# What gets written


@dataclass(frozen=True)
class Spec:
    """How to write a key: type, value size, and TTL (mode none | absolute | sliding | fixed |
    per-field). `elements` > 0 writes a collection of exactly that many elements."""

    data_type: str
    size: int
    size_max: int
    ttl_mode: str = "none"
    ttl_seconds: int = 0
    ttl_jitter: int = 0
    exact_size: bool = False
    elements: int = 0

    def ttl(self, rng: random.Random, *, fresh: bool) -> int | None:
        """Seconds to live; a fresh key has its full TTL, a loaded one was written some time ago."""
        # per-field: the hash's fields expire (HEXPIRE, Redis 7.4+), never the key itself.
        if self.ttl_mode in ("none", "per-field"):
            return None
        if self.ttl_mode == "fixed":
            return self.ttl_seconds + int(rng.random() * (self.ttl_jitter + 1))
        if self.ttl_mode == "sliding":
            # Sessions were last touched some time ago, most of them recently.
            return (
                self.ttl_seconds if fresh else max(1, int(self.ttl_seconds * (1 - 0.9 * rng.random() ** 2)))
            )
        full = self.ttl_seconds + int(rng.random() * (self.ttl_jitter + 1))
        # At least a quarter left: keys that expire while the demo loads would only blur the counts.
        return full if fresh else max(1, int(full * (0.25 + 0.75 * rng.random())))


@dataclass
class Family:
    name: str  # namespace name, or the pattern of an unregistered family
    pattern: Pattern
    spec: Spec
    registered: bool
    count: int = 0  # planned keys


_FIELDS = "id name status updated_at payload owner qty price currency locale version source flags etag meta score".split()
_OTHER_TYPE = {
    "string": "hash",
    "hash": "string",
    "list": "set",
    "set": "list",
    "zset": "hash",
    "stream": "hash",
}


class DemoKeyspace:
    """The plan of a demo keyspace for some instances of a design, and the code that writes it."""

    def __init__(
        self,
        design: Design,
        instance_names: list[str],
        *,
        total_keys: int = 300_000,
        seed: int = 7,
        drift: bool = True,
        value_cap: int = VALUE_CAP,
    ):
        unknown = sorted(set(instance_names) - {i.name for i in design.instances})
        if unknown:
            raise ValueError(f"no such instance in the design: {', '.join(unknown)}")
        self.seed = seed
        self.total_keys = total_keys
        rng = random.Random(f"{seed}/blob")
        # Values are slices of one random text, which is much faster than drawing each one.
        self._blob = base64.b64encode(rng.randbytes(768 * 1024)).decode()
        self.families: list[Family] = []
        for ns in design.namespaces:
            if ns.instance not in instance_names:
                continue
            base = min(ns.value_bytes.typical, value_cap)
            spec = Spec(
                data_type=ns.data_type,
                size=max(1, base),
                size_max=ns.value_bytes.max,
                ttl_mode=ns.ttl.mode,
                ttl_seconds=ns.ttl.seconds or 0,
                ttl_jitter=ns.ttl.jitter_seconds,
            )
            self.families.append(Family(ns.name, parse_pattern(ns.pattern), spec, True))
        self._cardinality = {
            ns.name: ns.cardinality for ns in design.namespaces if ns.instance in instance_names
        }
        unregistered_total = 0
        if drift:
            for pattern, share in UNREGISTERED_SHARE.items():
                spec = {
                    LEGACY_CART: Spec("hash", 160, 4096),
                    TMP_EXPORT: Spec("string", 400, 4096),
                    EMAIL_KEYS: Spec("string", 8, 16, "absolute", 900, 120),
                }[pattern]
                count = max(1, round(total_keys * share))
                unregistered_total += count
                self.families.append(Family(pattern, parse_pattern(pattern), spec, False, count))
        self._allocate(max(0, total_keys - unregistered_total))
        self.drift_plan = self._drift_plan() if drift else {}
        self.overrides: dict[bytes, Spec] = {}
        self._matcher = Matcher((f.name, f.pattern) for f in self.families)

    # -- planning

    def _allocate(self, budget: int) -> None:
        """Keys per namespace: proportional to the designed cardinality, at least a floor, at most it."""
        regs = [f for f in self.families if f.registered]
        if not regs:
            return
        card = [self._cardinality[f.name] for f in regs]
        if budget >= sum(card):
            for f, c in zip(regs, card, strict=True):
                f.count = c
            return
        floor = [min(c, FLOOR, budget // len(regs)) for c in card]
        rest = budget - sum(floor)
        room = [c - f for c, f in zip(card, floor, strict=True)]
        total_room = sum(room) or 1
        shares = [rest * r / total_room for r in room]
        counts = [f + int(s) for f, s in zip(floor, shares, strict=True)]
        # Largest remainders get the keys lost to rounding down.
        short = budget - sum(counts)
        by_remainder = sorted(range(len(regs)), key=lambda i: (-(shares[i] - int(shares[i])), i))
        for i in by_remainder[:short]:
            counts[i] += 1
        for f, n in zip(regs, counts, strict=True):
            f.count = n

    def _drift_plan(self) -> dict[str, Family]:
        regs = [f for f in self.families if f.registered and f.count >= 1]
        ttld = [f for f in regs if f.spec.ttl_mode in ("absolute", "sliding")]
        by_name = {f.name: f for f in regs}
        plan: dict[str, Family] = {}

        def pick(kind: str, candidates: list[Family], key) -> None:
            preferred = by_name.get(DRIFT_PREFERRED[kind])
            if preferred is not None and preferred in candidates:
                plan[kind] = preferred
            elif candidates:
                plan[kind] = sorted(candidates, key=key)[0]

        pick("without_ttl", [f for f in ttld if f.count >= 20], lambda f: -f.count)
        pick(
            "ttl_above_design",
            [f for f in ttld if f is not plan.get("without_ttl")] or ttld,
            lambda f: -f.count,
        )
        pick(
            "wrong_type",
            [f for f in regs if f.count >= 3 and f.spec.data_type in _OTHER_TYPE],
            lambda f: f.count,
        )
        pick(
            "oversized",
            [f for f in regs if f.spec.data_type in ("string", "hash")],
            lambda f: f.spec.size_max,
        )
        pick(
            "big_collections",
            [f for f in regs if f.spec.data_type in _BIG_TYPES and f not in plan.values()],
            lambda f: (_BIG_TYPES.index(f.spec.data_type), -f.count),
        )
        return plan

    def _drift_spec(self, family: Family, index: int) -> tuple[str, Spec] | None:
        """The drift this key of the family carries, if any."""
        plan, spec = self.drift_plan, family.spec
        if plan.get("without_ttl") is family and index % 20 == 0:
            return "without_ttl", Spec(spec.data_type, spec.size, spec.size_max)
        if plan.get("ttl_above_design") is family and index % 50 == 1:
            # One to seven days where the design says minutes or hours: a forgotten override.
            return "ttl_above_design", Spec(
                spec.data_type, spec.size, spec.size_max, "fixed", 86_400, 6 * 86_400
            )
        if plan.get("wrong_type") is family and index % 100 == 2:
            return "wrong_type", Spec(
                _OTHER_TYPE[spec.data_type],
                spec.size,
                spec.size_max,
                spec.ttl_mode,
                spec.ttl_seconds,
                spec.ttl_jitter,
            )
        if plan.get("oversized") is family and (index == 3 or index % 100 == 4):
            # One 2 MiB value, and 1% at three times the designed maximum: scans sample MEMORY
            # USAGE, and would find a single big key only now and then.
            size = BIG_VALUE_BYTES if index == 3 else 3 * spec.size_max
            return "oversized", Spec(
                spec.data_type,
                size,
                size,
                spec.ttl_mode,
                spec.ttl_seconds,
                spec.ttl_jitter,
                exact_size=True,
            )
        if plan.get("big_collections") is family and index % 15 == 7 and index < 15 * BIG_COLLECTIONS_MAX:
            # A leaderboard nobody trims: every product ever sold in the category.
            return "big_collections", Spec(
                spec.data_type,
                spec.size,
                spec.size_max,
                spec.ttl_mode,
                spec.ttl_seconds,
                spec.ttl_jitter,
                elements=BIG_COLLECTION_ELEMENTS,
            )
        return None

    # -- writing

    def _value(self, rng: random.Random, size: int) -> str:
        if size > len(self._blob):
            return (self._blob * (size // len(self._blob) + 1))[:size]
        start = int(rng.random() * (len(self._blob) - size))
        return self._blob[start : start + size]

    def _size(self, rng: random.Random, spec: Spec) -> int:
        if spec.exact_size:
            return spec.size
        return max(1, min(spec.size_max, int(spec.size * (0.3 + 0.7 * rng.random()))))

    def _queue(self, pipe, key: str, spec: Spec, rng: random.Random, *, fresh: bool) -> int:
        """Queue the commands that write one key; returns how many."""
        size = self._size(rng, spec)
        ttl = spec.ttl(rng, fresh=fresh)
        kind = spec.data_type
        cmd = pipe.execute_command
        if spec.elements:
            return self._queue_collection(pipe, key, spec, rng, ttl)
        if kind in ("string", "json", "other"):
            value = self._value(rng, size)
            if kind == "json":
                # No RedisJSON module on a plain redis-server: the document is stored as text.
                value = f'{{"doc":"{value[: max(0, size - 10)]}"}}'
            if ttl is None:
                cmd(b"SET", key, value)
            else:
                cmd(b"SET", key, value, "EX", ttl)
            return 1
        if kind == "hash":
            n = max(1, min(len(_FIELDS), size // 64))
            part = max(1, size // n)
            args: list = [b"HSET", key]
            for name in _FIELDS[:n]:
                args += [name, self._value(rng, part)]
            cmd(*args)
        elif kind == "list":
            n = max(1, min(32, size // 32))
            cmd(b"RPUSH", key, *(self._value(rng, max(1, size // n)) for _ in range(n)))
        elif kind == "set":
            n = max(1, min(64, size // 16))
            cmd(b"SADD", key, *(_product_id(rng) for _ in range(n)))
        elif kind == "zset":
            n = max(1, min(64, size // 16))
            args = [b"ZADD", key]
            for _ in range(n):
                args += [1 + _below(rng, 4999), _product_id(rng)]
            cmd(*args)
        elif kind == "stream":
            n = max(1, min(64, size // 128))
            part = max(1, size // n)
            for j in range(n):
                # Explicit ids keep the stream the same for a seed.
                cmd(
                    "XADD",
                    key,
                    f"{1_764_000_000_000 + j}-0",
                    "event",
                    "order-updated",
                    "body",
                    self._value(rng, part),
                )
            if ttl is not None:
                cmd(b"EXPIRE", key, ttl)
            return n + (ttl is not None)
        else:
            raise ValueError(f"cannot write data type {kind!r}")
        if ttl is not None:
            cmd(b"EXPIRE", key, ttl)
            return 2
        return 1

    def _queue_collection(self, pipe, key: str, spec: Spec, rng: random.Random, ttl: int | None) -> int:
        """A collection of exactly `spec.elements` distinct elements, written in slices."""
        kind, cmd, commands = spec.data_type, pipe.execute_command, 0
        for start in range(0, spec.elements, _ELEMENTS_PER_COMMAND):
            members = [
                str(1_000_000 + j) for j in range(start, min(spec.elements, start + _ELEMENTS_PER_COMMAND))
            ]
            if kind == "zset":
                args: list = [b"ZADD", key]
                for member in members:
                    args += [1 + _below(rng, 4999), member]
            elif kind == "hash":
                args = [b"HSET", key]
                for member in members:
                    args += [member, _below(rng, 100)]
            elif kind == "set":
                args = [b"SADD", key, *members]
            elif kind == "list":
                args = [b"RPUSH", key, *members]
            else:
                raise ValueError(f"cannot write a big collection of type {kind!r}")
            cmd(*args)
            commands += 1
        if ttl is not None:
            cmd(b"EXPIRE", key, ttl)
            commands += 1
        return commands

    def load(
        self,
        client: redis.Redis | list[redis.Redis],
        *,
        slot_owner: list[int] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict:
        """Write the planned keyspace; returns what was written, per family and per kind of drift.

        For a cluster, pass one client per primary and ``slot_owner`` (client index per hash slot).
        """
        clients = client if isinstance(client, list) else [client]
        started = time.monotonic()
        planned = sum(f.count for f in self.families)
        seen: set[str] = set()
        families: dict[str, int] = {}
        drift: dict[str, dict[str, int]] = {
            "without_ttl": {},
            "ttl_above_design": {},
            "wrong_type": {},
            "oversized": {},
            "big_collections": {},
            "unregistered": {},
        }
        # Per node: a hash and a big collection it holds, for the slow log's commands.
        slow_keys: list[dict[str, str]] = [{} for _ in clients]
        self.overrides.clear()
        pipes = [c.pipeline(transaction=False) for c in clients]
        queued = [0] * len(pipes)
        written = 0
        next_report = 50_000
        for family in self.families:
            rng = random.Random(f"{self.seed}/{family.name}")
            make = key_maker(family.pattern)
            keys = []
            if family.name == EMAIL_KEYS:
                keys.append("prod:identity:user:by-email:jane.doe@example.com")
            # Patterns with few possible keys (16 partitions, 25 pages) run out: give up politely.
            attempts = family.count * 20 + 100
            while len(keys) < family.count and attempts:
                attempts -= 1
                key = make(rng)
                if key not in seen:
                    seen.add(key)
                    keys.append(key)
            keys = keys[: family.count]
            for index, key in enumerate(keys):
                spec = family.spec
                if family.registered:
                    special = self._drift_spec(family, index)
                    if special is not None:
                        kind, spec = special
                        drift[kind][family.name] = drift[kind].get(family.name, 0) + 1
                        if spec.ttl_mode != "none":
                            self.overrides[key.encode()] = spec
                node = slot_owner[key_hash_slot(key)] if slot_owner else 0
                if spec.data_type == "hash" and not spec.elements:
                    slow_keys[node].setdefault("hash", key)
                if spec.elements:
                    slow_keys[node].setdefault(spec.data_type, key)
                queued[node] += self._queue(pipes[node], key, spec, rng, fresh=False)
                if queued[node] >= CHUNK:
                    pipes[node].execute()
                    queued[node] = 0
                written += 1
                if progress and written >= next_report:
                    progress(written, planned)
                    next_report += 50_000
            families[family.name] = len(keys)
            if not family.registered:
                drift["unregistered"][family.name] = len(keys)
        for pipe, n in zip(pipes, queued, strict=True):
            if n:
                pipe.execute()
        if progress:
            progress(written, planned)
        if self.drift_plan:
            drift["slow_commands"] = seed_slowlog(clients, slow_keys)
        return {
            "total": written,
            "families": families,
            "drift": drift,
            "seconds": round(time.monotonic() - started, 2),
            "used_memory": sum(int(c.info("memory").get("used_memory", 0)) for c in clients),
        }

    def rewrite(self, client: redis.Redis, keys: list[bytes], rng: random.Random | None = None) -> int:
        """Write expired keys again, as the application would on the next cache miss."""
        rng = rng or random.Random()
        pipe = client.pipeline(transaction=False)
        count = 0
        for key in keys:
            spec = self.overrides.get(key)
            if spec is None:
                index = self._matcher.match_index(key)
                if index < 0:
                    continue
                spec = self.families[index].spec
            self._queue(pipe, key.decode("utf-8", "surrogateescape"), spec, rng, fresh=True)
            count += 1
        if count:
            pipe.execute()
        return count


# What the slow log gets (DRF015): a KEYS over the keyspace, and a whole hash and a whole
# collection read at once, on each node of the cache.
_SLOW_PATTERN = "prod:catalog:bestsellers:*"
_SLOW_READ = {"hash": "HGETALL", "zset": "ZRANGE", "set": "SMEMBERS", "list": "LRANGE"}


def seed_slowlog(clients: list[redis.Redis], keys: list[dict[str, str]]) -> dict[str, int]:
    """Run a few whole-keyspace and whole-collection commands with the slow log catching every
    command, then restore its threshold; returns how many of each ran.

    Only on a private server: a node listening on the shared port is left alone, and so is a
    server that refuses CONFIG SET (as managed services do).
    """
    ran: dict[str, int] = {}
    for client, node_keys in zip(clients, keys, strict=True):
        if client.connection_pool.connection_kwargs.get("port") == SHARED_REDIS_PORT:
            continue
        try:
            threshold = client.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
            client.config_set("slowlog-log-slower-than", 0)
        except redis.ResponseError:
            continue
        try:
            commands: list[tuple[str, list]] = [("KEYS", [_SLOW_PATTERN])]
            for kind, key in sorted(node_keys.items()):
                name = _SLOW_READ[kind]
                commands.append((name, [key, 0, -1] if name in ("ZRANGE", "LRANGE") else [key]))
            for name, args in commands:
                client.execute_command(name, *args)
                ran[name] = ran.get(name, 0) + 1
        finally:
            client.config_set("slowlog-log-slower-than", threshold)
    return ran


def load_demo_keyspace(
    redis_url: str,
    design: Design,
    instance_names: list[str],
    *,
    total_keys: int = 300_000,
    seed: int = 7,
    drift: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Fill the Redis at ``redis_url`` with the demo keyspace of those instances; returns the counts."""
    keyspace = DemoKeyspace(design, instance_names, total_keys=total_keys, seed=seed, drift=drift)
    clients, slot_owner = connect(redis_url)
    try:
        return keyspace.load(clients, slot_owner=slot_owner, progress=progress)
    finally:
        for c in clients:
            c.close()


def primaries(url: str) -> list[str]:
    """URLs of the primaries behind a URL: the cluster's, or just the URL for a standalone server."""
    return [u for u, _ in _primaries(url)]


def _primaries(url: str) -> list[tuple[str, list[tuple[int, int]]]]:
    client = redis.Redis.from_url(url)
    try:
        if client.info("cluster").get("cluster_enabled") != 1:
            return [(url, [(0, 16383)])]
        by_node: dict[str, list[tuple[int, int]]] = {}
        for start, end, primary, *_ in client.execute_command("CLUSTER", "SLOTS"):
            host, port = primary[0].decode() or "127.0.0.1", int(primary[1])
            by_node.setdefault(with_db(f"redis://{host}:{port}", 0), []).append((int(start), int(end)))
        return sorted(by_node.items())
    finally:
        client.close()


def connect(url: str) -> tuple[list[redis.Redis], list[int] | None]:
    """Clients of the primaries behind a URL, and for a cluster which of them owns each slot."""
    nodes = _primaries(url)
    if len(nodes) == 1:
        return [redis.Redis.from_url(nodes[0][0])], None
    owner = [0] * 16384
    for i, (_, ranges) in enumerate(nodes):
        for start, end in ranges:
            owner[start : end + 1] = [i] * (end - start + 1)
    return [redis.Redis.from_url(u) for u, _ in nodes], owner


class Refresher(threading.Thread):
    """Re-creates keys as Redis expires them, the way cache-aside readers would.

    Without it, TTLs of minutes would empty most of the demo keyspace before anyone scans it.
    Keys without TTL never expire, so drift of that kind stays as loaded.
    """

    def __init__(self, redis_url: str, keyspace: DemoKeyspace, *, log: Callable[[str], None] = print):
        super().__init__(name="keyspace-refresher", daemon=True)
        self.redis_url = redis_url
        self.keyspace = keyspace
        self.log = log
        self.rewritten = 0
        self._stop_event = threading.Event()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop_event.set()
        self.join(timeout)

    def run(self) -> None:
        client = redis.Redis.from_url(self.redis_url, socket_timeout=5)
        db = client.connection_pool.connection_kwargs.get("db", 0)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            client.config_set("notify-keyspace-events", "Ex")
            pubsub.subscribe(f"__keyevent@{db}__:expired")
            while not self._stop_event.is_set():
                batch: list[bytes] = []
                deadline = time.monotonic() + 0.5
                while len(batch) < 2000 and (left := deadline - time.monotonic()) > 0:
                    message = pubsub.get_message(timeout=left)
                    if message and message["type"] == "message":
                        batch.append(message["data"])
                if batch:
                    self.rewritten += self.keyspace.rewrite(client, batch)
        except (redis.RedisError, OSError) as e:
            if not self._stop_event.is_set():
                self.log(f"keyspace refresher stopped: {e}")
        finally:
            pubsub.close()
            client.close()


# ---------------------------------------------------------------------------------------------
# CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m advisor.demo.keyspace", description="Fill a private Redis with the demo keyspace."
    )
    parser.add_argument("url", help="redis://127.0.0.1:PORT/DB of a Redis you own")
    parser.add_argument("--keys", type=int, default=300_000, help="number of keys (default 300000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--design", default=str(DEMO_DESIGN_PATH), help="design file (default: the demo design)"
    )
    parser.add_argument(
        "--instance", action="append", help="instance whose namespaces to write (default: the local ones)"
    )
    parser.add_argument("--flush", action="store_true", help="empty the database first")
    parser.add_argument("--force", action="store_true", help=f"allow port {SHARED_REDIS_PORT}")
    args = parser.parse_args(argv)

    parts = urlsplit(args.url)
    if parts.scheme not in ("redis", "rediss"):
        parser.error("the URL must start with redis:// or rediss://")
    if (parts.port or SHARED_REDIS_PORT) == SHARED_REDIS_PORT and not args.force:
        parser.error(
            f"refusing port {SHARED_REDIS_PORT}: that is the shared Redis, which must not be filled "
            "(start your own redis-server on another port, or pass --force if you really mean it)"
        )
    design = load_design_file(args.design)
    names = args.instance or local_instances(design)
    clients, slot_owner = connect(args.url)
    try:
        ports = {c.connection_pool.connection_kwargs.get("port") for c in clients}
        if SHARED_REDIS_PORT in ports and not args.force:
            print(f"refusing: a node of {args.url} listens on port {SHARED_REDIS_PORT}", file=sys.stderr)
            return 2
        existing = sum(c.dbsize() for c in clients)
        if existing and not args.flush:
            print(
                f"{args.url} already holds {existing} keys; pass --flush to empty it first", file=sys.stderr
            )
            return 2
        if args.flush:
            for c in clients:
                c.flushdb()

        def progress(done: int, total: int) -> None:
            print(f"  {done:,} / {total:,} keys", file=sys.stderr)

        keyspace = DemoKeyspace(design, names, total_keys=args.keys, seed=args.seed)
        result = keyspace.load(clients, slot_owner=slot_owner, progress=progress)
    finally:
        for c in clients:
            c.close()
    print(f"Loaded {result['total']:,} keys for {', '.join(names)} in {result['seconds']} s")
    print(f"used_memory: {result['used_memory'] / 2**20:.1f} MiB")
    for name, count in result["families"].items():
        print(f"  {count:>8,}  {name}")
    for kind, per in result["drift"].items():
        for name, count in per.items():
            print(f"  drift {kind}: {name}: {count:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
