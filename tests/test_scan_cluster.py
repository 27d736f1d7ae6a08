"""Scanning an OSS cluster: discover the primaries, scan each, count keys per shard and per slot."""

from __future__ import annotations

import time

import pytest
from redis.cluster import RedisCluster
from scan_fixtures import TODAY, client, cluster, findings_summary, options

from advisor.core.design import load_design
from advisor.core.patterns import key_hash_slot
from advisor.core.scan import ScanError, ScanTarget, evaluate_drift, namespace_specs, run_scan

pytestmark = pytest.mark.slow

DESIGN = """\
version: 1
teams: [{{name: shop}}]
instances:
  - name: shop-cluster
    environment: prod
    product: redis-oss
    memory_gb: 3
    shards: 3
    clustering: oss
    high_availability: true
    persistence: none
    geo_replication: false
    eviction_policy: noeviction
    auth: none
    tls: true
    public_network_access: false
    connection: {{url: "{url}", credential: none}}
namespaces:
  - name: products
    team: shop
    instance: shop-cluster
    pattern: "prod:shop:product:v1:<id:int>"
    classification: durable
    data_type: string
    ttl: {{mode: none}}
    value_bytes: {{typical: 10, max: 100}}
    cardinality: 5000
    ops_per_sec: {{reads: 10, writes: 1}}
    data_classification: internal
    source_of_truth: shop-db
  - name: carts
    team: shop
    instance: shop-cluster
    pattern: "prod:shop:cart:{{all}}:<id:int>"
    classification: durable
    data_type: string
    ttl: {{mode: none}}
    value_bytes: {{typical: 10, max: 100}}
    cardinality: 5000
    ops_per_sec: {{reads: 10, writes: 1}}
    data_classification: internal
    source_of_truth: shop-db
    multi_key_with: [products]
"""
PRODUCTS, CARTS, LEGACY = 3000, 4000, 150


@pytest.fixture(scope="module")
def shop_cluster():
    with cluster(3) as nodes:
        rc = RedisCluster(host="127.0.0.1", port=nodes[0].port)
        pipe = rc.pipeline()
        for i in range(PRODUCTS):
            pipe.set(f"prod:shop:product:v1:{i}", "p")
        for i in range(CARTS):
            pipe.set(f"prod:shop:cart:{{all}}:{i}", "c")
        for i in range(LEGACY):
            pipe.set(f"legacy:item:{i}", "l")
        pipe.execute()
        rc.close()
        yield nodes


def _scan(nodes, url=None, **opts):
    design = load_design(DESIGN.format(url=url or f"redis://127.0.0.1:{nodes[1].port}/0"))
    target = ScanTarget.from_instance(design.instance("shop-cluster"))
    return design, run_scan(target, namespace_specs(design, "shop-cluster"), options(**opts))


def test_it_scans_every_primary_and_counts_keys_per_shard_and_slot(shop_cluster):
    design, report = _scan(shop_cluster)
    total = PRODUCTS + CARTS + LEGACY
    assert report.complete and report.clustered and report.keys_scanned == total
    assert report.namespace("products").keys == PRODUCTS and report.namespace("carts").keys == CARTS
    assert [(p.pattern, p.keys) for p in report.unmatched.patterns] == [("legacy:item:<id:int>", LEGACY)]

    by_port = {int(s.node.rsplit(":", 1)[1]): s for s in report.shards}
    assert sorted(by_port) == sorted(n.port for n in shop_cluster)
    for node in shop_cluster:
        shard = by_port[node.port]
        assert shard.keys == shard.keys_total == client(node).dbsize() and shard.complete
    assert sum(s.slots for s in report.shards) == 16384
    assert report.server.nodes == 3 and report.server.cluster_enabled

    cart_slot = key_hash_slot("{all}")
    assert report.fullest_slots[0].slot == cart_slot and report.fullest_slots[0].keys == CARTS
    assert sum(s.keys for s in report.fullest_slots) <= total

    findings = evaluate_drift(design, "shop-cluster", report, TODAY)
    skew = [f for f in findings if f.rule == "DRF009"]
    slot_finding = next(f for f in skew if f.message.startswith(f"Slot {cart_slot} "))
    assert slot_finding.related == ["namespace:carts"]
    assert f"({CARTS:,} of {total:,})" in slot_finding.message
    shard_with_carts = next(s for s in report.shards if s.keys >= CARTS)
    assert [f.message.split(" holds")[0] for f in skew if f.message.startswith("Shard")] == [
        f"Shard {shard_with_carts.node}"
    ]
    assert findings_summary(findings) == sorted(
        [
            ("DRF001", "instance:shop-cluster", "medium"),
            ("DRF009", "instance:shop-cluster", "medium"),
            ("DRF009", "instance:shop-cluster", "medium"),
        ]
    )


def test_max_keys_spans_the_whole_cluster(shop_cluster):
    design, report = _scan(shop_cluster, max_keys=2500, count=200)
    assert report.keys_scanned == 2500 and not report.complete
    assert sum(s.keys for s in report.shards) == 2500
    findings = evaluate_drift(design, "shop-cluster", report, TODAY)
    # slot shares of a partial scan mean nothing; shard shares come from INFO and still hold
    assert not [f for f in findings if f.rule == "DRF011" or f.message.startswith("Slot")]
    assert [f for f in findings if f.rule == "DRF009" and f.message.startswith("Shard")]


def test_a_cluster_reached_by_name_accepts_nodes_announced_at_the_names_addresses(shop_cluster):
    # Azure's OSS-clustered caches announce their shards by IP address; the seed is allowed by
    # name. 127.0.0.1 is what "localhost" resolves to, so the nodes are the same host.
    _, report = _scan(
        shop_cluster, url=f"redis://localhost:{shop_cluster[0].port}/0", allowed_hosts=["localhost"]
    )
    assert report.complete and report.keys_scanned == PRODUCTS + CARTS + LEGACY
    assert sorted(s.node for s in report.shards) == sorted(f"127.0.0.1:{n.port}" for n in shop_cluster)


def test_a_node_announced_at_another_address_is_refused(shop_cluster):
    # A server must not be able to point the scanner at other hosts: one node now announces
    # 127.0.0.2, which "localhost" does not resolve to and the allowlist does not name.
    moved = shop_cluster[2]
    try:
        client(moved).config_set("cluster-announce-ip", "127.0.0.2")
        _wait_for_announced(shop_cluster, {"127.0.0.1", "127.0.0.2"})
        with pytest.raises(ScanError) as e:
            _scan(
                shop_cluster, url=f"redis://localhost:{shop_cluster[0].port}/0", allowed_hosts=["localhost"]
            )
        assert e.value.kind == "refused_host"
        assert e.value.reason.startswith(f"cluster node 127.0.0.2:{moved.port} announced by localhost:")
        assert "CIDR" in e.value.reason  # says how an operator allows a private network
        with pytest.raises(ScanError) as e:  # an address seed is no name to resolve: only the list counts
            _scan(shop_cluster, allowed_hosts=["127.0.0.1"])
        assert e.value.kind == "refused_host" and "127.0.0.2" in e.value.reason
    finally:
        client(moved).config_set("cluster-announce-ip", "127.0.0.1")
        _wait_for_announced(shop_cluster, {"127.0.0.1"})


def test_a_cidr_entry_allows_the_nodes_in_its_range(shop_cluster):
    _, report = _scan(shop_cluster, allowed_hosts=["127.0.0.0/8"])
    assert report.complete and len(report.shards) == 3
    with pytest.raises(ScanError) as e:
        _scan(shop_cluster, allowed_hosts=["10.0.0.0/8"])
    assert e.value.kind == "refused_host"


def _wait_for_announced(nodes, hosts: set[str], timeout: float = 20.0) -> None:
    """Until every node's CLUSTER SLOTS names exactly these hosts (gossip takes a moment)."""
    deadline = time.monotonic() + timeout
    for node in nodes:
        r = client(node)
        while True:
            seen = {e[2][0].decode() for e in r.execute_command("CLUSTER", "SLOTS")}
            if seen == hosts:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{node.port} announces {seen}, not {hosts}")
            time.sleep(0.05)


def test_a_cluster_node_that_fails_leaves_the_scan_incomplete(shop_cluster):
    victim = shop_cluster[2]
    client(victim).execute_command("CLIENT", "PAUSE", "2000", "ALL")  # answers nothing for 2 s
    _, report = _scan(shop_cluster, read_timeout=0.5)
    assert not report.complete and report.error_kind == "timeout"
    failed = [s for s in report.shards if not s.complete]
    assert [s.node for s in failed] == [f"127.0.0.1:{victim.port}"]
    assert all(s.complete for s in report.shards if s not in failed)


def test_progress_knows_the_whole_cluster_from_the_first_report(shop_cluster):
    design = load_design(DESIGN.format(url=f"redis://127.0.0.1:{shop_cluster[0].port}/0"))
    target = ScanTarget.from_instance(design.instance("shop-cluster"))
    seen = []
    run_scan(
        target,
        namespace_specs(design, "shop-cluster"),
        options(progress_interval=0.0, count=100),
        progress=seen.append,
    )
    total = PRODUCTS + CARTS + LEGACY
    assert len(seen) > 3
    assert all(p.keys_total == total for p in seen)
    assert seen[-1].keys_scanned == total and seen[-1].fraction == 1.0
