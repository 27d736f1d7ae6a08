"""Sending one delivery: the request or e-mail, its signature, and what its failure means.

`send` raises `Transient` for what may pass (no answer within the timeout, a refused or dropped
connection, HTTP 5xx, 408 and 429): the delivery is tried again later. It raises `Permanent` for
what trying again cannot fix (a URL off the allowlist, a secret that is not there, another 4xx, a
redirect, which is never followed): the delivery fails at once.

Every request has a connect and a reply deadline (ADVISOR_NOTIFY_TIMEOUT_S) and reads at most a
few hundred bytes of the answer, so a receiver that hangs holds a worker for seconds, not minutes;
the task's own time limit bounds the rest. Error texts name the host and the cause, never the URL
(a Slack or Teams URL is a credential) and never the secret.

The JSON webhook is signed: X-Advisor-Signature is "sha256=" and the hex HMAC-SHA256, keyed with
the channel's secret, of the X-Advisor-Timestamp value (Unix seconds), a ".", and the exact body.
A receiver recomputes it over the raw body, compares in constant time, and refuses a timestamp
far from its clock (replays). README, "Notifications", has the code.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import time

import requests
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from . import formats
from .models import ChannelKind, NotificationDelivery
from .targets import (
    SecretUnavailable,
    TargetRefused,
    check_webhook_url,
    parse_secret_ref,
    read_secret,
)

SIGNATURE_HEADER = "X-Advisor-Signature"
TIMESTAMP_HEADER = "X-Advisor-Timestamp"
EVENT_HEADER = "X-Advisor-Event"
DELIVERY_HEADER = "X-Advisor-Delivery"
USER_AGENT = "redis-key-advisor-notifications"
ANSWER_BYTES = 300  # of a receiver's answer, kept in the error


class Transient(Exception):
    """Worth trying again later."""


class Permanent(Exception):
    """Trying again will not help."""


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def send(delivery: NotificationDelivery) -> str:
    """Deliver once; a short note of the outcome ("HTTP 200", "e-mail to 2 addresses")."""
    channel = delivery.channel
    if channel.kind == ChannelKind.EMAIL:
        return _email(delivery)
    try:
        host = check_webhook_url(channel.target)
    except TargetRefused as e:
        raise Permanent(f"not sent: the URL {e}") from None
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if channel.kind == ChannelKind.SLACK:
        body = formats.encode(formats.slack(delivery.payload))
    elif channel.kind == ChannelKind.TEAMS:
        body = formats.encode(formats.teams(delivery.payload))
    else:
        body = formats.encode(formats.webhook(delivery.payload, delivery_id=delivery.pk))
        try:
            secret = read_secret(parse_secret_ref(channel.secret_ref))
        except SecretUnavailable as e:
            raise Permanent(f"not sent: {e}") from None
        except Exception:  # a reference the settings no longer accept (ValidationError)
            raise Permanent(
                "not sent: the channel's secret reference is no longer accepted; edit it"
            ) from None
        timestamp = str(int(time.time()))
        headers |= {
            EVENT_HEADER: delivery.event,
            DELIVERY_HEADER: str(delivery.pk),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        }
    return _post(channel.target, host, body, headers, teams=channel.kind == ChannelKind.TEAMS)


def _post(url: str, host: str, body: bytes, headers: dict, *, teams: bool) -> str:
    timeout = settings.ADVISOR_NOTIFY_TIMEOUT_S
    try:
        with requests.post(
            url, data=body, headers=headers, timeout=(timeout, timeout), allow_redirects=False, stream=True
        ) as r:
            status, answer = r.status_code, _answer(r)
    except requests.Timeout:
        raise Transient(f"{host} did not answer within {timeout} s") from None
    except requests.exceptions.SSLError:
        raise Permanent(f"TLS with {host} failed (is its certificate trusted?)") from None
    except requests.ConnectionError as e:
        raise Transient(f"could not reach {host} ({_connection_cause(e)})") from None
    except requests.RequestException as e:
        raise Permanent(f"the request to {host} failed ({type(e).__name__})") from None
    said = f": {answer}" if answer else ""
    if 200 <= status < 300:
        # Teams connectors answer 200 and say "HTTP error 429" in the body when throttled:
        # https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#rate-limiting-for-connectors
        if teams and "HTTP error 429" in answer:
            raise Transient(f"{host} is throttling (HTTP error 429 in its answer)")
        return f"HTTP {status}"
    if status >= 500 or status in (408, 429):
        raise Transient(f"{host} answered HTTP {status}{said}")
    if 300 <= status < 400:
        raise Permanent(f"{host} answered HTTP {status}, a redirect, which is not followed")
    raise Permanent(f"{host} answered HTTP {status}{said}")


def _answer(r: requests.Response) -> str:
    try:
        raw = r.raw.read(ANSWER_BYTES, decode_content=True) or b""
    except Exception:  # the answer's body timing out or breaking off: the status is what counts
        return ""
    return " ".join(raw.decode(errors="replace").split())[:ANSWER_BYTES]


def _connection_cause(e: Exception) -> str:
    # The exception's text quotes the URL's path: only its kind is told.
    text = str(e)
    for needle, cause in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "the name does not resolve"),
        ("Temporary failure in name resolution", "the name does not resolve"),
        ("nodename nor servname", "the name does not resolve"),
        ("Network is unreachable", "network unreachable"),
        ("Connection reset", "connection reset"),
        ("RemoteDisconnected", "the connection was closed without an answer"),
        ("Connection aborted", "the connection was closed without an answer"),
    ):
        if needle in text:
            return cause
    return type(e).__name__


def _email(delivery: NotificationDelivery) -> str:
    addresses = delivery.channel.addresses
    if not addresses:
        raise Permanent("not sent: the channel has no e-mail address")
    subject, body = formats.email(delivery.payload)
    try:
        connection = get_connection(fail_silently=False, timeout=settings.ADVISOR_NOTIFY_TIMEOUT_S)
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, addresses, connection=connection).send()
    except smtplib.SMTPRecipientsRefused:
        raise Permanent("the mail server refused every address") from None
    except (smtplib.SMTPException, OSError) as e:
        raise Transient(f"the mail server ({settings.EMAIL_HOST}) failed: {type(e).__name__}") from None
    return f"e-mail to {len(addresses)} address{'es' if len(addresses) != 1 else ''}"
