"""VAL rules: table-driven pass/fail cases, with each threshold's boundary."""

from __future__ import annotations

import pytest
from rule_cases import Case, base, build, inst_set, no_change, ns_set, run_case, run_rule

P = "namespace:product-cache"
S = "namespace:sessions"
KIB, MIB = 1024, 1024 * 1024


def values(name: str, typical: int, largest: int):
    return lambda d: ns_set(d, name, value_bytes={"typical": typical, "max": largest})


def product(**fields):
    return lambda d: ns_set(d, "product-cache", **fields)


def on(product_name: str, tier: str, largest: int):
    """product-cache on a tier of a product (no sku), its values reaching `largest` bytes."""

    def change(d):
        inst_set(d, "prod-cache", product=product_name, tier=tier, sku=None)
        values("product-cache", 2048, largest)(d)

    return change


AMR, ACR = "azure-managed-redis", "azure-cache-for-redis"


CASES = [
    # VAL001: value_bytes.max above 100 KiB (medium) / 1 MiB (high)
    Case("VAL001", "100KiB+1", values("product-cache", 2048, 100 * KIB + 1), [(P, "medium")]),
    Case("VAL001", "exactly-1MiB", values("product-cache", 2048, MIB), [(P, "medium")]),
    Case("VAL001", "1MiB+1", values("product-cache", 2048, MIB + 1), [(P, "high")]),
    Case("VAL001", "exactly-100KiB", values("product-cache", 2048, 100 * KIB), []),
    Case("VAL001", "base", no_change, []),
    # VAL002: session typical above 16 KiB
    Case("VAL002", "16KiB+1", values("sessions", 16 * KIB + 1, 64 * KIB), [(S, "medium")]),
    Case("VAL002", "64KiB", values("sessions", 64 * KIB, 64 * KIB), [(S, "medium")]),
    Case("VAL002", "exactly-16KiB", values("sessions", 16 * KIB, 64 * KIB), []),
    Case("VAL002", "disposable-large", values("product-cache", 20 * KIB, 64 * KIB), []),
    # VAL003: one finding per kind of content
    Case("VAL003", "credentials", product(contains=["credentials"]), [(P, "high")]),
    Case("VAL003", "payment", product(contains=["payment"], data_classification="restricted"), [(P, "high")]),
    Case(
        "VAL003", "tokens", product(contains=["tokens"], data_classification="confidential"), [(P, "medium")]
    ),
    Case("VAL003", "pii-internal", product(contains=["pii"]), [(P, "medium")]),
    Case("VAL003", "pii-public", product(contains=["pii"], data_classification="public"), [(P, "medium")]),
    Case(
        "VAL003",
        "several",
        product(contains=["pii", "credentials", "tokens"]),
        [(P, "high"), (P, "medium"), (P, "medium")],
    ),
    Case("VAL003", "pii-confidential", product(contains=["pii"], data_classification="confidential"), []),
    Case("VAL003", "pii-restricted", product(contains=["pii"], data_classification="restricted"), []),
    Case("VAL003", "nothing", no_change, []),
    # VAL004: string, typical over 4 KiB, writes at least 20% of ops
    Case(
        "VAL004",
        "4097-20%",
        product(
            value_bytes={"typical": 4 * KIB + 1, "max": 8 * KIB}, ops_per_sec={"reads": 80, "writes": 20}
        ),
        [(P, "low")],
    ),
    Case(
        "VAL004",
        "write-heavy",
        product(value_bytes={"typical": 12000, "max": 40000}, ops_per_sec={"reads": 100, "writes": 80}),
        [(P, "low")],
    ),
    Case(
        "VAL004",
        "exactly-4KiB",
        product(value_bytes={"typical": 4 * KIB, "max": 8 * KIB}, ops_per_sec={"reads": 80, "writes": 20}),
        [],
    ),
    Case(
        "VAL004",
        "19.9%",
        product(value_bytes={"typical": 8 * KIB, "max": 8 * KIB}, ops_per_sec={"reads": 801, "writes": 199}),
        [],
    ),
    Case(
        "VAL004",
        "hash-type",
        product(
            data_type="hash",
            value_bytes={"typical": 8 * KIB, "max": 8 * KIB},
            ops_per_sec={"reads": 10, "writes": 90},
        ),
        [],
    ),
    Case(
        "VAL004",
        "no-ops",
        product(value_bytes={"typical": 8 * KIB, "max": 8 * KIB}, ops_per_sec={"reads": 0, "writes": 0}),
        [],
    ),
    # VAL005: a Flash tier and value_bytes.max above 512 KiB
    Case("VAL005", "amr-flash-512KiB+1", on(AMR, "flash-optimized", 512 * KIB + 1), [(P, "medium")]),
    Case("VAL005", "acr-enterprise-flash-2MiB", on(ACR, "enterprise-flash", 2 * MIB), [(P, "medium")]),
    Case("VAL005", "amr-flash-exactly-512KiB", on(AMR, "flash-optimized", 512 * KIB), []),
    Case("VAL005", "ram-tier-2MiB", on(AMR, "memory-optimized", 2 * MIB), []),
    Case("VAL005", "acr-enterprise-2MiB", on(ACR, "enterprise", 2 * MIB), []),
    Case("VAL005", "base", no_change, []),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_it_reports_exactly_the_expected_findings(case):
    run_case(case)


def test_val005_threshold_can_be_lowered():
    d = base()
    on(AMR, "flash-optimized", 300 * KIB)(d)
    assert run_rule("VAL005", build(d)) == []
    d["policy"] = {"thresholds": {"VAL005.max_bytes": 256 * KIB}}
    (finding,) = run_rule("VAL005", build(d))
    assert "above 256.0 KiB" in finding.message
    assert "kept in RAM, not on flash" in finding.message
    assert "Flash Optimized" in finding.message
