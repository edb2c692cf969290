"""The whole flow in a real browser: sign up → upload the sample talk → run `default` to 100 % →
play a clip → fix a caption and re-render (the new run reaches 100 %) → a webhook channel made
through the API, with a real HTTP receiver as its target → schedule the clip to it from the run
page → see it published. The caption editor and the schedule panel are photographed at desktop
and phone width into docs/screenshots/.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import DATA_DIR
from tests.support.api import PASSWORD
from tests.support.browser import ACCESS_TOKEN_TTL_SECONDS, RUN_TIMEOUT_MS, drop_file
from tests.support.process import kadr_up
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`kadr up` that may deliver webhooks to this machine (the receiver listens on 127.0.0.1)."""
    folder = tmp_path_factory.mktemp("web-flow")
    settings = {
        "access_token_ttl_seconds": ACCESS_TOKEN_TTL_SECONDS,
        "llm_engine": "off",
        "allowed_private_hosts": json.dumps(["127.0.0.1"]),
    }
    with kadr_up(folder / "var", folder / "kadr.log", **settings) as (base_url, _process):
        yield base_url


def wait_until_done(page: Any) -> None:
    page.locator(".run-status", has_text="Done").wait_for(timeout=RUN_TIMEOUT_MS)
    assert page.get_by_role("progressbar", name="Run progress").get_attribute("value") == "100"


def test_upload_run_fix_a_caption_re_render_schedule_and_see_it_published(pages: Any, server: str) -> None:
    user = pages()
    page = user.page
    user.sign_up("grace@example.com", "Grace")
    drop_file(page, ".dropzone", DATA_DIR / "talk.mp4", "video/mp4")
    page.wait_for_url(re.compile(r"/videos/vid_[^/]+$"))
    page.get_by_role("link", name="Start a run").click()
    user.expect_heading("Start a run")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r"/runs/run_[^/]+$"))
    first_run = page.url
    wait_until_done(page)

    # Play a clip: its <video> reports a duration once its metadata loads, and it plays.
    clip = page.get_by_label("Clip 1, 9:16")
    clip.wait_for()
    page.wait_for_function("() => document.querySelector('video').duration > 0", timeout=30_000)
    played = clip.evaluate("video => { video.muted = true; return video.play().then(() => video.duration); }")
    assert played > 0

    # Fix a caption: the editor lists every segment; only the changed one is sent.
    editor = page.get_by_role("form", name="Fix captions and clips")
    segment = editor.get_by_label(re.compile(r"^Segment 2 at "))
    segment.fill("The biggest mistake is a slow start, said Grace.")
    editor.scroll_into_view_if_needed()
    user.shoot("caption-editor")
    editor.get_by_role("button", name="Re-render").click()
    page.wait_for_url(lambda url: url != first_run and "/runs/run_" in url)
    page.get_by_text("A re-render of").wait_for()
    wait_until_done(page)
    components = page.locator(".components-progress").inner_text()
    assert "Edited" in components, "the transcript is edited, not transcribed again"
    page.locator("#clips-heading").wait_for()
    fixed = page.get_by_role("form", name="Fix captions and clips").get_by_label(
        re.compile(r"^Segment 2 at ")
    )
    assert fixed.input_value() == "The biggest mistake is a slow start, said Grace."

    # A webhook channel, made through the API, pointing at a real receiver.
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    with Receiver(secret) as receiver, httpx.Client(base_url=server) as api:
        login = api.post("/v1/auth/login", json={"email": "grace@example.com", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        made = api.post(
            "/v1/channels/webhook",
            headers=headers,
            json={"name": "Grace's hook", "url": receiver.url, "signing_secret": secret},
        )
        assert made.status_code == 201, made.text

        page.reload()
        panel = page.get_by_role("form", name="Schedule a clip")
        panel.wait_for(timeout=RUN_TIMEOUT_MS)
        panel.get_by_label("Clip", exact=True).select_option(label="Clip 1, 9:16")
        panel.get_by_label("Channel").select_option(label="Grace's hook (webhook)")
        panel.get_by_label("Title").fill("A slow start, fixed")
        panel.get_by_role("button", name="Schedule").click()
        published = page.locator(".publication[data-status='published']")
        published.wait_for(timeout=60_000)
        assert "A slow start, fixed" in published.inner_text() and "Grace's hook" in published.inner_text()
        page.get_by_role("heading", name="Schedule").scroll_into_view_if_needed()
        user.shoot("schedule-panel")
        deliveries = [d for d in receiver.received if d["valid"]]
        assert deliveries, "the receiver got a signed delivery"
        assert "A slow start, fixed" in json.dumps(deliveries[-1]["json"])
