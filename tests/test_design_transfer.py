"""import_designs / export_designs and the upload/download pages: the contract's round trip and
all-or-nothing loading."""

import io

import pytest
from conftest import DEMO_DESIGN
from django.core.management import call_command

from advisor.registry.models import Instance, Namespace, Policy, Team, Waiver

pytestmark = pytest.mark.django_db

BROKEN = """\
version: 1
teams:
  - name: catalog
instances:
  - name: prod-cache
    environment: prod
    product: azure-managed-redis
    tier: balanced
    memory_gb: 12
    clustering: oss
    high_availability: true
    persistence: none
    geo_replication: false
    eviction_policy: allkeys-lru
    auth: entra-id
    tls: true
    public_network_access: false
namespaces:
  - name: product-cache
    team: catalog
    instance: prod-cache
    pattern: "prod:catalog:product:v3:<id:integer>"
    classification: disposable
    data_type: string
    ttl: {mode: absolute, seconds: 600, jitter_seconds: 90}
    value_bytes: {typical: 2048, max: 16384}
    cardinality: 500000
    ops_per_sec: {reads: 2000, writes: 50}
    data_classification: internal
  - name: sessions
    team: identity
    instance: prod-cache
    pattern: "prod:identity:session:v2:<sid:uuid>"
    classification: session
    data_type: hash
    ttl: {mode: sliding, seconds: -5}
    value_bytes: {typical: 512, max: 4096}
    cardinality: 1000
    ops_per_sec: {reads: 10, writes: 1}
    data_classification: confidential
    colour: blue
"""


def _export(fmt="yaml") -> str:
    out = io.StringIO()
    call_command("export_designs", "--format", fmt, stdout=out)
    return out.getvalue()


def test_export_import_export_gives_the_same_file(tmp_path):
    call_command("import_designs", str(DEMO_DESIGN), stdout=io.StringIO())
    first = _export()
    path = tmp_path / "exported.yaml"
    path.write_text(first)
    call_command("import_designs", str(path), stdout=io.StringIO())
    assert _export() == first
    json_first = _export("json")
    path.write_text(json_first)
    call_command("import_designs", str(path), stdout=io.StringIO())
    assert _export("json") == json_first


def test_the_export_is_accepted_by_lint_designs(tmp_path):
    call_command("import_designs", str(DEMO_DESIGN), stdout=io.StringIO())
    path = tmp_path / "exported.yaml"
    path.write_text(_export())
    with pytest.raises(SystemExit) as exc:
        call_command("lint_designs", str(path), "--format", "json", stdout=io.StringIO())
    assert exc.value.code in (0, 1)  # linted, not refused as invalid (2)


def test_an_invalid_file_exits_2_lists_every_error_and_changes_nothing(tmp_path, capsys):
    call_command("import_designs", str(DEMO_DESIGN), stdout=io.StringIO())
    before = _export()
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    with pytest.raises(SystemExit) as exc:
        call_command("import_designs", str(path))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "namespaces[0].pattern" in err and "integer" in err  # bad pattern
    assert "namespaces[1].colour" in err  # unknown field
    assert "namespaces[1].team" in err and "identity" in err  # missing team
    assert "namespaces[1].ttl.seconds" in err  # negative TTL
    assert f"{path}:22:" in err  # YAML line numbers
    assert _export() == before
    assert not Instance.objects.filter(name="prod-cache").exists()


def test_a_missing_file_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        call_command("import_designs", str(tmp_path / "nope.yaml"))
    assert exc.value.code == 2
    assert "cannot read" in capsys.readouterr().err


def test_import_upserts_by_name_and_keeps_what_the_file_does_not_mention(tmp_path):
    call_command("import_designs", str(DEMO_DESIGN), stdout=io.StringIO())
    counts = (
        Team.objects.count(),
        Instance.objects.count(),
        Namespace.objects.count(),
        Waiver.objects.count(),
    )
    call_command("import_designs", str(DEMO_DESIGN), stdout=io.StringIO())
    assert counts == (
        Team.objects.count(),
        Instance.objects.count(),
        Namespace.objects.count(),
        Waiver.objects.count(),
    )
    assert Policy.current().disable == Policy.current().disable


def test_upload_page_imports_and_refuses_invalid_files_without_changes(client, admin_user, member):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(admin_user)
    before = _export()
    response = client.post("/designs/", {"file": SimpleUploadedFile("broken.yaml", BROKEN.encode())})
    body = response.content.decode()
    assert response.status_code == 200 and "Nothing changed" in body and "namespaces[1].ttl.seconds" in body
    assert _export() == before
    response = client.post("/designs/", {"file": SimpleUploadedFile("demo.yaml", DEMO_DESIGN.read_bytes())})
    assert response.status_code == 302
    download = client.get("/designs/download/?format=yaml")
    assert download["Content-Disposition"].startswith("attachment")
    assert download.content.decode() == _export()
    # Non-admins cannot import.
    client.force_login(member)
    response = client.post("/designs/", {"file": SimpleUploadedFile("demo.yaml", DEMO_DESIGN.read_bytes())})
    assert response.status_code == 403


def test_a_non_utf8_upload_is_a_clear_error(client, admin_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(admin_user)
    response = client.post("/designs/", {"file": SimpleUploadedFile("x.yaml", b"version: 1\n\xff\xfe")})
    assert response.status_code == 200 and "not UTF-8" in response.content.decode()


MOVE_PARTNER = """\
version: 1
teams: [{name: catalog}]
instances:
  - {name: other-cache, environment: prod, product: azure-managed-redis, tier: balanced, memory_gb: 4,
     clustering: oss, high_availability: true, persistence: none, geo_replication: false,
     eviction_policy: allkeys-lru, auth: entra-id, tls: true, public_network_access: false}
namespaces:
  - name: NAME
    team: catalog
    instance: other-cache
    pattern: "prod:catalog:moved:v1:<id:int>"
    classification: disposable
    data_type: string
    ttl: {mode: absolute, seconds: 60, jitter_seconds: 6}
    value_bytes: {typical: 10, max: 100}
    cardinality: 10
    ops_per_sec: {reads: 1, writes: 1}
    data_classification: internal
"""


def test_an_import_that_would_leave_the_registry_inconsistent_changes_nothing(tmp_path, capsys):
    call_command("import_designs", str(DEMO_DESIGN), stdout=io.StringIO())
    listed = Namespace.objects.filter(multi_key_with__isnull=False).first().multi_key_with.first()
    before = _export()
    path = tmp_path / "move.yaml"
    path.write_text(MOVE_PARTNER.replace("NAME", listed.name))
    with pytest.raises(SystemExit) as exc:
        call_command("import_designs", str(path))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "the registry after this import" in err and "multi-key commands need both namespaces" in err
    assert _export() == before


SKU_AND_PER_FIELD = """\
version: 1
teams: [{name: loyalty}]
instances:
  - {name: prod-loyalty-cache, environment: prod, product: azure-cache-for-redis, tier: premium, sku: p2,
     shards: 2, clustering: oss, high_availability: true, persistence: rdb, geo_replication: false,
     eviction_policy: allkeys-lru, auth: entra-id, tls: true, public_network_access: false}
  - {name: dev-loyalty-cache, environment: dev, product: redis-oss, memory_gb: 1, clustering: none,
     high_availability: false, persistence: none, geo_replication: false, eviction_policy: allkeys-lru,
     auth: none, tls: false, public_network_access: false}
namespaces:
  - name: loyalty-offers
    team: loyalty
    instance: prod-loyalty-cache
    pattern: "prod:loyalty:offers:v1:<customer_id:int>"
    classification: disposable
    data_type: hash
    ttl: {mode: per-field, seconds: 86400}
    value_bytes: {typical: 512, max: 4096}
    cardinality: 100000
    ops_per_sec: {reads: 50, writes: 5}
    data_classification: internal
    source_of_truth: loyalty-db.offers
"""


def test_sku_and_per_field_ttls_survive_import_and_export(tmp_path):
    import yaml

    path = tmp_path / "loyalty.yaml"
    path.write_text(SKU_AND_PER_FIELD)
    call_command("import_designs", str(path), stdout=io.StringIO())
    premium = Instance.objects.get(name="prod-loyalty-cache")
    assert (premium.sku, premium.memory_gb) == ("P2", 26)  # 13 GB per shard, 2 shards
    assert Namespace.objects.get(name="loyalty-offers").ttl_mode == "per-field"

    first = _export()
    data = yaml.safe_load(first)
    instances = {i["name"]: i for i in data["instances"]}
    assert (instances["prod-loyalty-cache"]["sku"], instances["prod-loyalty-cache"]["memory_gb"]) == (
        "P2",
        26,
    )
    assert "sku" in instances["dev-loyalty-cache"] and instances["dev-loyalty-cache"]["sku"] is None
    assert list(instances["prod-loyalty-cache"])[3:6] == ["tier", "sku", "memory_gb"]  # contract order
    assert data["namespaces"][0]["ttl"] == {"mode": "per-field", "seconds": 86400, "jitter_seconds": 0}
    assert "ttl: {mode: per-field, seconds: 86400, jitter_seconds: 0}" in first

    path.write_text(first)
    call_command("import_designs", str(path), stdout=io.StringIO())
    assert _export() == first
    assert Instance.objects.get(name="prod-loyalty-cache").memory_gb == 26
    json_first = _export("json")
    path.write_text(json_first)
    call_command("import_designs", str(path), stdout=io.StringIO())
    assert _export("json") == json_first


def test_an_import_of_a_size_without_published_memory_needs_memory_gb(tmp_path, capsys):
    path = tmp_path / "enterprise.yaml"
    path.write_text(
        SKU_AND_PER_FIELD.replace("tier: premium, sku: p2", "tier: enterprise, sku: E10").replace(
            "clustering: oss", "clustering: enterprise"
        )
    )
    with pytest.raises(SystemExit) as exc:
        call_command("import_designs", str(path))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "instances[0].memory_gb" in err and "E10" in err
    assert not Instance.objects.exists() and not Team.objects.exists()
