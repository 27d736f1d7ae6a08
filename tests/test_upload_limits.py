"""Design files over ADVISOR_MAX_DESIGN_BYTES are refused before they are parsed (issue #11, item 8).

Every way in: the upload page (413 and a message, nothing imported, the rest of the file never
stored), POST /api/lint (413), `import_designs` and the linter (exit 2 and a message), from a file
or standard input. A file exactly at the limit is accepted everywhere. The limit itself: a bench
script (bench/import.py) imports a file at the default limit and prints its time and peak memory.
"""

import io
import os
import subprocess
import sys

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from advisor import limits
from advisor.accounts.models import ApiToken
from advisor.registry.models import Namespace, Team
from tests.conftest import CLEAN_DESIGN, ROOT
from tests.test_design_bounds import HUGE, MINIMAL_YAML

pytestmark = pytest.mark.django_db

CLEAN = CLEAN_DESIGN.read_bytes()
SIZE = len(CLEAN)


def _padded(extra: int) -> bytes:
    """The clean design with `extra` bytes of trailing comment: still valid, just bigger."""
    return CLEAN + (b"#" * (extra - 1) + b"\n" if extra else b"")


# The limit at the file's size from both sides: equal is accepted, one byte less refuses it.
BOUNDS = [(SIZE, True), (SIZE - 1, False), (SIZE * 4, True), (SIZE // 4, False)]


# --- the upload page ------------------------------------------------------------------------


@pytest.mark.parametrize("limit, accepted", BOUNDS)
def test_the_upload_page_takes_a_file_up_to_the_limit(client, admin_user, settings, limit, accepted):
    settings.ADVISOR_MAX_DESIGN_BYTES = limit
    client.force_login(admin_user)
    response = client.post("/designs/", {"file": SimpleUploadedFile("designs.yaml", CLEAN)})
    if accepted:
        assert response.status_code == 302
        assert Team.objects.exists()
    else:
        body = response.content.decode()
        assert response.status_code == 413
        assert "nothing changed" in body and "ADVISOR_MAX_DESIGN_BYTES" in body
        assert limits.human_bytes(limit) in body
        assert not Team.objects.exists() and not Namespace.objects.exists()


def test_a_file_far_over_the_limit_is_cut_off_unread(client, admin_user, settings, monkeypatch):
    """Its bytes past the limit reach neither the in-memory nor the temporary-file handler."""
    from django.core.files import uploadhandler

    settings.ADVISOR_MAX_DESIGN_BYTES = settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100_000
    kept = []
    for handler in (uploadhandler.MemoryFileUploadHandler, uploadhandler.TemporaryFileUploadHandler):
        real = handler.receive_data_chunk

        def spy(self, raw_data, start, real=real):
            kept.append(start + len(raw_data))  # how far into the file this handler got
            return real(self, raw_data, start)

        monkeypatch.setattr(handler, "receive_data_chunk", spy)
    client.force_login(admin_user)
    response = client.post("/designs/", {"file": SimpleUploadedFile("huge.yaml", _padded(3_000_000))})
    body = response.content.decode()
    assert response.status_code == 413
    assert "huge.yaml" in body and "97.7 KiB" in body and "larger than that" in body
    assert kept and max(kept) <= 100_000
    assert not Team.objects.exists()


def test_the_upload_page_says_what_the_limit_is(client, admin_user, settings):
    settings.ADVISOR_MAX_DESIGN_BYTES = 3 * 1024 * 1024
    client.force_login(admin_user)
    assert "up to 3 MiB" in client.get("/designs/").content.decode()


def test_an_integer_of_absurd_length_in_an_upload_is_a_located_error(client, admin_user):
    client.force_login(admin_user)
    text = MINIMAL_YAML.format(cardinality=HUGE).encode()
    response = client.post("/designs/", {"file": SimpleUploadedFile("huge-int.yaml", text)})
    body = response.content.decode()
    assert response.status_code == 200 and "Nothing changed" in body
    assert "namespaces[0].cardinality" in body and HUGE not in body
    assert not Team.objects.exists()


# --- POST /api/lint --------------------------------------------------------------------------


@pytest.fixture
def bearer(viewer):
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user=viewer, name='ci')[1]}"}


@pytest.mark.parametrize("limit, accepted", BOUNDS)
def test_the_lint_api_takes_a_body_up_to_the_limit(client, bearer, settings, limit, accepted):
    settings.ADVISOR_MAX_DESIGN_BYTES = limit
    response = client.post("/api/lint", CLEAN, content_type="application/yaml", **bearer)
    if accepted:
        assert response.status_code == 200, response.content
        assert "summary" in response.json()
    else:
        assert response.status_code == 413
        detail = response.json()["detail"]
        assert "ADVISOR_MAX_DESIGN_BYTES" in detail and f"{SIZE:,} bytes" in detail


def test_a_body_bigger_than_django_reads_is_still_our_413(client, bearer, settings):
    """Past DATA_UPLOAD_MAX_MEMORY_SIZE Django would refuse to read it; the size is checked first."""
    settings.ADVISOR_MAX_DESIGN_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    response = client.post("/api/lint", _padded(10_000), content_type="application/yaml", **bearer)
    assert response.status_code == 413
    assert "ADVISOR_MAX_DESIGN_BYTES" in response.json()["detail"]


def test_the_default_limit_lets_the_api_read_a_file_at_the_limit(settings):
    from django.conf import settings as live

    assert live.DATA_UPLOAD_MAX_MEMORY_SIZE > live.ADVISOR_MAX_DESIGN_BYTES
    assert live.FILE_UPLOAD_HANDLERS[0] == "advisor.registry.uploads.DesignSizeLimitHandler"


def test_an_integer_of_absurd_length_sent_to_the_lint_api_is_a_located_422(client, bearer):
    text = MINIMAL_YAML.format(cardinality=HUGE)
    response = client.post("/api/lint", text, content_type="application/yaml", **bearer)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == ["namespaces[0].cardinality"]
    assert HUGE not in response.content.decode()


# --- import_designs ---------------------------------------------------------------------------


@pytest.mark.parametrize("limit, accepted", BOUNDS)
def test_import_designs_takes_a_file_up_to_the_limit(tmp_path, settings, capsys, limit, accepted):
    settings.ADVISOR_MAX_DESIGN_BYTES = limit
    path = tmp_path / "designs.yaml"
    path.write_bytes(CLEAN)
    if accepted:
        call_command("import_designs", str(path))
        assert Team.objects.exists()
    else:
        with pytest.raises(SystemExit) as exit_:
            call_command("import_designs", str(path))
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert str(path) in err and "ADVISOR_MAX_DESIGN_BYTES" in err and f"({SIZE:,} bytes)" in err
        assert "Nothing imported" in err and "Traceback" not in err
        assert not Team.objects.exists()


def test_import_designs_reads_no_more_than_the_limit_from_standard_input(settings, capsys, monkeypatch):
    settings.ADVISOR_MAX_DESIGN_BYTES = 1000
    stdin = _CountingStream(_padded(50_000))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stdin))
    with pytest.raises(SystemExit) as exit_:
        call_command("import_designs", "-")
    assert exit_.value.code == 2
    assert stdin.bytes_read <= 1001
    assert "<stdin>" in capsys.readouterr().err
    assert not Team.objects.exists()


class _CountingStream(io.RawIOBase):
    """A pipe-like stream (no file number) that counts what was taken from it."""

    def __init__(self, data: bytes):
        self._data, self.bytes_read = data, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        chunk = self._data[self.bytes_read : self.bytes_read + len(buffer)]
        buffer[: len(chunk)] = chunk
        self.bytes_read += len(chunk)
        return len(chunk)


def test_read_design_bytes_stops_after_one_byte_over_the_limit():
    stream = _CountingStream(b"x" * 10_000)
    with pytest.raises(limits.DesignTooLarge) as e:
        limits.read_design_bytes(io.BufferedReader(stream, buffer_size=16), "<pipe>", 100)
    assert e.value.size is None and stream.bytes_read <= 101 + 16
    assert limits.read_design_bytes(io.BytesIO(b"x" * 100), "<pipe>", 100) == b"x" * 100


# --- the linter, without settings ------------------------------------------------------------


def _lint(*args, stdin: bytes | None = None, **env):
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_") and k != "DJANGO_SETTINGS_MODULE"
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "advisor.lint_cli", *args],
        cwd=ROOT,
        env=clean,
        input=stdin,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.parametrize("limit, accepted", BOUNDS)
def test_the_linter_takes_a_file_up_to_the_limit_from_its_environment(limit, accepted):
    result = _lint(str(CLEAN_DESIGN), ADVISOR_MAX_DESIGN_BYTES=str(limit))
    err = result.stderr.decode()
    if accepted:
        assert result.returncode == 0, err
    else:
        assert result.returncode == 2
        assert str(CLEAN_DESIGN) in err and "ADVISOR_MAX_DESIGN_BYTES" in err and "Traceback" not in err


def test_the_linter_refuses_a_big_standard_input_and_still_lints_the_other_files():
    result = _lint("-", str(CLEAN_DESIGN), stdin=_padded(20_000), ADVISOR_MAX_DESIGN_BYTES=str(SIZE + 1000))
    err = result.stderr.decode()
    assert result.returncode == 2
    assert "<stdin>" in err and "larger than that" in err
    assert f"==> {CLEAN_DESIGN} <==" in result.stdout.decode()


def test_the_linter_has_a_default_limit():
    result = _lint("-", stdin=_padded(limits.DEFAULT_MAX_DESIGN_BYTES + 1))
    assert result.returncode == 2 and "1 MiB" in result.stderr.decode()


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5"])
def test_a_malformed_limit_is_a_clear_error(value):
    result = _lint(str(CLEAN_DESIGN), ADVISOR_MAX_DESIGN_BYTES=value)
    err = result.stderr.decode()
    assert result.returncode == 2
    assert f"ADVISOR_MAX_DESIGN_BYTES={value!r} is not a positive number of bytes" in err
    assert "Traceback" not in err


def test_the_web_refuses_to_start_with_a_malformed_limit(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_") and k != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="advisor.settings",
        ADVISOR_DEBUG="true",
        ADVISOR_VAR_DIR=str(tmp_path),
        ADVISOR_MAX_DESIGN_BYTES="5MB",
    )
    code = "import django; django.setup()"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert (
        "ImproperlyConfigured: ADVISOR_MAX_DESIGN_BYTES='5MB' is not a positive number of bytes"
        in result.stderr
    )
