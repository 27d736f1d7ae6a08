"""Notification deliveries against a real HTTP receiver on loopback: what Slack, Teams and the
signed JSON webhook receive, retries with backoff then failure (500, timeout), permanent failures,
the webhook allowlist at save and at send time, and secrets by reference."""

import json
import time

import pytest
from django.core import mail

from advisor.notifications import delivery as sending
from advisor.notifications import formats, services
from advisor.notifications.models import DeliveryStatus, NotificationDelivery
from advisor.registry.models import Team
from tests.notification_fixtures import SECRET, SECRET_VAR, channel, deliver, loopback_settings, signature_ok
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    with Receiver(slow_s=3.0) as r:
        yield r


@pytest.fixture
def team(demo_registry, settings, monkeypatch):
    loopback_settings(settings, monkeypatch)
    return Team.objects.get(name="catalog")


def _test_send(ch) -> NotificationDelivery:
    return services.channel_send_test(channel=ch, actor=None)


# What each kind of channel receives ------------------------------------------------------------


def test_slack_receives_text_and_block_kit_blocks(team, receiver):
    ch = channel(team, "slack", receiver.url("/ok/slack"), name="#cache-alerts")
    d = deliver(_test_send(ch))
    assert d.status == DeliveryStatus.SENT and d.attempts == 1 and d.last_error == ""
    [request] = receiver.to("/ok/slack")
    assert request.headers["Content-Type"] == "application/json"
    body = request.json()
    assert set(body) == {"text", "blocks"}
    assert body["text"].startswith("Test from the Redis key advisor for team catalog")
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "section", "context"]
    header, text, facts, context = body["blocks"]
    assert header["text"] == {
        "type": "plain_text",
        "text": "Test from the Redis key advisor for team catalog",
    }
    assert text["text"]["type"] == "mrkdwn" and "the channel #cache-alerts" in text["text"]["text"]
    assert {"type": "mrkdwn", "text": "*Channel*\n#cache-alerts"} in facts["fields"]
    assert context["elements"] == [
        {
            "type": "mrkdwn",
            "text": "<https://advisor.example.com/teams/catalog/notifications/|Open in the advisor>",
        }
    ]


def test_slack_text_is_escaped_and_cut_to_block_kit_limits():
    payload = {
        "title": "T" * 200,
        "text": "a <b> & c " + "x" * 4000,
        "url": "https://advisor.example.com/x",
        "facts": [{"name": f"n{i}", "value": "<v>"} for i in range(12)],
        "team": "catalog",
    }
    blocks = formats.slack(payload)["blocks"]
    assert len(blocks[0]["text"]["text"]) == 150
    assert (
        blocks[1]["text"]["text"].startswith("a &lt;b&gt; &amp; c ")
        and len(blocks[1]["text"]["text"]) == 3000
    )
    assert len(blocks[2]["fields"]) == 10 and blocks[2]["fields"][0]["text"] == "*n0*\n&lt;v&gt;"


def test_teams_receives_an_adaptive_card_in_a_message(team, receiver):
    ch = channel(team, "teams", receiver.url("/accepted/teams"), name="Cache alerts")
    d = deliver(_test_send(ch))
    assert d.status == DeliveryStatus.SENT  # Workflows answers 202 Accepted
    body = receiver.to("/accepted/teams")[0].json()
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.2"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    title, text, facts = card["body"]
    assert title["type"] == "TextBlock" and title["weight"] == "Bolder" and "team catalog" in title["text"]
    assert text["type"] == "TextBlock" and text["wrap"] is True
    assert facts["type"] == "FactSet" and {"title": "Team", "value": "catalog"} in facts["facts"]
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open in the advisor",
            "url": "https://advisor.example.com/teams/catalog/notifications/",
        }
    ]


def test_the_json_webhook_is_signed_with_hmac_sha256(team, receiver):
    ch = channel(team, "webhook", receiver.url("/ok/hook"))
    d = deliver(_test_send(ch))
    assert d.status == DeliveryStatus.SENT
    [request] = receiver.to("/ok/hook")
    assert signature_ok(SECRET, request)
    assert not signature_ok("another-secret", request)
    assert abs(int(request.headers["X-Advisor-Timestamp"]) - time.time()) < 60
    assert request.headers["X-Advisor-Event"] == "test"
    assert request.headers["X-Advisor-Delivery"] == str(d.pk)
    body = request.json()
    assert body["delivery"] == d.pk and body["event"] == "test" and body["team"] == "catalog"
    assert body["data"] == {"channel": ch.name, "requested_by": "the advisor"}
    assert {"title", "text", "url", "facts", "occurred_at"} <= set(body)
    # The body is signed byte for byte: a receiver that re-serialises it would not match.
    tampered = type(request)(request.method, request.path, request.headers, request.body + b" ", request.at)
    assert not signature_ok(SECRET, tampered)


def test_a_secret_file_is_read_at_each_send(team, receiver, tmp_path, settings):
    settings.ADVISOR_WEBHOOK_SECRET_DIRS = [str(tmp_path)]
    secret_file = tmp_path / "ops-webhook"
    secret_file.write_text("first-secret-from-a-file\n")
    ch = channel(team, "webhook", receiver.url("/ok/file"), secret_ref=f"file:{secret_file}")
    deliver(_test_send(ch))
    secret_file.write_text("rotated-secret-from-a-file\n")
    deliver(_test_send(ch))
    first, second = receiver.to("/ok/file")
    assert signature_ok("first-secret-from-a-file", first)
    assert signature_ok("rotated-secret-from-a-file", second)


def test_an_email_channel_sends_one_mail_to_its_addresses(team, mailoutbox):
    ch = channel(team, "email", "ops@example.com, Cache-Team@example.com; ops@example.com")
    assert ch.target == "ops@example.com, Cache-Team@example.com"
    d = deliver(_test_send(ch))
    assert d.status == DeliveryStatus.SENT
    [message] = mail.outbox
    assert message.to == ["ops@example.com", "Cache-Team@example.com"]
    assert message.subject == "[Redis key advisor] Test from the Redis key advisor for team catalog"
    assert "Open in the advisor: https://advisor.example.com/teams/catalog/notifications/" in message.body


# Retries, backoff, failure ---------------------------------------------------------------------


def test_a_receiver_answering_500_is_retried_then_the_delivery_fails(team, receiver):
    ch = channel(team, "slack", receiver.url("/fail/slack"))
    d = deliver(_test_send(ch))
    assert len(receiver.to("/fail/slack")) == 3  # ADVISOR_NOTIFY_ATTEMPTS
    assert d.status == DeliveryStatus.FAILED and d.attempts == 3
    assert d.last_error == "127.0.0.1 answered HTTP 500: rollup_error (gave up after 3 attempts)"
    assert d.finished_at is not None and d.last_attempt_at is not None


def test_a_receiver_that_does_not_answer_in_time_is_retried_then_the_delivery_fails(team, receiver):
    ch = channel(team, "webhook", receiver.url("/slow/hook"))
    started = time.monotonic()
    d = deliver(_test_send(ch))
    took = time.monotonic() - started
    assert len(receiver.to("/slow/hook")) == 3
    assert d.status == DeliveryStatus.FAILED and d.attempts == 3
    assert d.last_error == "127.0.0.1 did not answer within 1 s (gave up after 3 attempts)"
    # Three attempts of one second each, not three of the receiver's three-second sleep.
    assert took < 3 * 3


def test_a_passing_failure_is_retried_until_it_is_sent(team, receiver):
    ch = channel(team, "teams", receiver.url("/flaky/2/teams"))
    d = deliver(_test_send(ch))
    assert d.status == DeliveryStatus.SENT and d.attempts == 3 and d.last_error == ""
    assert len(receiver.to("/flaky/2/teams")) == 3


def test_a_teams_connector_saying_it_throttles_is_retried(team, receiver):
    # Teams connectors answer 200 with "HTTP error 429" in the body when they throttle.
    d = deliver(_test_send(channel(team, "teams", receiver.url("/throttled/teams"))))
    assert d.status == DeliveryStatus.FAILED and d.attempts == 3
    assert d.last_error == "127.0.0.1 is throttling (HTTP error 429 in its answer) (gave up after 3 attempts)"


def test_the_wait_doubles_after_each_failed_attempt(settings):
    settings.ADVISOR_NOTIFY_BACKOFF_S = 30
    assert [services.backoff(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]


def test_a_refusal_by_the_receiver_or_a_redirect_fails_at_once(team, receiver):
    gone = deliver(_test_send(channel(team, "slack", receiver.url("/gone/slack"))))
    assert gone.status == DeliveryStatus.FAILED and gone.attempts == 1
    assert gone.last_error == "127.0.0.1 answered HTTP 410: channel_is_archived"
    moved = deliver(_test_send(channel(team, "webhook", receiver.url("/redirect/hook"))))
    assert moved.status == DeliveryStatus.FAILED and moved.attempts == 1
    assert "redirect, which is not followed" in moved.last_error
    assert receiver.to("/ok/redirected") == []


def test_an_unreachable_receiver_is_retried_and_named_without_its_url(team, settings):
    from advisor.lib.redisproc import free_port

    ch = channel(team, "slack", f"http://127.0.0.1:{free_port()}/services/T0/B0/very-secret-token")
    d = deliver(_test_send(ch))
    assert d.status == DeliveryStatus.FAILED and d.attempts == 3
    assert d.last_error == "could not reach 127.0.0.1 (connection refused) (gave up after 3 attempts)"


def test_a_delivery_is_attempted_once_per_claim_and_a_finished_one_is_left_alone(team, receiver):
    ch = channel(team, "slack", receiver.url("/ok/once"))
    d = deliver(_test_send(ch))
    assert services.delivery_attempt(d.pk, d.token).status == DeliveryStatus.SENT
    assert services.delivery_attempt(d.pk, "another-token").status == "missing"
    assert len(receiver.to("/ok/once")) == 1


# The allowlist, at save time and at send time ---------------------------------------------------


def _refused(team, kind, url, **kw) -> dict:
    with pytest.raises(services.ChannelInvalid) as exc:
        channel(team, kind, url, **kw)
    return exc.value.errors


def test_a_host_off_the_allowlist_is_refused_when_saving(team):
    errors = _refused(team, "slack", "https://hooks.evil.example.com/services/T0/B0/XYZSECRET")
    assert errors == {
        "target": "The URL hooks.evil.example.com is not on the webhook allowlist "
        "(ADVISOR_WEBHOOK_ALLOWED_HOSTS); an administrator adds hosts there."
    }
    assert "XYZSECRET" not in json.dumps(errors)


def test_plain_http_only_to_a_loopback_address_the_allowlist_names(team, settings, receiver):
    settings.ADVISOR_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.0/8", "hooks.slack.com"]
    assert "must use https://" in _refused(team, "slack", receiver.url("/ok/x"))["target"]
    assert "must use https://" in _refused(team, "slack", "http://hooks.slack.com/services/T/B/X")["target"]
    assert channel(team, "slack", f"https://127.0.0.1:{receiver.port}/ok/x").kind == "slack"
    assert channel(team, "slack", "https://hooks.slack.com/services/T/B/X").kind == "slack"
    settings.ADVISOR_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    assert (
        "localhost is not on the webhook allowlist"
        in _refused(team, "slack", "http://localhost:1/ok")["target"]
    )
    assert (
        "user name or password" in _refused(team, "slack", f"http://u:p@127.0.0.1:{receiver.port}/")["target"]
    )
    assert "https:// URL" in _refused(team, "teams", "ftp://127.0.0.1/x")["target"]


def test_a_host_taken_off_the_allowlist_is_refused_when_sending(team, receiver, settings):
    ch = channel(team, "webhook", receiver.url("/ok/later"))
    settings.ADVISOR_WEBHOOK_ALLOWED_HOSTS = ["hooks.slack.com"]
    d = deliver(_test_send(ch))
    assert d.status == DeliveryStatus.FAILED and d.attempts == 1
    assert d.last_error.startswith("not sent: the URL 127.0.0.1 is not on the webhook allowlist")
    assert receiver.requests == []


# Secrets by reference ---------------------------------------------------------------------------


def test_a_secret_is_named_never_given(team, receiver, settings, tmp_path):
    url = receiver.url("/ok/x")
    assert (
        "never the secret itself"
        in _refused(team, "webhook", url, secret_ref="hunter2 is my password")["secret_ref"]
    )
    assert "hunter2" not in _refused(team, "webhook", url, secret_ref="hunter2 is my password")["secret_ref"]
    assert "reserved" in _refused(team, "webhook", url, secret_ref="env:ADVISOR_SECRET_KEY")["secret_ref"]
    assert "reserved" in _refused(team, "webhook", url, secret_ref="DATABASE_URL")["secret_ref"]
    settings.ADVISOR_WEBHOOK_SECRET_DIRS = [str(tmp_path)]
    assert "must be inside" in _refused(team, "webhook", url, secret_ref="file:/etc/passwd")["secret_ref"]
    assert "without '..'" in _refused(team, "webhook", url, secret_ref=f"{tmp_path}/../x")["secret_ref"]
    assert (
        "Only a JSON webhook is signed"
        in _refused(team, "slack", url, secret_ref=f"env:{SECRET_VAR}")["secret_ref"]
    )
    ch = channel(team, "webhook", url, secret_ref=SECRET_VAR)
    assert ch.secret_ref == SECRET_VAR


def test_a_secret_missing_where_the_worker_looks_fails_the_delivery_unsent(team, receiver, monkeypatch):
    ch = channel(team, "webhook", receiver.url("/ok/nosecret"))
    monkeypatch.delenv(SECRET_VAR)
    d = deliver(_test_send(ch))
    assert d.status == DeliveryStatus.FAILED and d.attempts == 1
    assert d.last_error.startswith(f"not sent: the secret env:{SECRET_VAR} is empty or not set")
    assert receiver.requests == []


def test_the_signature_is_the_documented_one():
    # HMAC-SHA256 of "<timestamp>.<body>", hex, prefixed with sha256= (RFC 4231 test case 2's key and data).
    assert sending.sign(b"Jefe", "1700000000", b"what do ya want for nothing?") == (
        "sha256="
        + __import__("hmac").new(b"Jefe", b"1700000000.what do ya want for nothing?", "sha256").hexdigest()
    )
