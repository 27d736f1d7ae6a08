"""`manage.py check --deploy` is clean with the README's production settings (issue #11: it warned
W004 and W008, then W005 and W021 once those were set). The settings are read from the README's
"Production settings" block itself, so the documentation and the test cannot drift apart."""

import os
import re
import secrets
import subprocess
import sys

import pytest
from django.test import Client

from tests.conftest import ROOT

README = ROOT / "README.md"


def readme_production_settings() -> dict[str, str]:
    text = README.read_text()
    section = text[text.index("### Production settings") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    env = dict(line.split("=", 1) for line in block.strip().splitlines())
    # The placeholders, filled in as an operator would.
    env["ADVISOR_SECRET_KEY"] = secrets.token_urlsafe(50)
    env["DATABASE_URL"] = env["DATABASE_URL"].replace("<password>", "not-used-by-check")
    return env


def check_deploy(tmp_path, env):
    # As a server starts: none of this test process's own variables (the browser fixtures set
    # DJANGO_ALLOW_ASYNC_UNSAFE, which the deployment check rightly flags).
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ADVISOR_", "DJANGO_")) and k != "DATABASE_URL"
    }
    clean.update(env, ADVISOR_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="advisor.settings")
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_readme_lists_the_production_settings():
    env = readme_production_settings()
    assert set(env) >= {
        "ADVISOR_SECRET_KEY",
        "ADVISOR_ALLOWED_HOSTS",
        "ADVISOR_SSL_REDIRECT",
        "ADVISOR_HSTS_SECONDS",
        "ADVISOR_HSTS_INCLUDE_SUBDOMAINS",
        "ADVISOR_HSTS_PRELOAD",
        "DATABASE_URL",
    }
    assert "ADVISOR_DEBUG" not in env


def test_check_deploy_is_clean_with_the_readme_settings(tmp_path):
    result = check_deploy(tmp_path, readme_production_settings())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize(
    "left_out, warnings",
    [
        (["ADVISOR_HSTS_SECONDS", "ADVISOR_HSTS_INCLUDE_SUBDOMAINS", "ADVISOR_HSTS_PRELOAD"], ["W004"]),
        (["ADVISOR_SSL_REDIRECT"], ["W008"]),
        (["ADVISOR_HSTS_INCLUDE_SUBDOMAINS"], ["W005"]),
        (["ADVISOR_HSTS_PRELOAD"], ["W021"]),
        (["ADVISOR_ALLOWED_HOSTS"], ["W020"]),
    ],
)
def test_each_setting_is_needed(tmp_path, left_out, warnings):
    # Proof that the check is not trivially clean: leaving a setting out brings its warning back.
    env = {k: v for k, v in readme_production_settings().items() if k not in left_out}
    result = check_deploy(tmp_path, env)
    assert result.returncode != 0
    found = sorted(set(re.findall(r"\(security\.(W\d+)\)", result.stderr + result.stdout)))
    assert found == warnings


# What the settings do, through the middleware --------------------------------------------------


@pytest.fixture
def production(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^api/health$"]
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return settings


@pytest.mark.django_db
def test_plain_http_is_redirected_except_the_health_probe(production):
    client = Client()
    response = client.get("/login/")
    assert response.status_code == 301 and response["Location"] == "https://testserver/login/"
    assert client.get("/api/health").status_code == 200


@pytest.mark.django_db
def test_https_through_the_proxy_gets_hsts_and_the_hardening_headers(production):
    response = Client().get("/login/", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
