"""Eight writers at once see no error (issue #11, item 7).

SQLite, the database of `make run`, used to answer most concurrent writes with a 500 "database is
locked": a transaction that reads first and writes later cannot wait for the write lock. The
settings now open SQLite in WAL mode with a busy timeout and IMMEDIATE transactions. Here eight
threads, each with its own database connection to the file database of the test run, write
through the real page and API views for a bounded time, and every single write must succeed.

On PostgreSQL (DATABASE_URL=postgres://...) the same writers run and must succeed as well; only the
check of the SQLite pragmas is skipped there.
"""

import json
import threading
import time

import pytest
from django.db import connection, connections
from django.test import Client

from advisor.registry.models import Namespace

pytestmark = pytest.mark.django_db(transaction=True)  # the writers' threads see committed rows only

WRITERS = 8
DURATION_S = 10.0  # how long the writers keep writing; not a performance figure


def _form_data(form) -> dict:
    """What a browser would post back for an unchanged form."""
    data = {}
    for field in form:
        value = field.value()
        if isinstance(value, bool):
            if value:
                data[field.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[field.html_name] = [str(v) for v in value]
        elif value is not None:
            data[field.html_name] = str(value)
    return data


def _page_writer(client: Client, name: str):
    """Edits a namespace through its edit page, as a team member's browser does."""
    form = client.get(f"/namespaces/{name}/edit/").context["form"]
    data = _form_data(form)

    def write(n: int):
        data["ops_reads"] = str(1000 + n)
        response = client.post(f"/namespaces/{name}/edit/", data)
        return response.status_code == 302, response

    return write


def _api_writer(client: Client, name: str):
    """Patches a namespace through the JSON API, as a script does."""

    def write(n: int):
        response = client.patch(
            f"/api/namespaces/{name}",
            json.dumps({"ops_per_sec": {"reads": 2000 + n}}),
            content_type="application/merge-patch+json",
        )
        return response.status_code == 200, response

    return write


def _describe(response) -> str:
    return f"{response.status_code} {response.content[:300]!r}"


@pytest.fixture
def writers(demo_registry, admin_user):
    names = list(Namespace.objects.order_by("name").values_list("name", flat=True)[:WRITERS])
    assert len(names) == WRITERS
    result = []
    for i, name in enumerate(names):
        client = Client()
        client.force_login(admin_user)
        make = _page_writer if i % 2 == 0 else _api_writer
        result.append((name, make(client, name)))
    return result


def test_eight_concurrent_writers_through_pages_and_api_see_no_error(writers):
    start = threading.Barrier(WRITERS)
    done: dict[str, int] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def run(name, write):
        try:
            start.wait()
            deadline = time.monotonic() + DURATION_S
            n = 0
            while time.monotonic() < deadline:
                try:
                    ok, response = write(n)
                except Exception as exc:  # a 500 raises in the test client
                    ok, response = False, None
                    with lock:
                        errors.append(f"{name} write {n}: {type(exc).__name__}: {exc}")
                if not ok and response is not None:
                    with lock:
                        errors.append(f"{name} write {n}: {_describe(response)}")
                n += 1
            with lock:
                done[name] = n
        finally:
            connections.close_all()  # this thread's connection

    threads = [threading.Thread(target=run, args=w, name=f"writer-{w[0]}") for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=DURATION_S + 120)
    assert not any(t.is_alive() for t in threads), "a writer never finished"
    assert not errors, f"{len(errors)} of {sum(done.values())} writes failed:\n" + "\n".join(errors[:10])
    assert len(done) == WRITERS and all(count >= 1 for count in done.values()), done
    # Every writer's last write is what the database holds.
    for name, count in done.items():
        ns = Namespace.objects.get(name=name)
        assert ns.ops_reads in (1000 + count - 1, 2000 + count - 1), (name, ns.ops_reads, count)


def test_sqlite_is_opened_for_concurrent_use():
    if connection.vendor != "sqlite":
        pytest.skip(f"SQLite settings only; this run uses {connection.vendor}")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 5000  # milliseconds
    assert connection.transaction_mode == "IMMEDIATE"
