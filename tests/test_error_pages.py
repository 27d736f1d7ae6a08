"""The 403, 404 and 500 pages and the failed CSRF check's 403: inside the app's layout, carrying
the reason the code gave (never internals on a 500), and a refusal logged as one warning line
(path, user, reason), not a traceback."""

import logging

import pytest
from django.test import Client
from django.urls import path

from advisor import urls as site_urls

pytestmark = pytest.mark.django_db

# A URLconf for the 500 test: the site's own plus a view that fails; the site's handlers.
SECRET = "database password is hunter2 at /srv/advisor/settings.py line 42"


def _failing_view(request):
    raise RuntimeError(SECRET)


urlpatterns = [path("boom/", _failing_view), *site_urls.urlpatterns]
handler403 = site_urls.handler403
handler404 = site_urls.handler404
handler500 = site_urls.handler500

LAYOUT = 'class="navbar navbar-dark bg-advisor'  # base.html's and 500.html's navigation bar
BOOTSTRAP = "vendor/bootstrap/bootstrap.min.css"


def _page(response):
    body = response.content.decode()
    assert "<!doctype html>" in body.lower()
    assert BOOTSTRAP in body and "advisor/app.css" in body
    assert "navbar" in body and "bg-advisor" in body
    assert " style=" not in body and "<style" not in body and "<script>" not in body  # CSP: no inline
    return body


def test_a_refusal_renders_the_layout_with_the_reason(client, viewer):
    client.force_login(viewer)
    response = client.get("/instances/new/")
    assert response.status_code == 403
    body = _page(response)
    assert "Not allowed" in body
    assert "Only administrators create or edit instances." in body
    assert viewer.get_username() in body  # the signed-in layout: the user's menu is there
    assert response["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("/rules/XYZ999/", "No rule XYZ999"),  # a reason the view gave
        ("/namespaces/no-such-namespace/", "No Namespace matches the given query."),
        ("/no/such/page/", "There is no page at <code>/no/such/page/</code>"),  # no route: the path
    ],
)
def test_a_missing_page_renders_the_layout_with_the_reason(client, viewer, url, reason):
    client.force_login(viewer)
    response = client.get(url)
    assert response.status_code == 404
    body = _page(response)
    assert "Not found" in body
    assert reason in body
    assert "{&#x27;" not in body and "tried" not in body  # a resolver's internals never show


def test_a_missing_page_for_an_anonymous_visitor_still_has_the_layout(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Not found" in _page(response)


@pytest.mark.urls("tests.test_error_pages")
def test_a_server_error_renders_the_layout_and_no_internals(viewer, caplog):
    client = Client(raise_request_exception=False)
    client.force_login(viewer)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/boom/")
    assert response.status_code == 500
    body = _page(response)
    assert "Server error" in body and "has been logged" in body
    for internal in ("hunter2", "RuntimeError", "Traceback", "settings.py"):
        assert internal not in body
    # The fault itself is in the log, with its traceback, for the administrators.
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)


@pytest.mark.urls("tests.test_error_pages")
def test_the_500_page_survives_a_failing_template(monkeypatch, caplog):
    from django.template import loader

    def broken(name, *args, **kwargs):
        raise RuntimeError("template engine down")

    monkeypatch.setattr(loader, "get_template", broken)
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Server error" in body and "hunter2" not in body and "template engine down" not in body


def test_a_refusal_logs_one_warning_line_without_a_traceback(client, viewer, caplog):
    client.force_login(viewer)
    with caplog.at_level(logging.INFO, logger="django.request"):
        response = client.get("/instances/new/")
    assert response.status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1
    (record,) = records
    assert record.levelno == logging.WARNING
    assert record.exc_info is None and record.exc_text is None
    assert record.getMessage() == (
        "Forbidden (Permission denied): /instances/new/ by vera-viewer "
        "(Only administrators create or edit instances.)"
    )
    assert "Traceback" not in caplog.text


def test_a_missing_page_logs_one_warning_line_without_a_traceback(client, viewer, caplog):
    client.force_login(viewer)
    with caplog.at_level(logging.INFO, logger="django.request"):
        assert client.get("/rules/XYZ999/").status_code == 404
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelno, r.exc_info) for r in records] == [(logging.WARNING, None)]
    assert "Not Found: /rules/XYZ999/ by vera-viewer (No rule XYZ999)" == records[0].getMessage()


def test_an_anonymous_miss_is_logged_as_such(client, caplog):
    with caplog.at_level(logging.INFO, logger="django.request"):
        assert client.get("/no/such/page/").status_code == 404
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelno, r.exc_info, r.getMessage()) for r in records] == [
        (logging.WARNING, None, "Not Found: /no/such/page/ by anonymous")
    ]


def test_a_newline_in_the_path_or_the_reason_stays_on_the_line(client, viewer, caplog):
    client.force_login(viewer)
    with caplog.at_level(logging.INFO, logger="django.request"):
        assert client.get("/rules/XYZ%0A999/").status_code == 404
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == "Not Found: /rules/XYZ\\n999/ by vera-viewer (No rule XYZ\\n999)"
    assert "\n" not in record.getMessage()


def test_a_form_refused_by_the_csrf_check_renders_the_layout_and_logs_one_line(viewer, caplog):
    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)
    with caplog.at_level(logging.INFO):
        response = client.post("/namespaces/validate-pattern/", {"pattern": "prod:x:v1:<id:int>"})
    assert response.status_code == 403
    body = _page(response)
    assert "Form not accepted" in body and "nothing was changed" in body
    assert "Reason: CSRF cookie not set." in body
    assert viewer.get_username() in body  # the signed-in layout
    assert "CSRF verification failed" not in body  # not Django's bare page
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelno, r.exc_info, r.getMessage()) for r in records] == [
        (
            logging.WARNING,
            None,
            "Forbidden (CSRF check failed): /namespaces/validate-pattern/ by vera-viewer (CSRF cookie not set.)",
        )
    ]
    assert not any(r.exc_info for r in caplog.records)


def test_a_sign_in_without_a_token_gets_the_page_with_a_fresh_token(db, caplog):
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")  # the cookie is set, but the form's token is not sent
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.post("/login/", {"username": "nobody", "password": "x"})
    assert response.status_code == 403
    body = _page(response)
    assert "Reason: CSRF token missing." in body and "Sign out" not in body  # anonymous layout
    assert "by anonymous (CSRF token missing.)" in caplog.text


def test_a_request_for_a_host_not_allowed_gets_the_400_page_inside_the_layout(settings, caplog):
    """Django refuses it before any view (DisallowedHost): the page says what happened, not the header."""
    settings.ALLOWED_HOSTS = ["advisor.example.com"]
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = Client().get("/login/", HTTP_HOST="evil.example.net")
    assert response.status_code == 400
    body = _page(response)
    assert "Bad request" in body and "evil.example.net" not in body
