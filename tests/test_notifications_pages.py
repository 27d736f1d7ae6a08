"""The team's notifications page: who sees and changes what, CSRF, the masked webhook URL, the
"Send test" button (queued, sent after the request's transaction, shown in the history)."""

import pytest
from django.test import Client

from advisor.audit.models import AuditEvent
from advisor.notifications.models import DeliveryStatus, NotificationChannel, NotificationDelivery
from advisor.registry.models import Team
from tests.notification_fixtures import channel, deliver, loopback_settings
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db

SECRET_PATH = "/ok/services/T0001/B0002/s3cretPathToken"
PAGE = "/teams/catalog/notifications/"


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def catalog(member, settings, monkeypatch):
    loopback_settings(settings, monkeypatch)
    return Team.objects.get(name="catalog")


@pytest.fixture
def slack(catalog, receiver):
    return channel(catalog, "slack", receiver.url(SECRET_PATH), name="#cache-alerts", events=["scan.failed"])


def _login(client, user) -> Client:
    client.force_login(user)
    return client


def _form(**overrides) -> dict:
    data = {
        "name": "#cache-alerts",
        "kind": "slack",
        "target": "",
        "secret_ref": "",
        "events": ["scan.failed"],
        "enabled": "on",
    }
    data.update(overrides)
    return data


def test_the_team_list_links_to_each_teams_notifications(client, member):
    body = _login(client, member).get("/teams/").content.decode()
    assert f'href="{PAGE}"' in body and 'href="/teams/identity/notifications/"' in body


def test_members_and_admins_see_channels_masked_and_the_history(client, member, admin_user, slack, receiver):
    for user in (member, admin_user):
        body = _login(client, user).get(PAGE).content.decode()
        assert 'data-channel="#cache-alerts"' in body and "Delivery history" in body
        assert f"http://127.0.0.1:{receiver.port}/…oken" in body
        assert "s3cretPathToken" not in body and "T0001" not in body


def test_others_see_names_kinds_and_events_but_no_target_nor_history(client, other_member, viewer, slack):
    for user in (other_member, viewer):
        c = _login(Client(), user)
        body = c.get(PAGE).content.decode()
        assert 'data-channel="#cache-alerts"' in body and "A scan fails" in body and "data-read-only" in body
        assert "127.0.0.1" not in body and "Delivery history" not in body
        for url in (
            f"{PAGE}new/",
            f"{PAGE}{slack.pk}/edit/",
            f"{PAGE}{slack.pk}/delete/",
        ):
            assert c.get(url).status_code == 403
            assert c.post(url, _form(target="http://127.0.0.1:1/ok/x")).status_code == 403
        assert c.post(f"{PAGE}{slack.pk}/test/").status_code == 403
    assert NotificationChannel.objects.count() == 1 and NotificationDelivery.objects.count() == 0


def test_signed_out_visitors_are_sent_to_sign_in(client, slack):
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_post_without_the_csrf_token_is_refused(member, catalog, receiver):
    c = Client(enforce_csrf_checks=True)
    c.force_login(member)
    response = c.post(f"{PAGE}new/", _form(target=receiver.url("/ok/x")))
    assert response.status_code == 403
    assert not NotificationChannel.objects.exists()


def test_a_member_adds_a_channel_whose_url_is_masked_once_saved(client, member, catalog, receiver):
    c = _login(client, member)
    response = c.post(f"{PAGE}new/", _form(target=receiver.url(SECRET_PATH)))
    assert response.status_code == 302 and response["Location"] == PAGE
    saved = NotificationChannel.objects.get()
    assert saved.target == receiver.url(SECRET_PATH) and saved.created_by == member
    # Neither the page nor the edit form writes the URL back; the audit trail has it masked.
    for url in (PAGE, f"{PAGE}{saved.pk}/edit/"):
        body = c.get(url).content.decode()
        assert "s3cretPathToken" not in body and "…oken" in body
    event = AuditEvent.objects.get(obj_type="notification_channel")
    assert event.action == "create" and event.actor == member and "s3cretPathToken" not in str(event.after)

    # Saving the form with the URL left empty keeps it; the other fields change.
    response = c.post(
        f"{PAGE}{saved.pk}/edit/", _form(name="#alerts", events=["scan.failed", "review.approved"])
    )
    assert response.status_code == 302
    saved.refresh_from_db()
    assert saved.name == "#alerts" and saved.target == receiver.url(SECRET_PATH)
    assert saved.events == ["scan.failed", "review.approved"]


def test_a_url_off_the_allowlist_is_refused_on_the_page(client, member, catalog):
    body = (
        _login(client, member)
        .post(f"{PAGE}new/", _form(target="https://hooks.example.org/services/T/B/topsecret"))
        .content.decode()
    )
    assert "hooks.example.org is not on the webhook allowlist" in body
    assert not NotificationChannel.objects.exists()


def test_send_test_queues_a_delivery_sent_after_the_request(
    client, member, slack, receiver, django_capture_on_commit_callbacks
):
    c = _login(client, member)
    with django_capture_on_commit_callbacks() as callbacks:
        response = c.post(f"{PAGE}{slack.pk}/test/")
    assert response.status_code == 302 and response["Location"] == PAGE
    [queued] = NotificationDelivery.objects.all()
    assert queued.event == "test" and queued.status == DeliveryStatus.QUEUED and queued.attempts == 0
    assert len(callbacks) == 1  # the task goes out once the request's transaction commits
    assert receiver.requests == []  # nothing was sent from the request itself
    deliver(queued)
    body = c.get(PAGE).content.decode()
    assert f'data-delivery="{queued.pk}" data-status="sent"' in body
    assert len(receiver.to(SECRET_PATH)) == 1


def test_the_history_shows_a_failure_with_its_error(client, member, catalog, receiver):
    ch = channel(catalog, "webhook", receiver.url("/fail/hook"), name="ops-hook")
    from advisor.notifications.services import channel_send_test

    deliver(channel_send_test(channel=ch, actor=member))
    body = _login(client, member).get(PAGE).content.decode()
    assert 'data-status="failed"' in body
    assert "127.0.0.1 answered HTTP 500: rollup_error (gave up after 3 attempts)" in body


def test_a_member_deletes_a_channel_with_its_history(client, member, slack):
    c = _login(client, member)
    assert "Delete channel" in c.get(f"{PAGE}{slack.pk}/delete/").content.decode()
    response = c.post(f"{PAGE}{slack.pk}/delete/")
    assert response.status_code == 302
    assert not NotificationChannel.objects.exists()
    assert AuditEvent.objects.filter(obj_type="notification_channel", action="delete").count() == 1


def test_another_teams_channel_is_not_found_under_this_team(client, member, catalog, other_member, receiver):
    identity = Team.objects.get(name="identity")
    theirs = channel(identity, "slack", receiver.url("/ok/theirs"))
    c = _login(client, member)
    assert c.get(f"{PAGE}{theirs.pk}/edit/").status_code == 404
    assert c.post(f"{PAGE}{theirs.pk}/test/").status_code == 404
