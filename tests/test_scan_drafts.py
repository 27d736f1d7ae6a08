"""Drafts from scans (issue 9): each unregistered family a scan infers carries `draft`, a namespace
entry of the design file filled from what the scan measured, that matches the keys it was drawn
from and lints (KEY003 on a family keyed by e-mail addresses). Real redis-server on a free port."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
import yaml
from scan_fixtures import client, options

from advisor.core.design import load_design
from advisor.core.engine import lint_design
from advisor.core.patterns import parse_pattern
from advisor.core.scan import ScanTarget, namespace_specs, run_scan
from advisor.core.scan.infer import round_ttl, slug_of
from advisor.lib.redisproc import RedisProcess

TODAY = dt.date(2026, 11, 26)
INSTANCE = "draft-lab"

DESIGN = """\
version: 1
teams:
  - name: identity
instances:
  - name: draft-lab
    environment: prod
    product: redis-oss
    memory_gb: 1
    clustering: none
    high_availability: true
    persistence: none
    geo_replication: false
    eviction_policy: volatile-lru
    auth: none
    tls: true
    public_network_access: false
    connection: {{url: "{url}", credential: "none"}}
namespaces: []
"""

# family -> the keys written (filled by `_load`)
EMAIL, UUIDS, NUMERIC, HEX = "email", "uuid", "numeric", "hex"


def _load(r) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {EMAIL: [], UUIDS: [], NUMERIC: [], HEX: []}
    p = r.pipeline(transaction=False)
    for i in range(60):
        k = f"prod:identity:user:by-email:user{i}@example.com"
        p.set(k, "u" * 200, ex=1500 + i)
        keys[EMAIL].append(k)
    for i in range(80):
        k = f"prod:orders:cart:{uuid.UUID(int=i + 1, version=4)}"
        p.hset(k, mapping={f"sku{j}": "1" for j in range(5)})
        p.expire(k, 600)
        keys[UUIDS].append(k)
    for i in range(120):
        k = f"prod:legacy:session:{1000 + i}"
        p.set(k, "s" * 50)  # no TTL
        keys[NUMERIC].append(k)
    for i in range(50):
        k = f"prod:media:thumb:{i:08x}cafe{i:04d}"
        p.set(k, "t" * 1000, ex=80000 + i)
        keys[HEX].append(k)
    p.execute()
    return keys


@pytest.fixture(scope="module")
def scanned():
    with RedisProcess() as server:
        keys = _load(client(server))
        design = load_design(DESIGN.format(url=server.url))
        target = ScanTarget.from_instance(design.instance(INSTANCE))
        report = run_scan(target, namespace_specs(design, INSTANCE), options(memory_sample=1.0))
    drafts = {}
    for family, family_keys in keys.items():
        owners = [p for p in report.unmatched.patterns if parse_pattern(p.pattern).matches(family_keys[0])]
        assert len(owners) == 1, (family, [p.pattern for p in report.unmatched.patterns])
        drafts[family] = owners[0].draft
    return report, keys, drafts


def _design_with(drafts: list[dict]) -> str:
    doc = yaml.safe_load(DESIGN.format(url="redis://127.0.0.1:6379/0"))
    doc["namespaces"] = [{**d, "team": "identity"} for d in drafts]
    return yaml.safe_dump(doc, sort_keys=False)


def test_every_family_gets_a_draft_whose_pattern_matches_every_key_it_was_drawn_from(scanned):
    report, keys, drafts = scanned
    assert report.complete and report.unmatched.keys == 310
    for family, family_keys in keys.items():
        draft = drafts[family]
        assert draft is not None, family
        pattern = parse_pattern(draft["pattern"])
        missed = [k for k in family_keys if not pattern.matches(k)]
        assert missed == [], (family, draft["pattern"])
        assert draft["instance"] == INSTANCE
        assert draft["cardinality"] == len(family_keys)
    assert drafts[EMAIL]["pattern"] == "prod:identity:user:by-email:<email:str>"
    assert drafts[UUIDS]["pattern"] == "prod:orders:cart:<id:uuid>"
    assert drafts[NUMERIC]["pattern"] == "prod:legacy:session:<id:int>"
    assert drafts[HEX]["pattern"] == "prod:media:thumb:<id:hex>"
    # The reported pattern keeps `*` where personal data was: the contract field is unchanged.
    email_row = next(p for p in report.unmatched.patterns if p.draft is drafts[EMAIL])
    assert email_row.pattern == "prod:identity:user:by-email:*"


def test_drafts_carry_the_measured_type_ttl_sizes_and_personal_data(scanned):
    _report, _keys, d = scanned
    assert d[EMAIL]["data_type"] == "string"
    assert d[EMAIL]["ttl"] == {"mode": "absolute", "seconds": 1800}  # max 1559 s, rounded up
    assert d[EMAIL]["classification"] == "disposable"
    assert d[EMAIL]["contains"] == ["pii"] and d[EMAIL]["data_classification"] == "confidential"
    assert 200 <= d[EMAIL]["value_bytes"]["typical"] <= 400
    assert d[EMAIL]["value_bytes"]["max"] >= d[EMAIL]["value_bytes"]["typical"]

    assert d[UUIDS]["data_type"] == "hash"
    assert d[UUIDS]["ttl"] == {"mode": "absolute", "seconds": 600}
    assert d[UUIDS]["contains"] == [] and d[UUIDS]["data_classification"] == "internal"

    # No TTL on any key: mode none, and no guess at the classification (left to the author).
    assert d[NUMERIC]["ttl"] == {"mode": "none"}
    assert "classification" not in d[NUMERIC]
    assert 50 <= d[NUMERIC]["value_bytes"]["typical"] <= 150

    assert d[HEX]["ttl"] == {"mode": "absolute", "seconds": 86400}
    assert 1000 <= d[HEX]["value_bytes"]["typical"] <= 1300
    assert d[HEX]["value_bytes"]["max"] >= d[HEX]["value_bytes"]["typical"]
    assert [d[f]["name"] for f in (EMAIL, UUIDS, NUMERIC, HEX)] == [
        "prod-identity-user-by-email",
        "prod-orders-cart",
        "prod-legacy-session",
        "prod-media-thumb",
    ]


def test_drafts_with_a_team_load_and_lint_with_key003_on_the_email_family_only(scanned):
    _report, _keys, d = scanned
    entries = [d[EMAIL], d[UUIDS], d[HEX], {**d[NUMERIC], "classification": "durable"}]
    design = load_design(_design_with(entries))
    findings = lint_design(design, today=TODAY).findings
    key003 = sorted(f.target for f in findings if f.rule == "KEY003")
    assert key003 == ["namespace:prod-identity-user-by-email"]


def test_a_disposable_draft_loads_with_nothing_but_a_team(scanned):
    _report, _keys, d = scanned
    for family in (EMAIL, UUIDS, HEX):
        design = load_design(_design_with([d[family]]))
        assert design.namespaces[0].pattern == d[family]["pattern"]


def test_an_incomplete_scan_scales_the_cardinality_by_its_coverage():
    with RedisProcess() as server:
        r = client(server)
        p = r.pipeline(transaction=False)
        for i in range(2000):
            p.set(f"prod:legacy:session:{i}", "s", ex=300)
        p.execute()
        design = load_design(DESIGN.format(url=server.url))
        target = ScanTarget.from_instance(design.instance(INSTANCE))
        report = run_scan(target, namespace_specs(design, INSTANCE), options(max_keys=500))
    assert not report.complete
    (row,) = report.unmatched.patterns
    scanned_keys = row.keys
    assert scanned_keys < 2000
    assert row.draft["cardinality"] == pytest.approx(2000, rel=0.01)


@pytest.mark.parametrize(
    ("seconds", "rounded"),
    [(0.2, 1), (1, 1), (1.01, 5), (59, 60), (60, 60), (61, 120), (599.5, 600), (1559, 1800), (86399, 86400)]
    + [(86401, 2 * 86400), (365 * 86400 + 1, 366 * 86400)],
)
def test_round_ttl_rounds_up_to_a_round_number(seconds, rounded):
    assert round_ttl(seconds) == rounded


@pytest.mark.parametrize(
    ("pattern", "slug"),
    [
        ("prod:identity:user:by-email:<email:str>", "prod-identity-user-by-email"),
        ("tmp:<id:uuid>", "tmp"),
        ("*:<id:int>", "unregistered-family"),
        ("Cache_V2:{<id:int>}:Items", "cache-v2-items"),
    ],
)
def test_slug_of_pattern(pattern, slug):
    assert slug_of(pattern) == slug


# --------------------------------------------------------------------------------------------
# The page: "Register this namespace" opens the form filled with the draft


@pytest.fixture
def shop_scanned(db, django_user_model):
    from advisor.scans import services
    from advisor.scans.models import ScanRun
    from tests.registry_fixtures import register_shop

    with RedisProcess() as server:
        r = client(server)
        p = r.pipeline(transaction=False)
        for i in range(30):
            p.set(f"prod:shop:product:v1:{i}", "x" * 100, ex=600)  # the registered namespace
        for i in range(40):
            p.set(f"prod:identity:user:by-email:user{i}@example.com", "u" * 300, ex=1700)
        p.execute()
        shop = register_shop(server.url)
        run = services.scan_run_create(instance=shop, enqueue=False)
        run = services.scan_run_execute(run=run, options=services.scan_options(memory_sample=1.0))
    assert run.status == ScanRun.Status.COMPLETED, run.reason
    user = django_user_model.objects.create_user("sam-shop", password="x")
    shop.namespaces.first().team.members.add(user)
    return shop, run, user


def test_register_this_namespace_opens_the_form_filled_with_the_draft(client, shop_scanned):
    shop, run, user = shop_scanned
    client.force_login(user)
    rows = run.report["unmatched"]["patterns"]
    index = next(i for i, p in enumerate(rows) if p["pattern"] == "prod:identity:user:by-email:*")
    draft = rows[index]["draft"]
    for page in (f"/instances/{shop.name}/scans/", f"/scans/{run.pk}/"):
        body = client.get(page).content.decode()
        links = re.findall(r'href="(/namespaces/new/[^"]*)"', body)
        link = next(h for h in links if f"family={index}" in h).replace("&amp;", "&")
        assert link.endswith(f"?scan={run.pk}&family={index}")  # a reference: no key travels in the URL
        response = client.get(link)
        assert response.status_code == 200
        initial = response.context["form"].initial
        assert initial["pattern"] == "prod:identity:user:by-email:<email:str>" == draft["pattern"]
        assert initial["instance"] == shop.pk
        assert initial["data_type"] == "string"
        assert initial["ttl_mode"] == "absolute" and initial["ttl_seconds"] == 1800
        assert initial["value_bytes_typical"] == draft["value_bytes"]["typical"] >= 300
        assert initial["value_bytes_max"] >= initial["value_bytes_typical"]
        assert initial["cardinality"] == 40
        assert initial["contains"] == ["pii"] and initial["data_classification"] == "confidential"
        assert initial["classification"] == "disposable"
        html = response.content.decode()
        assert 'value="prod:identity:user:by-email:&lt;email:str&gt;"' in html


def test_a_stale_draft_reference_opens_an_empty_form_and_says_so(client, shop_scanned):
    shop, run, user = shop_scanned
    client.force_login(user)
    for query in (f"scan={run.pk}&family=99", "scan=999999&family=0", f"scan={run.pk}&family=x", "scan=x"):
        response = client.get(f"/namespaces/new/?{query}")
        assert response.status_code == 200, query
        assert "pattern" not in response.context["form"].initial
        assert "no longer available" in response.content.decode()


def test_the_registered_draft_saves_and_matches_its_keys(client, shop_scanned):
    shop, run, user = shop_scanned
    from advisor.registry.models import Namespace

    client.force_login(user)
    rows = run.report["unmatched"]["patterns"]
    index = next(i for i, p in enumerate(rows) if p["pattern"] == "prod:identity:user:by-email:*")
    form = client.get(f"/namespaces/new/?scan={run.pk}&family={index}").context["form"]
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data["team"] = shop.namespaces.first().team.pk
    data["contains"] = form["contains"].value()
    response = client.post("/namespaces/new/", {k: v for k, v in data.items() if v != [] or k == "contains"})
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    saved = Namespace.objects.get(name="prod-identity-user-by-email")
    assert parse_pattern(saved.pattern).matches("prod:identity:user:by-email:user7@example.com")
    assert saved.contains == ["pii"] and saved.ttl_seconds == 1800


# --------------------------------------------------------------------------------------------
# The per-family accumulators, without a server


def _infer(batches):
    from advisor.core.scan.infer import PatternInferrer

    inf = PatternInferrer()
    for keys, types, pttls, sizes in batches:
        inf.add(keys, types, pttls, sizes)
    rows, _other = inf.result(instance=INSTANCE)
    return {r["draft"]["pattern"]: r["draft"] for r in rows}


@pytest.mark.parametrize(
    ("without_ttl", "mode", "classification"),
    [
        (0, "absolute", "disposable"),
        (1, "absolute", None),
        (5, "absolute", None),
        (6, "none", None),
        (10, "none", None),
    ],
)
def test_ttl_mode_none_only_when_most_keys_have_no_ttl(without_ttl, mode, classification):
    keys = [f"a:b:{i}".encode() for i in range(10)]
    pttls = [-1] * without_ttl + [250_000 + i for i in range(10 - without_ttl)]
    draft = _infer([(keys, [b"string"] * 10, pttls, {})])["a:b:<id:int>"]
    assert draft["ttl"]["mode"] == mode
    if mode == "absolute":
        assert draft["ttl"]["seconds"] == 300  # max 250 s, rounded up
    assert draft.get("classification") == classification


def test_families_mixed_in_one_batch_keep_their_own_types_ttls_and_sizes():
    keys, types, pttls, sizes = [], [], [], {}
    for i in range(30):
        keys.append(f"x:user:{i}".encode())
        types.append(b"hash")
        pttls.append(-1 if i == 0 else 3_000_000 + i)  # 50 min; one key without TTL
        keys.append(f"x:mail:u{i}@example.org".encode())
        types.append(b"string")
        pttls.append(10_000)
        sizes[len(keys) - 1] = 100 + i
    keys.append(b"x:user:99")
    types.append(b"string")  # a minority type
    pttls.append(20_000)
    drafts = _infer(
        [(keys[:40], types[:40], pttls[:40], {p: m for p, m in sizes.items() if p < 40})]
        + [(keys[40:], types[40:], pttls[40:], {p - 40: m for p, m in sizes.items() if p >= 40})]
    )
    user, mail = drafts["x:user:<id:int>"], drafts["x:mail:<email:str>"]
    assert user["data_type"] == "hash" and user["cardinality"] == 31
    assert user["ttl"] == {"mode": "absolute", "seconds": 3600} and "classification" not in user
    assert user["value_bytes"] == {"typical": 0, "max": 0}  # nothing measured
    assert user["contains"] == [] and user["data_classification"] == "internal"
    assert mail["data_type"] == "string" and mail["cardinality"] == 30
    assert mail["ttl"] == {"mode": "absolute", "seconds": 10} and mail["classification"] == "disposable"
    assert mail["value_bytes"] == {"typical": 114, "max": 129}
    assert mail["contains"] == ["pii"] and mail["data_classification"] == "confidential"


def test_sizes_kept_per_family_are_bounded():
    from advisor.core.scan.infer import MAX_SIZE_SAMPLES, PatternInferrer

    inf = PatternInferrer()
    for start in range(0, 5000, 500):
        keys = [f"big:{i}".encode() for i in range(start, start + 500)]
        inf.add(keys, [b"string"] * 500, [-1] * 500, {p: 10 + start + p for p in range(500)})
    (family,) = inf._table.values()
    assert len(family.sizes) == MAX_SIZE_SAMPLES and family.size_n == 5000 and family.size_max == 5009
    (row,), _ = inf.result()
    assert row["draft"]["value_bytes"]["max"] == 5009
