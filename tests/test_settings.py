"""The settings module: production refuses to start without a secret key; bad values fail loudly."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
    result = _load(ADVISOR_SECRET_KEY="x", DATABASE_URL="postgres://u@127.0.0.1:5432/advisor")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "django.db.backends.postgresql"]


def test_a_malformed_boolean_fails_loudly():
    result = _load(ADVISOR_DEBUG="maybe")
    assert result.returncode != 0 and "ADVISOR_DEBUG='maybe' is not a boolean" in result.stderr
