"""Server facts: INFO, CONFIG GET maxmemory-policy and notify-keyspace-events, a SLOWLOG summary.

A refused CONFIG GET (managed services rename or block it) or SLOWLOG GET is reported, never
fatal: the report lists it among the facts the scan could not read. The slow log is summarised
by command name and duration: its arguments (key names, values, passwords given to AUTH) are
never read out of the reply, and neither are the client addresses and names of its entries,
except to leave out the scanner's own commands.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from advisor.core.scan.connect import CLIENT_NAME, NodeConnection, ServerReply
from advisor.core.scan.errors import ScanError


def parse_info(raw: bytes | str) -> dict[str, str]:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, _, value = line.partition(":")
        out[name.strip()] = value.strip()
    return out


def databases_with_keys(info: dict[str, str]) -> dict[str, int]:
    """Keys per database per INFO keyspace, for every database that holds any (`{"db0": 12}`)."""
    out: dict[str, int] = {}
    for name, entry in info.items():
        if name.startswith("db") and name[2:].isdigit():
            for item in entry.split(","):
                key, _, value = item.partition("=")
                if key == "keys" and value.isdigit() and int(value) > 0:
                    out[name] = int(value)
    return dict(sorted(out.items(), key=lambda kv: int(kv[0][2:])))


def keyspace_keys(info: dict[str, str], db: int = 0) -> int | None:
    """Keys in a database per INFO keyspace (`db0:keys=12,expires=3,...`)."""
    entry = info.get(f"db{db}")
    if entry is None:
        return 0 if "redis_version" in info else None
    for item in entry.split(","):
        name, _, value = item.partition("=")
        if name == "keys" and value.isdigit():
            return int(value)
    return None


def refusal(text: str) -> str:
    """An error reply made safe to store: Redis quotes the arguments of an unknown command
    ("ERR unknown command 'MEMORY', with args beginning with: 'USAGE' 'user:bob@example.com'"),
    and those may be key names with personal data. Only the part before them is kept."""
    text = " ".join(str(text).split())
    cut = text.find(", with args beginning with")
    if cut >= 0:
        text = text[:cut]
    return text[:200]


@dataclass
class NodeFacts:
    info: dict[str, str]
    maxmemory_policy: str | None = None
    policy_source: str | None = None  # "config" or "info"
    config_error: str | None = None
    notify_keyspace_events: str | None = None  # None when CONFIG is refused
    slowlog: Counter | None = None  # command -> [count, total_us, max_us]
    slowlog_entries: int = 0
    slowlog_error: str | None = None
    durations: dict[str, list[int]] = field(default_factory=dict)


def node_facts(conn: NodeConnection, *, slowlog_entries: int = 128, db: int = 0) -> NodeFacts:
    try:
        info = parse_info(conn.call("INFO"))
    except ServerReply as exc:
        raise ScanError("protocol", f"{conn.endpoint.label} refused INFO: {exc}") from None
    facts = NodeFacts(info=info)
    try:
        reply = conn.call("CONFIG", "GET", "maxmemory-policy")
        if isinstance(reply, list) and len(reply) >= 2:
            facts.maxmemory_policy = reply[1].decode("utf-8", "replace")
            facts.policy_source = "config"
        else:
            facts.config_error = "CONFIG GET maxmemory-policy returned nothing"
    except ServerReply as exc:
        facts.config_error = f"CONFIG GET refused: {refusal(str(exc))}"
    if facts.config_error is None:
        # Keyspace notifications matter to a migration (Azure Managed Redis has them in preview only).
        try:
            reply = conn.call("CONFIG", "GET", "notify-keyspace-events")
            if isinstance(reply, list) and len(reply) >= 2:
                facts.notify_keyspace_events = reply[1].decode("utf-8", "replace")[:32]
        except ServerReply:
            pass  # the policy came through; this one setting is not worth a second refusal line
    if facts.maxmemory_policy is None and info.get("maxmemory_policy"):
        # Managed services that refuse CONFIG still show the policy in INFO memory.
        facts.maxmemory_policy = info["maxmemory_policy"]
        facts.policy_source = "info"
    if slowlog_entries:
        try:
            entries = conn.call("SLOWLOG", "GET", slowlog_entries)
            facts.durations = _slowlog_durations(entries)
            facts.slowlog_entries = sum(map(len, facts.durations.values()))
        except ServerReply as exc:
            facts.slowlog_error = f"SLOWLOG GET refused: {refusal(str(exc))}"
    return facts


_OWN_NAME = CLIENT_NAME.encode()


def _slowlog_durations(entries: list) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for entry in entries:
        try:
            duration = int(entry[2])
            args = entry[3]
            name = args[0].decode("utf-8", "replace").upper() if args else "?"
        except (IndexError, TypeError, ValueError, AttributeError):
            continue
        if len(entry) > 5 and entry[5] == _OWN_NAME:
            continue  # an earlier scan's own command (Redis 4+ logs the client name): not the workload's
        # A command name is a short word; anything else is not a name to repeat in a report.
        if len(name) > 32 or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
            name = "?"
        out.setdefault(name, []).append(duration)
    return out
