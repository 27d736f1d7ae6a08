"""Settings for the test suite: the production settings module, with test-only defaults."""

import os

# As long as production demands (50 characters or more); test processes inherit it.
os.environ.setdefault("ADVISOR_SECRET_KEY", "test-only-secret-key-" + "not-for-production-" * 3)
os.environ.setdefault("ADVISOR_STATIC_MANIFEST", "false")
os.environ.setdefault("ADVISOR_SECURE_COOKIES", "false")

from advisor.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
# Tests scan their own redis-server processes on loopback.
ADVISOR_SCAN_ALLOWED_HOSTS = [*ADVISOR_SCAN_ALLOWED_HOSTS, "127.0.0.1", "localhost"]  # noqa: F405

# A file, not memory, so that a real Celery worker in a subprocess sees the test database.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # One per test process: several runs may share a checkout.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-advisor-{os.getpid()}.sqlite3")}  # noqa: F405
