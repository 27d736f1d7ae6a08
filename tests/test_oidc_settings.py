"""ADVISOR_OIDC_* and ADVISOR_LOCAL_LOGIN: parsing, refusals with their reasons, and what
advisor/settings.py makes of them (the authentication backends, in axes' order)."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from advisor.accounts.oidc_settings import (
    Grant,
    SecretRef,
    from_environ,
    normalize_group_id,
    parse_group_map,
    read_secret,
)
from tests.conftest import ROOT

GUID = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490"
GROUP = "4F5D2A3C-0D5E-4C37-9C7A-1F0E2B3C4D5E"


def _env(**extra):
    base = {
        "ADVISOR_OIDC_TENANT": GUID,
        "ADVISOR_OIDC_CLIENT_ID": "6731de76-14a6-49ae-97bc-6eba6914391e",
        "ADVISOR_OIDC_CLIENT_SECRET_ENV": "ADVISOR_OIDC_CLIENT_SECRET",
        "ADVISOR_OIDC_CLIENT_SECRET": "s3cret-value",
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def _refused(env) -> str:
    with pytest.raises(ImproperlyConfigured) as e:
        from_environ(env)
    return str(e.value)


def test_nothing_set_means_no_oidc():
    assert from_environ({}) is None
    assert from_environ({"ADVISOR_OIDC_TENANT": "", "ADVISOR_DEBUG": "true"}) is None


def test_a_tenant_id_gives_the_entra_authority_and_its_discovery_document():
    config = from_environ(_env(ADVISOR_OIDC_TENANT=GUID.upper()))
    assert config.issuer == f"https://login.microsoftonline.com/{GUID}/v2.0"
    assert (
        config.discovery_url
        == f"https://login.microsoftonline.com/{GUID}/v2.0/.well-known/openid-configuration"
    )
    assert config.label == "Microsoft" and config.session_seconds == 8 * 3600
    assert config.secret == SecretRef("env", "ADVISOR_OIDC_CLIENT_SECRET")
    assert config.issuer_accepted(config.issuer)
    assert not config.issuer_accepted(
        f"https://login.microsoftonline.com/{'0' * 8}-0000-0000-0000-{'0' * 12}/v2.0"
    )


def test_a_tenant_domain_accepts_the_tenant_id_issuer_its_document_names():
    config = from_environ(_env(ADVISOR_OIDC_TENANT="contoso.onmicrosoft.com"))
    assert config.issuer == "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"
    assert config.issuer_accepted(f"https://login.microsoftonline.com/{GUID}/v2.0")
    assert not config.issuer_accepted(f"https://evil.example/{GUID}/v2.0")
    assert not config.issuer_accepted(f"https://login.microsoftonline.com/{GUID}/v2.0/x")


@pytest.mark.parametrize("tenant", ["common", "organizations", "Consumers"])
def test_multi_tenant_authorities_are_refused(tenant):
    assert "would accept accounts of any tenant" in _refused(_env(ADVISOR_OIDC_TENANT=tenant))


def test_a_malformed_tenant_is_refused():
    assert "neither a tenant id (GUID) nor a domain" in _refused(_env(ADVISOR_OIDC_TENANT="contoso/../x"))


def test_an_issuer_must_be_https_except_on_loopback():
    assert "must be an https:// URL" in _refused(
        _env(ADVISOR_OIDC_TENANT=None, ADVISOR_OIDC_ISSUER="http://idp.example/")
    )
    assert "not an issuer URL" in _refused(
        _env(ADVISOR_OIDC_TENANT=None, ADVISOR_OIDC_ISSUER="https://idp.example/?a=b")
    )
    config = from_environ(
        _env(ADVISOR_OIDC_TENANT=None, ADVISOR_OIDC_ISSUER="http://127.0.0.1:8080/realms/x")
    )
    assert config.issuer == "http://127.0.0.1:8080/realms/x" and config.label == "single sign-on"
    assert not config.issuer_accepted("http://127.0.0.1:8080/realms/x/")  # identical, per Discovery 4.3
    national = from_environ(
        _env(ADVISOR_OIDC_TENANT=None, ADVISOR_OIDC_ISSUER=f"https://login.microsoftonline.com/{GUID}/v2.0")
    )
    assert national.label == "Microsoft"


def test_tenant_and_issuer_together_are_refused():
    assert "not both" in _refused(_env(ADVISOR_OIDC_ISSUER="https://idp.example"))


def test_a_half_configuration_is_refused():
    assert "ADVISOR_OIDC_CLIENT_ID set but neither" in _refused({"ADVISOR_OIDC_CLIENT_ID": "x"})
    assert "needs ADVISOR_OIDC_CLIENT_ID" in _refused(_env(ADVISOR_OIDC_CLIENT_ID=""))
    assert "needs ADVISOR_OIDC_CLIENT_SECRET_ENV" in _refused(_env(ADVISOR_OIDC_CLIENT_SECRET_ENV=None))


def test_the_secret_is_a_reference_never_the_value():
    assert (
        from_environ(_env(ADVISOR_OIDC_CLIENT_SECRET_ENV="env:ADVISOR_OIDC_CLIENT_SECRET")).secret.kind
        == "env"
    )
    message = _refused(_env(ADVISOR_OIDC_CLIENT_SECRET_ENV="Zx8~qQ.secret-value"))
    assert "never the secret itself" in message and "Zx8~qQ" not in message
    assert "ENTRA_SECRET is not set" in _refused(_env(ADVISOR_OIDC_CLIENT_SECRET_ENV="ENTRA_SECRET"))


def test_a_secret_file_is_read_at_each_use(tmp_path):
    path = tmp_path / "client-secret"
    assert "does not exist" in _refused(_env(ADVISOR_OIDC_CLIENT_SECRET_ENV=str(path)))
    path.write_text("first\n")
    config = from_environ(_env(ADVISOR_OIDC_CLIENT_SECRET_ENV=f"file:{path}"))
    assert config.secret == SecretRef("file", str(path)) and read_secret(config.secret) == "first"
    path.write_text("rotated")
    assert read_secret(config.secret) == "rotated"
    assert "absolute path" in _refused(_env(ADVISOR_OIDC_CLIENT_SECRET_ENV="file:relative/secret"))


def test_the_env_secret_is_read_from_the_environment():
    assert read_secret(SecretRef("env", "X_SECRET"), {"X_SECRET": "v"}) == "v"


def test_session_hours():
    assert from_environ(_env(ADVISOR_OIDC_SESSION_HOURS="1")).session_seconds == 3600
    assert "not an integer" in _refused(_env(ADVISOR_OIDC_SESSION_HOURS="eight"))
    assert "between 1 and 336" in _refused(_env(ADVISOR_OIDC_SESSION_HOURS="0"))


# The group map ------------------------------------------------------------------------------------


def test_the_group_map_in_both_forms():
    mapping = parse_group_map(
        f'{{"{GROUP}": {{"role": "reviewer"}}, "platform-admins": [{{"role": "admin"}}, {{"team": "catalog"}}]}}'
    )
    assert mapping == {
        GROUP.lower(): (Grant("role", "reviewer"),),
        "platform-admins": (Grant("role", "admin"), Grant("team", "catalog")),
    }
    assert from_environ(_env(ADVISOR_OIDC_GROUP_MAP='{"g": {"role": "superuser"}}')).group_map == {
        "g": (Grant("role", "superuser"),)
    }


def test_group_ids_compare_without_case_when_they_are_guids():
    assert normalize_group_id(f" {GROUP} ") == GROUP.lower()
    assert normalize_group_id("Platform-Admins") == "Platform-Admins"


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("{not json", "is not valid JSON"),
        ('["a"]', "must be a JSON object"),
        ('{"g": {"role": "owner"}}', "unknown role 'owner' (roles: admin, superuser, reviewer)"),
        ('{"g": {"team": "Catalog Team"}}', "is not a team name"),
        ('{"g": {"role": "admin", "team": "catalog"}}', 'must map to {"role": ...} or {"team": ...}'),
        ('{"g": {"group": "x"}}', 'must map to {"role": ...} or {"team": ...}'),
        ('{"g": []}', "gives nothing"),
        ('{"g": {"role": 1}}', "must be a string"),
        ('{" ": {"role": "admin"}}', "a group id is empty"),
    ],
)
def test_a_bad_group_map_is_refused_with_its_reason(raw, reason):
    with pytest.raises(ImproperlyConfigured) as e:
        parse_group_map(raw)
    assert reason in str(e.value)


# What advisor/settings.py makes of them -----------------------------------------------------------


def _settings(**env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_") and k != "DATABASE_URL"}
    clean.update(
        env,
        DJANGO_SETTINGS_MODULE="advisor.settings",
        ADVISOR_DEBUG="true",
        ADVISOR_VAR_DIR="/tmp/advisor-settings-test",
    )
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.AUTHENTICATION_BACKENDS); print(settings.ADVISOR_LOCAL_LOGIN, settings.ADVISOR_OIDC is not None)"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def test_settings_without_oidc_keep_the_backends_as_they_were():
    result = _settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "['advisor.accounts.throttling.LoginThrottleBackend', 'django.contrib.auth.backends.ModelBackend']",
        "True False",
    ]


def test_settings_with_oidc_put_it_after_the_lockout_check_and_before_passwords():
    result = _settings(**_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "['advisor.accounts.throttling.LoginThrottleBackend', 'advisor.accounts.oidc.OidcBackend', "
        "'django.contrib.auth.backends.ModelBackend']"
    )


def test_settings_with_local_login_off_drop_the_password_backend():
    result = _settings(**_env(), ADVISOR_LOCAL_LOGIN="false")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "['advisor.accounts.throttling.LoginThrottleBackend', 'advisor.accounts.oidc.OidcBackend']",
        "False True",
    ]


def test_local_login_off_without_oidc_refuses_to_start():
    result = _settings(ADVISOR_LOCAL_LOGIN="false")
    assert result.returncode != 0 and "ADVISOR_LOCAL_LOGIN=false needs single sign-on" in result.stderr


def test_a_bad_oidc_setting_stops_the_app_with_its_reason():
    result = _settings(**_env(ADVISOR_OIDC_GROUP_MAP='{"g": {"role": "owner"}}'))
    assert result.returncode != 0 and "unknown role 'owner'" in result.stderr
    assert "s3cret-value" not in result.stderr
