"""Where notifications come from: real scans of the drift lab (new high drift is told once, a
failed scan is told), the review workflow's decisions, and the daily jobs for expiring waivers and
retiring instances on a frozen date. Deliveries go to a real HTTP receiver on loopback."""

import datetime as dt

import pytest
import redis
from django.utils import timezone

from advisor.findings import clock
from advisor.lib.redisproc import free_port
from advisor.notifications import sources
from advisor.notifications.models import DeliveryStatus, NotificationDelivery
from advisor.notifications.tasks import notify_expiring_waivers_task, notify_retiring_instances_task
from advisor.registry.models import Instance, Namespace, Team, Waiver
from advisor.registry.services import design_import
from advisor.reviews import services as reviews
from advisor.reviews.models import Review
from advisor.scans import services as scans
from advisor.scans.models import ScanRun
from tests.notification_fixtures import SECRET, channel, deliver, loopback_settings, signature_ok
from tests.scan_fixtures import drift_design, drift_server, load_drift_keyspace
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def hooks(settings, monkeypatch):
    loopback_settings(settings, monkeypatch)


def _deliveries(**filters) -> list[NotificationDelivery]:
    return list(NotificationDelivery.objects.filter(**filters).select_related("channel__team").order_by("pk"))


# Scans -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab_server():
    with drift_server() as server:
        load_drift_keyspace(redis.Redis(port=server.port), misses=0)
        yield server


@pytest.fixture
def lab(lab_server, db, hooks, receiver):
    design_import(drift_design(lab_server.url))
    identity, catalog = Team.objects.get(name="identity"), Team.objects.get(name="catalog")
    return {
        "identity": channel(
            identity, "webhook", receiver.url("/ok/identity"), events=["scan.new_high_drift"]
        ),
        "catalog": channel(
            catalog, "slack", receiver.url("/ok/catalog"), events=["scan.new_high_drift", "scan.failed"]
        ),
        "catalog-quiet": channel(catalog, "email", "quiet@example.com", events=["review.approved"]),
    }


def _scan() -> ScanRun:
    run = scans.scan_run_create(instance=Instance.objects.get(name="lab-cache"), enqueue=False)
    run = scans.scan_run_execute(run=run, options=scans.scan_options())
    assert run.status == ScanRun.Status.COMPLETED and run.complete, run.reason
    return run


def test_new_high_drift_is_told_once_to_each_team_concerned(lab, receiver, lab_server):
    first = _scan()
    told = _deliveries()
    assert [(d.channel.team.name, d.event) for d in told] == [
        ("catalog", "scan.new_high_drift"),
        ("identity", "scan.new_high_drift"),
    ]
    by_team = {d.channel.team.name: d for d in told}
    # Each team hears about its own namespaces and the instance they share, nobody else's.
    assert [(f["rule"], f["target"]) for f in by_team["identity"].payload["data"]["findings"]] == [
        ("DRF006", "namespace:user-by-email"),
        ("DRF007", "instance:lab-cache"),
    ]
    assert [(f["rule"], f["target"]) for f in by_team["catalog"].payload["data"]["findings"]] == [
        ("DRF002", "namespace:product-cache"),
        ("DRF007", "instance:lab-cache"),
    ]
    assert by_team["catalog"].summary == f"New high drift on lab-cache: 2 findings in scan #{first.number}"

    # The nightly scan finds the same drift again: nothing new, nothing sent.
    _scan()
    assert len(_deliveries()) == 2

    # The keys without TTL go (DRF002 with them), then come back: that is news again.
    r = redis.Redis(port=lab_server.port)
    for i in range(1000, 1050):
        r.expire(f"prod:catalog:product:v3:{i}", 600)
    _scan()
    assert len(_deliveries()) == 2
    for i in range(1000, 1050):
        r.persist(f"prod:catalog:product:v3:{i}")
    back = _scan()
    [again] = _deliveries(pk__gt=told[-1].pk)
    assert again.channel.team.name == "catalog"
    assert [(f["rule"], f["target"]) for f in again.payload["data"]["findings"]] == [
        ("DRF002", "namespace:product-cache")
    ]
    assert again.payload["data"]["scan"]["number"] == back.number

    # What the receivers get: the JSON webhook signed, Slack its blocks; no finding's message.
    identity = deliver(by_team["identity"])
    catalog = deliver(again)
    assert identity.status == catalog.status == DeliveryStatus.SENT
    [hook] = receiver.to("/ok/identity")
    assert signature_ok(SECRET, hook)
    body = hook.json()
    assert body["event"] == "scan.new_high_drift" and body["team"] == "identity"
    assert body["url"] == f"https://advisor.example.com/scans/{first.pk}/"
    assert body["data"]["findings"][0] == {
        "rule": "DRF006",
        "severity": "high",
        "target": "namespace:user-by-email",
        "related": [],
        "title": body["data"]["findings"][0]["title"],
    }
    assert "user1@example.com" not in hook.body.decode()
    slack = receiver.to("/ok/catalog")[0].json()
    assert "high DRF002 on namespace:product-cache" in slack["blocks"][1]["text"]["text"]


def test_a_failed_scan_is_told_to_the_teams_on_the_instance(lab, receiver):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    Instance.objects.filter(name="lab-cache").update(connection_url=dead)
    run = scans.scan_run_create(instance=Instance.objects.get(name="lab-cache"), enqueue=False)
    run = scans.scan_run_execute(run=run, options=scans.scan_options())
    assert run.status == ScanRun.Status.FAILED and run.error_kind == "unreachable"
    [told] = _deliveries()  # only the channel that chose scan.failed
    assert told.channel == lab["catalog"] and told.event == "scan.failed"
    assert told.summary == f"Scan #{run.number} of lab-cache failed"
    assert told.payload["data"]["error_kind"] == "unreachable"
    assert told.payload["data"]["reason"] == run.reason
    sent = deliver(told)
    assert sent.status == DeliveryStatus.SENT
    assert run.reason in receiver.to("/ok/catalog")[0].json()["blocks"][1]["text"]["text"]


def test_a_run_reaped_after_its_worker_died_is_told_once(lab, settings):
    instance = Instance.objects.get(name="lab-cache")
    stale = timezone.now() - dt.timedelta(minutes=10)
    run = ScanRun.objects.create(instance=instance, status=ScanRun.Status.RUNNING, heartbeat_at=stale)
    assert scans.scan_runs_reap_stale() == 1
    [told] = _deliveries()
    assert told.event == "scan.failed" and told.payload["data"]["scan"]["id"] == run.pk
    assert "no heartbeat" in told.payload["data"]["reason"]
    assert scans.scan_runs_reap_stale() == 0 and len(_deliveries()) == 1


def test_a_failing_listener_never_fails_the_scan(lab, monkeypatch, caplog):
    def broken(run):
        raise RuntimeError("notifications are down")

    monkeypatch.setattr(sources, "scan_new_high_drift", broken)
    run = _scan()  # completed, as if nobody listened
    assert ScanRun.objects.get(pk=run.pk).status == ScanRun.Status.COMPLETED
    assert (
        f"scan {run.pk}: a scan_finished listener" in caplog.text and "notifications are down" in caplog.text
    )
    assert _deliveries() == []


def test_a_disabled_channel_hears_nothing(lab):
    lab["identity"].enabled = False
    lab["identity"].save()
    _scan()
    assert [d.channel.team.name for d in _deliveries()] == ["catalog"]


# Reviews ---------------------------------------------------------------------------------------


def _asks(team):
    expires = timezone.localdate() + dt.timedelta(days=60)
    return [
        reviews.WaiverAsk(f.rule, f.target, f"Accepted risk for {f.rule}", expires)
        for f in reviews.blocking_findings(reviews.team_findings(team))
    ]


def test_review_submission_changes_and_approval_are_told_once_committed(
    member, reviewer, hooks, receiver, django_capture_on_commit_callbacks, mailoutbox
):
    catalog = Team.objects.get(name="catalog")
    chat = channel(
        catalog,
        "teams",
        receiver.url("/accepted/reviews"),
        events=["review.submitted", "review.changes_requested", "review.approved"],
    )
    mailbox = channel(catalog, "email", "catalog-leads@example.com", events=["review.approved"])

    with django_capture_on_commit_callbacks(execute=True):
        first = reviews.review_submit(team=catalog, user=member, waivers=_asks(catalog))
    with django_capture_on_commit_callbacks(execute=True):
        reviews.review_request_changes(
            review=first, user=reviewer, expected_hash=first.content_hash, comment="Shorter waivers, please."
        )
    with django_capture_on_commit_callbacks(execute=True):
        second = reviews.review_submit(team=catalog, user=member)
    # A refused approval (a rejected waiver leaves a high finding open) rolls back: nothing told.
    pending = list(second.waiver_requests.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(reviews.ReviewError):
        reviews.review_approve(
            review=second, user=reviewer, expected_hash=second.content_hash, rejected_waivers=pending[:1]
        )
    second.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        reviews.review_approve(
            review=second, user=reviewer, expected_hash=second.content_hash, comment="Good."
        )

    told = _deliveries()
    assert [(d.channel.name, d.event) for d in told] == [
        (chat.name, "review.submitted"),
        (chat.name, "review.changes_requested"),
        (chat.name, "review.submitted"),
        (mailbox.name, "review.approved"),
        (chat.name, "review.approved"),
    ]
    assert told[0].summary == f"{first} submitted for review by {member.username}"
    assert told[1].payload["data"]["comment"] == "Shorter waivers, please."
    assert told[4].payload["data"]["review"] == {
        "id": second.pk,
        "team": "catalog",
        "number": second.number,
        "state": "approved",
        "hash": Review.objects.get(pk=second.pk).content_hash,
        "url": f"https://advisor.example.com/reviews/{second.pk}/",
    }
    assert deliver(told[1]).status == DeliveryStatus.SENT
    card = receiver.to("/accepted/reviews")[0].json()["attachments"][0]["content"]
    assert "Shorter waivers, please." in card["body"][1]["text"]
    mailoutbox.clear()
    assert deliver(told[3]).status == DeliveryStatus.SENT
    [message] = mailoutbox
    assert message.to == ["catalog-leads@example.com"] and message.subject.endswith(
        f"{second} approved by {reviewer.username}"
    )


# Daily jobs on a frozen date -------------------------------------------------------------------

TODAY = dt.date(2026, 11, 26)


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)


@pytest.fixture
def teams(demo_registry, hooks, receiver):
    names = ("catalog", "identity", "checkout", "platform")
    return {
        name: channel(
            Team.objects.get(name=name),
            "webhook",
            receiver.url(f"/ok/{name}"),
            events=["waiver.expiring", "instance.retiring"],
        )
        for name in names
    }


def _waiver(rule, target, days, reason="Known and accepted") -> Waiver:
    return Waiver.objects.create(
        rule=rule, target=target, reason=reason, expires=TODAY + dt.timedelta(days=days)
    )


def test_waivers_expiring_within_14_days_are_told_once(teams, frozen, receiver):
    ns = Namespace.objects.select_related("team", "instance").get(name="product-cache")
    _waiver("TTL002", "namespace:product-cache", 14)  # catalog, the last day of the window
    _waiver("KEY001", "namespace:product-cache", 15)  # outside it
    _waiver("VAL002", "namespace:product-cache", -1)  # expired already
    _waiver("INS002", f"instance:{ns.instance.name}", 0)  # expires today: every team on the instance
    assert notify_expiring_waivers_task.apply().get() == {"queued": 3}
    told = {(d.channel.team.name, d.payload["data"]["waiver"]["rule"]) for d in _deliveries()}
    on_instance = set(Namespace.objects.filter(instance=ns.instance).values_list("team__name", flat=True))
    assert told == {("catalog", "TTL002")} | {(team, "INS002") for team in on_instance}
    assert on_instance == {"catalog", "platform"}
    [today] = _deliveries(channel__team__name="platform")
    assert today.summary == f"The waiver of INS002 on instance:{ns.instance.name} expires today (2026-11-26)"
    # The job runs again the next morning: the same waivers are not told twice...
    assert notify_expiring_waivers_task.apply(kwargs={"today": "2026-11-26"}).get() == {"queued": 0}
    # ...but a renewed one that is about to expire again is.
    Waiver.objects.filter(rule="TTL002").update(expires=TODAY + dt.timedelta(days=10))
    assert notify_expiring_waivers_task.apply().get() == {"queued": 1}
    [renewed] = [
        d
        for d in _deliveries(channel__team__name="catalog")
        if d.payload["data"]["waiver"]["rule"] == "TTL002"
    ][1:]
    d = deliver(renewed)
    assert d.status == DeliveryStatus.SENT
    body = receiver.to("/ok/catalog")[0].json()
    assert body["event"] == "waiver.expiring" and body["data"]["waiver"]["days_left"] == 10
    assert body["data"]["waiver"]["expires"] == "2026-12-06"


def test_instances_within_180_days_of_retirement_are_told_once(teams, frozen, receiver):
    # Azure Cache for Redis Enterprise retires on 2027-03-31 (125 days after TODAY), Premium and
    # Standard on 2028-09-30 (platform catalog, from Microsoft Learn's retirement FAQ).
    assert notify_retiring_instances_task.apply().get() == {"queued": 1}
    [told] = _deliveries()
    assert told.channel.team.name == "identity"  # its namespaces are on prod-legacy-cache
    assert told.summary == "prod-legacy-cache retires in 125 days (2027-03-31)"
    data = told.payload["data"]
    assert data["retires"] == "2027-03-31" and data["days_left"] == 125 and data["tier"] == "enterprise"
    assert data["source"] == "https://learn.microsoft.com/azure/azure-cache-for-redis/retirement-faq"
    assert notify_retiring_instances_task.apply().get() == {"queued": 0}

    # 152 days before the Premium tier retires; the Enterprise tier has retired (no longer "within").
    assert notify_retiring_instances_task.apply(kwargs={"today": "2028-05-01"}).get() == {"queued": 1}
    [premium] = _deliveries(pk__gt=told.pk)
    assert premium.channel.team.name == "checkout"
    assert premium.summary == "prod-loyalty-cache retires in 152 days (2028-09-30)"
    assert deliver(premium).status == DeliveryStatus.SENT
    assert receiver.to("/ok/checkout")[0].json()["data"]["instance"] == "prod-loyalty-cache"


def test_sources_name_no_team_for_a_waiver_of_nothing_registered(teams, frozen):
    _waiver("TTL002", "namespace:no-such-namespace", 3)
    assert sources.waivers_expiring(today=TODAY) == []
