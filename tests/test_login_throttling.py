"""Login throttling (issue #11): 30 wrong passwords in a few seconds used to be followed by a
working sign-in. Now ADVISOR_LOGIN_FAILURE_LIMIT failures for one username from one address lock
that pair out for ADVISOR_LOGIN_COOLOFF_MINUTES (django-axes, advisor/accounts/throttling.py)."""

import datetime as dt
import re
import subprocess
import sys

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import authenticate
from django.test import Client

from advisor.accounts.models import ApiToken
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

PASSWORD = "pw-mia-member"  # conftest's personas: "pw-<username>"


@pytest.fixture
def mia(django_user_model):
    return django_user_model.objects.create_user(username="mia-member", password=PASSWORD)


@pytest.fixture
def vera(django_user_model):
    return django_user_model.objects.create_user(username="vera-viewer", password="pw-vera-viewer")


def _sign_in(client, username, password, path="/login/", **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


def _signed_in_as(client):
    return client.session.get("_auth_user_id")


def _unmasked(page):
    """The page without its CSRF token, which is masked afresh on every response."""
    return re.sub(r'"X-CSRFToken": "\w+"', "", page)


def _age_attempts(**ago):
    """As if the last failed attempt had been made that long ago."""
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= dt.timedelta(**ago)
        attempt.save()


def _hammer(client, username="mia-member", times=30, **extra):
    return [_sign_in(client, username, f"wrong-{i}", **extra).status_code for i in range(times)]


def test_thirty_wrong_passwords_lock_the_right_one_out(client, mia, settings):
    statuses = _hammer(client)
    limit = settings.ADVISOR_LOGIN_FAILURE_LIMIT
    assert limit == 5
    # The form answers the first failures; from the limit on, the lockout page does.
    assert statuses == [200] * (limit - 1) + [429] * (30 - limit + 1)

    response = _sign_in(client, "mia-member", PASSWORD)
    assert response.status_code == 429
    assert not _signed_in_as(client)
    assert client.get("/").status_code == 302  # still anonymous


def test_the_lockout_page_is_friendly_and_says_when_to_come_back(client, mia):
    _hammer(client, times=5)
    response = _sign_in(client, "mia-member", PASSWORD)
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    page = response.content.decode()
    assert "Too many sign-in attempts" in page
    assert (
        "Sign-in as <strong>mia-member</strong> is paused from your network after 5 failed attempts." in page
    )
    assert "Try again in 15 minutes" in page
    assert 'href="/login/"' in page and "navbar" in page  # the site's own layout
    # The right password and a wrong one get the same page: the lockout discloses nothing.
    assert _unmasked(_sign_in(client, "mia-member", "wrong").content.decode()) == _unmasked(page)


def test_after_the_cool_off_the_right_password_works_again(client, mia):
    _hammer(client)
    # Fourteen minutes after the last attempt: still locked, and this attempt restarts the wait.
    _age_attempts(minutes=14)
    assert _sign_in(client, "mia-member", PASSWORD).status_code == 429
    _age_attempts(minutes=14)
    assert _sign_in(client, "mia-member", PASSWORD).status_code == 429
    # Sixteen minutes of quiet: the lockout has lapsed.
    _age_attempts(minutes=16)
    response = _sign_in(client, "mia-member", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    assert _signed_in_as(client) == str(mia.pk)


def test_the_cool_off_follows_the_setting(client, mia, settings):
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=2)
    _hammer(client, times=5)
    response = _sign_in(client, "mia-member", PASSWORD)
    assert response.status_code == 429 and "Try again in 2 minutes" in response.content.decode()
    _age_attempts(minutes=3)
    assert _sign_in(client, "mia-member", PASSWORD).status_code == 302


def test_another_user_from_the_same_address_is_not_locked(client, mia, vera):
    _hammer(client)
    response = _sign_in(client, "vera-viewer", "pw-vera-viewer")
    assert response.status_code == 302 and _signed_in_as(client) == str(vera.pk)


def test_the_same_user_from_another_address_is_not_locked(mia):
    _hammer(Client(), times=10)
    elsewhere = Client(REMOTE_ADDR="10.1.2.3")
    assert _sign_in(elsewhere, "mia-member", PASSWORD).status_code == 302
    assert _signed_in_as(elsewhere) == str(mia.pk)


def test_a_successful_sign_in_resets_the_count(client, mia):
    assert _hammer(client, times=4) == [200] * 4
    assert _sign_in(client, "mia-member", PASSWORD).status_code == 302
    client.post("/logout/")
    assert _hammer(client, times=4) == [200] * 4
    assert _sign_in(client, "mia-member", PASSWORD).status_code == 302


def test_unknown_usernames_are_throttled_too(client):
    assert _hammer(client, username="nobody", times=6)[-1] == 429


def test_the_admin_sign_in_is_throttled_too(client, admin_user):
    statuses = [
        _sign_in(client, "alice-admin", f"wrong-{i}", path="/admin/login/").status_code for i in range(6)
    ]
    assert statuses[-1] == 429
    assert _sign_in(client, "alice-admin", "pw-alice-admin", path="/admin/login/").status_code == 429


def test_api_tokens_and_open_sessions_are_untouched(mia):
    _, raw = ApiToken.issue(user=mia, name="ci")
    signed_in = Client()
    signed_in.force_login(mia)
    attacker = Client()
    _hammer(attacker)
    assert _sign_in(attacker, "mia-member", PASSWORD).status_code == 429
    # Scripts keep working with their token, and a browser already signed in stays signed in.
    assert Client().get("/api/teams", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    assert signed_in.get("/api/teams").status_code == 200


def test_code_without_a_request_still_authenticates(mia):
    # The shell and management commands: no client to lock out, and no crash either.
    assert authenticate(username="mia-member", password=PASSWORD) == mia
    assert authenticate(username="mia-member", password="wrong") is None


# Behind a proxy --------------------------------------------------------------------------------


def test_behind_a_proxy_the_address_the_proxy_saw_counts(mia, settings):
    settings.ADVISOR_BEHIND_PROXY = True
    proxy = "10.0.0.1"
    # Two clients behind the same proxy; the first one forges an earlier X-Forwarded-For entry.
    attacker = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="192.0.2.99, 198.51.100.7")
    _hammer(attacker)
    assert _sign_in(attacker, "mia-member", PASSWORD).status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}
    owner = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert _sign_in(owner, "mia-member", PASSWORD).status_code == 302


@pytest.mark.parametrize(
    "forwarded", ["", "not-an-address", "198.51.100.7, <script>", "1.2.3.4, " + "9" * 200]
)
def test_a_junk_forwarded_header_falls_back_to_the_connecting_address(client, mia, settings, forwarded):
    settings.ADVISOR_BEHIND_PROXY = True
    statuses = _hammer(client, times=5, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert statuses[-1] == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.0.0.1"}


def test_without_a_proxy_the_forwarded_header_is_ignored(client, mia):
    _hammer(client, times=5, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


# Settings --------------------------------------------------------------------------------------


def _settings_in_a_process(**env):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds(), s.AXES_LOCKOUT_PARAMETERS)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "advisor.settings",
            "ADVISOR_DEBUG": "true",
            "ADVISOR_VAR_DIR": "/tmp/advisor-settings-test",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_limits_come_from_the_environment():
    result = _settings_in_a_process(ADVISOR_LOGIN_FAILURE_LIMIT="3", ADVISOR_LOGIN_COOLOFF_MINUTES="60")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3 3600.0 [['username', 'ip_address']]"


@pytest.mark.parametrize("name", ["ADVISOR_LOGIN_FAILURE_LIMIT", "ADVISOR_LOGIN_COOLOFF_MINUTES"])
def test_limits_below_one_stop_the_app(name):
    result = _settings_in_a_process(**{name: "0"})
    assert result.returncode != 0
    assert "ADVISOR_LOGIN_FAILURE_LIMIT and ADVISOR_LOGIN_COOLOFF_MINUTES must be 1 or more" in result.stderr
