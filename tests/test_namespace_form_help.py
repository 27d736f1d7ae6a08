"""The namespace form's help: the team of someone in exactly one team is chosen for them, and
changing a registered pattern says what the new one does to the keys the instance's last
complete scan counted (from the stored report, never the live Redis)."""

from __future__ import annotations

import datetime as dt

import pytest

from advisor.core.patterns import difference_witness, intersection_witness, parse_pattern
from advisor.registry.forms import NamespaceForm
from advisor.registry.models import Instance, Namespace, Team
from advisor.scans.models import ScanRun
from advisor.scans.pattern_change import pattern_change
from tests.test_permissions_matrix import _form_data

pytestmark = pytest.mark.django_db

OLD = "prod:catalog:product:v3:<product_id:int>"
FINISHED = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


def _report(**namespace) -> dict:
    """A stored scan report as the scanner writes it, with the parts the check reads."""
    return {
        "instance": "prod-catalog-cache",
        "status": "completed",
        "complete": True,
        "keys_scanned": 1600,
        "namespaces": [
            {
                "name": "product-cache",
                "keys": 1310,
                "examples": [
                    "prod:catalog:product:v3:1001",
                    "prod:catalog:product:v3:2002",
                    # Masked (a long number): no longer a key of the old pattern, so not counted.
                    "prod:catalog:product:v3:12***23",
                ],
                "biggest_keys": [
                    {"key": "prod:catalog:product:v3:1001", "memory_bytes": 900, "type": "string"}
                ],
                **namespace,
            }
        ],
        "unmatched": {
            "keys": 290,
            "patterns": [
                {"pattern": "prod:catalog:product:v4:<id:int>", "keys": 204, "example": None},
                {"pattern": "prod:catalog:cart:*", "keys": 86, "example": None},
            ],
        },
    }


@pytest.fixture
def scanned(demo_registry):
    instance = Instance.objects.get(name="prod-catalog-cache")
    return ScanRun.objects.create(
        instance=instance, status="completed", complete=True, finished_at=FINISHED, report=_report()
    )


def _check(client, user, pattern: str, namespace: str = "product-cache") -> str:
    client.force_login(user)
    url = f"/namespaces/validate-pattern/?namespace={namespace}"
    return client.post(url, {"pattern": pattern}).content.decode()


# The team default ----------------------------------------------------------------------------------


def test_someone_in_one_team_gets_it_chosen(client, member):
    client.force_login(member)
    form = client.get("/namespaces/new/").context["form"]
    assert form.initial["team"] == Team.objects.get(name="catalog").pk
    assert "selected>catalog</option>" in client.get("/namespaces/new/").content.decode()


def test_someone_in_two_teams_chooses(client, member):
    Team.objects.get(name="identity").members.add(member)
    client.force_login(member)
    assert client.get("/namespaces/new/").context["form"].initial.get("team") is None


def test_an_administrator_in_no_team_chooses(client, admin_user, demo_registry):
    client.force_login(admin_user)
    assert client.get("/namespaces/new/").context["form"].initial.get("team") is None


def test_a_team_named_in_the_link_wins_over_the_default(client, admin_user, member):
    Team.objects.get(name="platform").members.add(admin_user)
    client.force_login(admin_user)
    form = client.get("/namespaces/new/", {"team": "identity"}).context["form"]
    assert form.initial["team"] == Team.objects.get(name="identity").pk


def test_editing_keeps_the_namespace_team(client, other_member):
    client.force_login(other_member)
    form = client.get("/namespaces/legacy-session/edit/").context["form"]
    assert form["team"].value() == Team.objects.get(name="identity").pk


# What a new pattern does to the counted keys ------------------------------------------------------


def test_a_wider_pattern_matches_every_counted_key(client, member, scanned):
    body = _check(client, member, "prod:catalog:product:v3:<product_id:str>")
    assert (
        "The new pattern matches all 1,310 keys the last scan (28 Nov 2026) counted for this namespace."
        in body
    )


def test_a_disjoint_pattern_matches_none_and_says_the_next_scan_reports_them(client, member, scanned):
    # KEY002's advice followed on keys that carry no version: the scan would find them unregistered.
    body = _check(client, member, "prod:catalog:product:v5:<product_id:int>")
    assert "matches none of the 1,310 keys the last scan (28 Nov 2026) counted" in body
    assert "prod:catalog:product:v3:0" in body and "report them as unregistered" in body
    assert "data-pattern-change" in body and "text-danger-emphasis" in body


def test_a_narrower_pattern_says_which_keys_go_and_how_many_examples_stay(client, member, scanned):
    body = _check(client, member, "prod:catalog:product:v3:1<product_id:int>")
    assert "matches only part of the 1,310 keys" in body
    assert "a key like “prod:catalog:product:v3:1” no longer matches" in body
    # Two usable examples (the masked one is left out, the biggest key is one of them), one matches.
    assert "Of the 2 example keys it kept, 1 still matches." in body


def test_unregistered_families_the_new_pattern_takes_in_are_named(client, member, scanned):
    body = _check(client, member, "prod:catalog:product:<version:str>:<product_id:int>")
    assert "matches all 1,310 keys" in body
    assert (
        "also take in 204 keys the scan found unregistered (prod:catalog:product:v4:&lt;id:int&gt;)" in body
    )
    assert "prod:catalog:cart:*" not in body


def test_without_a_complete_scan_it_says_so(client, member, demo_registry):
    instance = Instance.objects.get(name="prod-catalog-cache")
    ScanRun.objects.create(
        instance=instance, status="completed", complete=False, finished_at=FINISHED, report=_report()
    )
    ScanRun.objects.create(instance=instance, status="failed", finished_at=FINISHED)
    body = _check(client, member, "prod:catalog:product:v5:<product_id:int>")
    assert "No complete scan of prod-catalog-cache yet" in body


def test_the_latest_complete_scan_is_the_one_read(client, member, scanned):
    later = FINISHED + dt.timedelta(days=1)
    ScanRun.objects.create(
        instance=scanned.instance,
        status="completed",
        complete=True,
        finished_at=later,
        report=_report(keys=7),
    )
    body = _check(client, member, "prod:catalog:product:v3:<product_id:str>")
    assert "matches all 7 keys the last scan (29 Nov 2026) counted" in body


def test_a_namespace_the_scan_did_not_count_is_said_to_have_no_keys(client, member, scanned):
    body = _check(client, member, "prod:catalog:product-miss:v2:<product_id:int>", namespace="product-miss")
    assert "counted no keys for this namespace" in body


def test_nothing_is_said_while_creating_or_when_the_pattern_is_unchanged(client, member, scanned):
    assert "data-pattern-change" not in _check(client, member, OLD)
    client.force_login(member)
    body = client.post(
        "/namespaces/validate-pattern/", {"pattern": "prod:catalog:x:<id:int>"}
    ).content.decode()
    assert "Pattern is valid" in body and "data-pattern-change" not in body
    assert pattern_change(name="product-cache", instance=scanned.instance, old=OLD, new="a:<b") is None


def test_the_form_says_it_after_submit_and_the_save_reports_it(client, member, scanned):
    client.force_login(member)
    ns = Namespace.objects.get(name="product-cache")
    new = "prod:catalog:product:v5:<product_id:int>"
    # Refused for another reason: the form comes back saying what the pattern would do.
    refused = client.post(
        "/namespaces/product-cache/edit/", _form_data(NamespaceForm, ns, pattern=new, value_bytes_max="1")
    )
    assert refused.status_code == 200
    assert "matches none of the 1,310 keys" in refused.content.decode()
    assert 'hx-post="/namespaces/validate-pattern/?namespace=product-cache"' in refused.content.decode()
    # Saved: the success message and the warning.
    saved = client.post(
        "/namespaces/product-cache/edit/", _form_data(NamespaceForm, ns, pattern=new), follow=True
    )
    body = saved.content.decode()
    assert "Namespace product-cache saved." in body and "matches none of the 1,310 keys" in body
    assert Namespace.objects.get(name="product-cache").pattern == new


# The comparison itself --------------------------------------------------------------------------

PAIRS = [
    (OLD, "prod:catalog:product:v3:<product_id:str>", None),
    ("prod:catalog:product:v3:<product_id:str>", OLD, "prod:catalog:product:v3:a"),
    (OLD, "prod:catalog:product:v5:<product_id:int>", "prod:catalog:product:v3:0"),
    ("a:<x:str>:<y:str>", "a:<z:any>", None),
    ("a:<z:any>", "a:<x:str>:<y:str>", "a:a"),
    ("a:<u:uuid>", "a:<h:hex>", "a:aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"),
    ("a:<h:hash>", "a:*", None),
    ("c:{<id:int>}:items", "c:{<id:hex>}:items", None),
]


@pytest.mark.parametrize("old, new, witness", PAIRS)
def test_the_difference_witness_is_exact(old, new, witness):
    found = difference_witness(old, new)
    assert found == witness
    if found is not None:
        assert parse_pattern(old).matches(found) and not parse_pattern(new).matches(found)


def test_disjoint_and_overlapping_are_told_apart():
    assert intersection_witness(OLD, "prod:catalog:product:v5:<product_id:int>") is None
    assert intersection_witness(OLD, "prod:catalog:product:v3:1<product_id:int>") is not None
