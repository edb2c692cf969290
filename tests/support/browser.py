"""The browser side of the web tests: Debian's chromium, one user's context with what the tests
need around its page, and the gestures Playwright has no single call for (drop a file, slow the
upload)."""

from __future__ import annotations

import base64
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI
from tests.support.api import PASSWORD

CHROMIUM = os.environ.get("KADR_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: Short enough that every test outlives its access tokens: the app must refresh them itself.
ACCESS_TOKEN_TTL_SECONDS = 2
RUN_TIMEOUT_MS = 300_000


def missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser tests must run)")
    pytest.skip(reason)


class Pages:
    """A browser context of one user, with what the tests need around its page."""

    def __init__(self, browser: Any, base_url: str) -> None:
        self.base_url = base_url
        self.context = browser.new_context(viewport=DESKTOP, base_url=base_url)
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.refreshes: list[int] = []
        self.page.on(
            "response",
            lambda response: (
                self.refreshes.append(response.status) if response.url.endswith("/v1/auth/refresh") else None
            ),
        )

    def close(self) -> None:
        assert self.errors == [], f"the page raised: {self.errors}"
        self.context.close()

    def expect_heading(self, text: str) -> None:
        """Wait until the page's h1 says `text` (the URL changes before the page is drawn)."""
        from playwright.sync_api import expect

        expect(self.page.locator("h1")).to_have_text(text)

    def sign_up(self, email: str, name: str) -> None:
        page = self.page
        page.goto("/sign-up")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("Your name (optional)").fill(name)
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url("**/videos")

    def sign_in(self, email: str) -> None:
        page = self.page
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

    def shoot(self, name: str) -> None:
        """docs/screenshots/<name>-desktop.png and -phone.png of the page as it is now; at
        phone width nothing may be wider than the screen."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            self.page.set_viewport_size(size)
            self.page.wait_for_timeout(150)  # one layout pass at the new width
            overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} is {overflow}px wider than a {size['width']}px screen"
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
        self.page.set_viewport_size(DESKTOP)


class SignedIn(httpx.Auth):
    """Bearer auth as a user of the browser tests, signing in again whenever the short-lived
    access token has expired: for setting up what the page under test only shows."""

    def __init__(self, base_url: str, email: str) -> None:
        self.base_url = base_url
        self.email = email
        self.token = self._sign_in()

    def _sign_in(self) -> str:
        credentials = {"email": self.email, "password": PASSWORD}
        answer = httpx.post(f"{self.base_url}/v1/auth/login", json=credentials)
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401:
            self.token = self._sign_in()
            request.headers["Authorization"] = f"Bearer {self.token}"
            yield request


def api_as(base_url: str, email: str) -> httpx.Client:
    """The API as the user `email` (signed up already, with the tests' password)."""
    return httpx.Client(base_url=base_url, auth=SignedIn(base_url, email), timeout=30)


def drop_file(page: Any, selector: str, path: Path, content_type: str) -> None:
    """Drop a file on an element the way a user's drag and drop does (a DataTransfer)."""
    page.evaluate(
        """([selector, name, type, data]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type }));
            const zone = document.querySelector(selector);
            const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
            zone.dispatchEvent(new DragEvent("dragover", init));
            zone.dispatchEvent(new DragEvent("drop", init));
        }""",
        [selector, path.name, content_type, base64.b64encode(path.read_bytes()).decode()],
    )


def record_upload_progress(page: Any) -> Any:
    """Keep every value the upload's progress bar shows, with the network slowed to ~300 kB/s
    up, so that the sample's 485 kB take more than one progress event."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 300_000},
    )
    page.evaluate(
        """() => {
            window.uploadProgress = [];
            new MutationObserver(() => {
                for (const bar of document.querySelectorAll(".upload-status progress")) {
                    window.uploadProgress.push(bar.value);
                }
            }).observe(document.body, { subtree: true, childList: true, attributes: true });
        }"""
    )
    return cdp


def unthrottle(cdp: Any) -> None:
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
