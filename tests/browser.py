"""Shared browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

Import the fixtures into a test module (`from tests.browser import browser, page, login`).
Chromium comes from the distribution (`apt-get install -y chromium`), never from
`playwright install`: no download at test time. Without it the browser tests skip, unless
ADVISOR_REQUIRE_BROWSER is set (CI), where a missing browser is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Module scope, not session: each test module imports its own copy of this fixture, and a second
# Playwright cannot start while another one's event loop is still running in this thread.
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = "Chromium not installed: apt-get install -y chromium"
        if os.environ.get("ADVISOR_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are still
    # plain synchronous code, which Django would otherwise refuse.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, live_server):
    """A factory of pages, each in its own context (its own cookies: one per person)."""
    contexts = []

    def make():
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def login(page, username: str, password: str | None = None) -> None:
    """Sign in through the login form (the personas' password is "pw-<username>")."""
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password or f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Kept as a test artifact under tests/artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
