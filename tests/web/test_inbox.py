"""The notifications inbox in a real browser: newest first, unread ones marked, the unread count
in the header following mark one / mark all read, a link to what each is about; and the
notification settings form (no mail server here: email said to be off; a webhook channel to
tick), saved through PUT /v1/notification-settings."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.api import PASSWORD
from tests.support.browser import api_as

pytestmark = pytest.mark.slow

EMAIL = "reader@example.com"
FRIEND = "friend@example.com"
SCENARIO = {
    "title": "Cats at night",
    "target_duration_s": 10,
    "scenes": [{"n": 1, "duration_s": 10, "narration": "Cats wake up.", "visual": "a cat", "shot": "wide"}],
}


@pytest.fixture(scope="module")
def server_settings() -> dict[str, object]:
    return {"allowed_private_hosts": json.dumps(["127.0.0.1"])}


def unread_badge(page: Any) -> Any:
    return page.get_by_role("navigation", name="Main").locator(".count")


def test_inbox_marks_read_and_the_settings_form_saves(pages: Any, server: str) -> None:
    user = pages()
    page = user.page
    user.sign_up(EMAIL, "Rue")
    httpx.post(f"{server}/v1/auth/register", json={"email": FRIEND, "password": PASSWORD})
    with api_as(server, EMAIL) as api, api_as(server, FRIEND) as friend:
        mine = api.post("/v1/scenarios", json=SCENARIO).json()
        assert api.post(f"/v1/scenarios/{mine['id']}/share", json={}).status_code == 201
        theirs = friend.post("/v1/scenarios", json={**SCENARIO, "title": "Dogs at dawn"}).json()
        shared = friend.post(f"/v1/scenarios/{theirs['id']}/share", json={"email": EMAIL, "role": "editor"})
        assert shared.status_code == 201, shared.text
        webhook = api.post(
            "/v1/channels/webhook", json={"name": "CMS", "url": "http://127.0.0.1:9/hook"}
        ).json()

    page.reload()
    expect(unread_badge(page)).to_have_text("3 unread")
    page.get_by_role("link", name=re.compile(r"^Inbox")).click()
    user.expect_heading("Inbox")
    events = page.locator(".event")
    expect(events).to_have_count(3)
    titles = [text.removeprefix("New ").strip() for text in events.locator("h3").all_inner_texts()]
    assert titles == ["Scenario shared", "Scenario shared", "Welcome to kadr"], "newest first"
    newest = events.nth(0)
    expect(newest).to_contain_text("Dogs at dawn")
    expect(newest).to_contain_text(f"Shared by{FRIEND}")
    expect(newest.get_by_role("link", name="Open the scenario")).to_have_attribute(
        "href", f"/scenarios/{theirs['id']}"
    )
    expect(page.locator(".event.unread")).to_have_count(3)
    expect(page.get_by_text("3 unread on this page.")).to_be_visible()
    user.shoot("inbox")

    newest.get_by_role("button", name="Mark “Scenario shared” read").click()
    expect(page.locator(".event.unread")).to_have_count(2)
    expect(unread_badge(page)).to_have_text("2 unread")
    expect(events.nth(0)).not_to_have_class(re.compile(r"unread"))
    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_role("status").filter(has_text="Marked 2 read.")).to_be_visible()
    expect(page.locator(".event.unread")).to_have_count(0)
    expect(unread_badge(page)).to_be_hidden()
    page.reload()
    user.expect_heading("Inbox")
    expect(page.get_by_text("Nothing unread.")).to_be_visible()

    page.get_by_role("link", name="Notification settings").click()
    user.expect_heading("Notification settings")
    assert "no mail server configured" in page.locator("main").inner_text()
    expect(page.get_by_label("Send me email")).to_be_disabled()
    expect(page.get_by_label("Run finished")).to_be_checked()
    expect(page.get_by_label("Welcome to kadr")).not_to_be_checked()
    assert "No Telegram chats yet" in page.locator("main").inner_text()
    page.get_by_label("Run finished").uncheck()
    page.get_by_label("CMS").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    user.shoot("notification-settings")
    with api_as(server, EMAIL) as api:
        stored = api.get("/v1/notification-settings").json()
    assert "run.succeeded" not in stored["events"] and "run.failed" in stored["events"]
    assert stored["webhook_channel_ids"] == [webhook["id"]]
    page.reload()
    user.expect_heading("Notification settings")
    expect(page.get_by_label("CMS")).to_be_checked()
    expect(page.get_by_label("Run finished")).not_to_be_checked()
