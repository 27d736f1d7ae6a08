"""The settings module: production refuses to start without a strong secret key; bad values fail loudly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KEY_50 = "k3y-" + "abcdefghij" * 4 + "0123456789"[:6]  # 50 characters


def _load(**env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_") and k != "DATABASE_URL"}
    clean.update(env, DJANGO_SETTINGS_MODULE="advisor.settings", ADVISOR_VAR_DIR="/tmp/advisor-settings-test")
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG, settings.DATABASES['default']['ENGINE'])"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _load()
    assert result.returncode != 0
    assert "ADVISOR_SECRET_KEY must be set" in result.stderr


def test_debug_has_a_development_key_and_sqlite_by_default():
    result = _load(ADVISOR_DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "django.db.backends.sqlite3"]


def test_database_url_selects_postgresql():
    result = _load(ADVISOR_SECRET_KEY=KEY_50, DATABASE_URL="postgres://u@127.0.0.1:5432/advisor")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "django.db.backends.postgresql"]


def test_a_malformed_boolean_fails_loudly():
    result = _load(ADVISOR_DEBUG="maybe")
    assert result.returncode != 0 and "ADVISOR_DEBUG='maybe' is not a boolean" in result.stderr


# The secret key ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, ok",
    [
        (KEY_50[:49], False),
        (KEY_50, True),
        (KEY_50 + "more", True),
        ("build-only", False),
        ("x", False),
        ("ab" * 25, False),  # 50 characters, 2 distinct
        ("abcde" * 10, True),  # 50 characters, 5 distinct: Django's own bar
        ("abcd" * 20, False),  # 80 characters, 4 distinct
    ],
)
def test_production_refuses_a_weak_secret_key(key, ok):
    result = _load(ADVISOR_SECRET_KEY=key)
    if ok:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode != 0
        assert "ImproperlyConfigured: ADVISOR_SECRET_KEY is too weak" in result.stderr
        assert f"({len(key)} characters, {len(set(key))} distinct)" in result.stderr
        assert "at least 50 characters" in result.stderr and "secrets.token_urlsafe(50)" in result.stderr
        if len(key) > 8:
            assert key not in result.stderr  # the key itself is never printed


def test_debug_mode_accepts_a_short_key():
    result = _load(ADVISOR_DEBUG="true", ADVISOR_SECRET_KEY="short")
    assert result.returncode == 0, result.stderr


def test_the_linter_needs_no_strong_key_but_every_other_command_does(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_") and k != "DATABASE_URL"}
    env.update(
        ADVISOR_SECRET_KEY="short", ADVISOR_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="advisor.settings"
    )
    clean = ROOT / "tests" / "data" / "clean_design.yaml"
    lint = subprocess.run(
        [sys.executable, "manage.py", "lint_designs", str(clean)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert lint.returncode == 0, lint.stderr
    check = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert check.returncode != 0 and "ADVISOR_SECRET_KEY is too weak" in check.stderr


# API token lifetimes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "default, maximum, ok",
    [("90", "365", True), ("1", "1", True), ("400", "365", False), ("0", "365", False), ("30", "", True)],
)
def test_token_lifetimes_are_checked_at_startup(default, maximum, ok):
    result = _load(ADVISOR_DEBUG="true", ADVISOR_TOKEN_DEFAULT_DAYS=default, ADVISOR_TOKEN_MAX_DAYS=maximum)
    if ok:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode != 0
        assert (
            f"ADVISOR_TOKEN_DEFAULT_DAYS={default} must be between 1 and ADVISOR_TOKEN_MAX_DAYS="
            in result.stderr
        )
