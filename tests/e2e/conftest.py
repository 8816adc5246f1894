"""Browser fixtures: Playwright driving the system Chromium, one page per test, screenshots on demand."""

from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's ORM calls here stay synchronous.
    # Set for this test only, so that no other test (or subprocess) inherits it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1150, "height": 900})
        yield context.new_page()
        context.close()
        browser.close()


def screenshot(page, folder: str, name: str) -> Path:
    path = ARTIFACTS / folder / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, url: str, user, password: str) -> None:
    """Open a staff page, which asks for a login first, sign in as `user`, and land back on it."""
    page.goto(url)
    page.wait_for_url("**/accounts/login/**")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url)
