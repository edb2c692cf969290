"""Publications in a real browser, published for real by `kadr up`'s worker to the YouTube
stand-in and to a webhook receiver: a list by day with each status, the pacing reason of an
upload that waits for its slot, the YouTube link of one published; reschedule by editing the
time, a 409 in words when it changed meanwhile, cancel, and retry of a failed one until the
webhook takes it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import DATA_DIR
from tests.support.browser import api_as
from tests.support.google import FakeGoogle
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.slow

EMAIL = "poster@example.com"


@pytest.fixture(scope="module")
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as server:
        yield server


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver("whsec_" + "A" * 44) as server:  # the real secret is set once the channel exists
        yield server


@pytest.fixture(scope="module")
def server_settings(google: FakeGoogle) -> dict[str, object]:
    return {
        "google_client_id": google.client_id,
        "google_client_secret": google.client_secret,
        "google_auth_url": f"{google.url}/o/oauth2/v2/auth",
        "google_token_url": f"{google.url}/token",
        "youtube_api_url": google.url,
        "youtube_chunk_bytes": 256 * 1024,
        "youtube_upload_interval_seconds": 3600,  # the second upload waits: the pacing reason shows
        "allowed_private_hosts": json.dumps(["127.0.0.1"]),
    }


def connect_youtube(api: httpx.Client, google: FakeGoogle) -> dict[str, Any]:
    link = api.get("/v1/channels/youtube/connect").json()["authorization_url"]
    state = parse_qs(urlparse(link).query)["state"][0]
    answer = api.get(
        "/v1/channels/youtube/callback", params={"state": state, "code": google.consent_code_for(link)}
    )
    assert answer.status_code == 201, answer.text
    channel: dict[str, Any] = answer.json()
    return channel


def schedule(api: httpx.Client, **body: Any) -> dict[str, Any]:
    answer = api.post("/v1/publications", json=body)
    assert answer.status_code == 201, answer.text
    publication: dict[str, Any] = answer.json()
    return publication


def wait_until(api: httpx.Client, publication_id: str, done: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        publication: dict[str, Any] = api.get(f"/v1/publications/{publication_id}").json()
        if done(publication):
            return publication
        assert time.monotonic() < deadline, f"publication still {publication}"
        time.sleep(0.2)


def item(page: Any, title: str) -> Any:
    return page.locator(".publication", has=page.get_by_role("heading", name=title, exact=True))


def test_the_list_by_day_reschedule_cancel_and_retry(
    pages: Any, server: str, google: FakeGoogle, receiver: Receiver
) -> None:
    user = pages()
    page = user.page
    user.sign_up(EMAIL, "Pat")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Publications").click()
    user.expect_heading("Publications")
    assert "Nothing scheduled yet" in page.locator("main").inner_text()
    user.shoot("publications-empty")

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)

    def days_on(days: int) -> str:
        return (tomorrow + timedelta(days=days)).isoformat()

    with api_as(server, EMAIL) as api, (DATA_DIR / "talk.mp4").open("rb") as talk:
        video = api.post("/v1/videos", files={"file": ("talk.mp4", talk, "video/mp4")}).json()
        youtube = connect_youtube(api, google)
        webhook = api.post("/v1/channels/webhook", json={"name": "CMS", "url": receiver.url}).json()
        receiver.secret = webhook["signing_secret"]
        to_youtube = {"channel_id": youtube["id"], "video_id": video["id"]}
        to_webhook = {"channel_id": webhook["id"], "video_id": video["id"]}
        first = schedule(api, title="First upload", **to_youtube)
        wait_until(api, first["id"], lambda p: p["status"] == "published")
        second = schedule(api, title="Second upload", **to_youtube)
        wait_until(api, second["id"], lambda p: p["status_detail"] and "upload slot" in p["status_detail"])
        receiver.next_statuses = [400]
        refused = schedule(api, title="Refused at first", **to_webhook)
        wait_until(api, refused["id"], lambda p: p["status"] == "failed")
        schedule(api, title="Tomorrow's post", publish_at=tomorrow.isoformat(), **to_webhook)
        schedule(api, title="Cancel me", publish_at=(tomorrow + timedelta(days=6)).isoformat(), **to_webhook)
        elsewhere = schedule(
            api,
            title="Changed elsewhere",
            publish_at=(tomorrow + timedelta(days=2)).isoformat(),
            **to_webhook,
        )

        page.reload()
        user.expect_heading("Publications")
        published = item(page, "First upload")
        expect(published).to_contain_text("Published")
        link = published.get_by_role("link", name="Open it on YouTube")
        expect(link).to_have_attribute("href", re.compile(r"^https://(www\.youtube\.com|youtu\.be)/"))
        waiting = item(page, "Second upload")
        expect(waiting).to_contain_text("Waiting for the channel's next upload slot at")
        expect(waiting).to_contain_text("(one upload per hour).")
        expect(waiting).to_contain_text("In line")
        expect(item(page, "Refused at first")).to_contain_text("the webhook refused the publication")
        days = page.locator(".day h2").all_inner_texts()
        assert len(days) == 4 and days[0].startswith("Today, "), days
        user.shoot("publications")

        # Reschedule by editing the time, on the clock of the zone the page says: a new day.
        zone = ZoneInfo(re.findall(r"times in (\S+)\.", page.locator("main").inner_text())[0])
        post = item(page, "Tomorrow's post")
        later = (tomorrow + timedelta(days=1)).astimezone(zone).replace(hour=9, minute=30)
        post.get_by_label(re.compile(r"^New time")).fill(later.strftime("%Y-%m-%dT%H:%M"))
        post.get_by_role("button", name="Save time").click()
        expect(page.get_by_role("status").filter(has_text="“Tomorrow's post” now goes out")).to_be_visible()
        moved = page.locator(".day", has=item(page, "Tomorrow's post"))
        expect(moved.locator("h2")).to_have_text(later.strftime("%A, %B %-d, %Y"))
        stored = api.get("/v1/publications", params={"status": "scheduled"}).json()["items"]
        assert [
            datetime.fromisoformat(p["publish_at"]) for p in stored if p["title"] == "Tomorrow's post"
        ] == [later]

        # Cancelled by someone else meanwhile: this page's change is a 409, said in words.
        assert api.post(f"/v1/publications/{elsewhere['id']}/cancel").status_code == 200
    changed = item(page, "Changed elsewhere")
    changed.get_by_label(re.compile(r"^New time")).fill(
        (tomorrow + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    )
    changed.get_by_role("button", name="Save time").click()
    expect(changed.get_by_role("alert")).to_have_text(
        f"Not changed: publication {elsewhere['id']} is cancelled; only scheduled ones can be changed."
    )

    page.get_by_role("button", name="Cancel “Cancel me”").click()
    page.get_by_role("button", name="Press again to cancel it").click()
    expect(page.get_by_role("status").filter(has_text="“Cancel me” was cancelled.")).to_be_visible()
    expect(item(page, "Cancel me")).to_contain_text("Cancelled")

    # Retry: the receiver takes it this time; the page follows it to published by itself.
    page.get_by_role("button", name="Retry “Refused at first”").click()
    expect(page.get_by_role("status").filter(has_text="“Refused at first” is queued again.")).to_be_visible()
    expect(item(page, "Refused at first")).to_contain_text("Delivered", timeout=30_000)
    assert [r["status"] for r in receiver.received if r["json"]["data"]["title"] == "Refused at first"] == [
        400,
        204,
    ]
    assert all(r["valid"] for r in receiver.received)
