"""Languages in the browser: a run that translates and dubs is started with its languages ticked
and a voice chosen per language, stops for a review where each translation stands beside the
words it translates, goes on with the person's edit, and ends with the dubbed video and a
switch between its dubs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import DATA_DIR
from tests.support.browser import RUN_TIMEOUT_MS, api_as

pytestmark = pytest.mark.slow

EDITED = "Hola desde la revisión de kadr."


def test_translate_dub_review_and_switch_dubs(pages: Any, server: str) -> None:
    from playwright.sync_api import expect

    user = pages()
    page = user.page
    user.sign_up("lena@example.com", "Lena")
    with api_as(server, "lena@example.com") as client, (DATA_DIR / "talk.mp4").open("rb") as talk:
        video = client.post("/v1/videos", files={"file": ("talk.mp4", talk, "video/mp4")}).json()

    page.goto(f"/videos/{video['id']}/runs/new")
    user.expect_heading("Start a run")
    page.get_by_label("dub", exact=True).check()
    page.locator("summary", has_text=re.compile(r"^translate")).click()
    languages = page.locator('[data-name="translate.languages"]')
    languages.get_by_label("ru", exact=True).uncheck()  # the profile's; Apertium has en-es
    languages.get_by_label("es", exact=True).check()
    assert languages.get_by_label("en", exact=True).is_checked()
    page.locator('[name="translate.engine"]').fill("apertium")
    page.locator("summary", has_text=re.compile(r"^dub")).click()
    page.get_by_label("Voice for es").select_option("espeak:es")
    assert "piper:en_US-joe-medium" in page.get_by_label("Voice for en").inner_text(), "the voices for en"
    page.locator(".review-choices").get_by_label("translate").check()
    user.shoot("new-run-languages")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(r"/runs/run_[^/]+$"))
    run_path = page.url.removeprefix(server)

    # It stops after translate and says so; the review shows each cue beside its original.
    page.locator(".badge-awaiting_review").first.wait_for(timeout=RUN_TIMEOUT_MS)
    page.get_by_role("link", name="Review").click()
    user.expect_heading("Review the translations")
    spanish = page.get_by_role("form", name="Translation into es")
    assert spanish.locator(".review-source").first.inner_text().strip(), "the English beside the Spanish"
    spanish.get_by_label(re.compile(r"cue 1,")).fill(EDITED)
    user.shoot("review")
    spanish.get_by_role("button", name="Save Translation into es").click()
    expect(spanish.locator(".success")).to_contain_text("translations/es/subtitles.srt")
    spanish.get_by_label(re.compile(r"cue 2,")).fill("")
    spanish.get_by_role("button", name="Save Translation into es").click()
    expect(spanish.locator(".error")).to_contain_text("cues[1].text must be non-empty text")
    page.get_by_role("button", name="Go on with the run").click()
    page.wait_for_url(f"**{run_path}")

    # The dubbed video, with a switch between its dubs; the subtitles carry the edit.
    sound = page.get_by_label("Sound")
    sound.wait_for(timeout=RUN_TIMEOUT_MS)
    player = page.get_by_label("The dubbed video")
    duration = lambda: page.evaluate("(v) => v.duration", player.element_handle())  # noqa: E731
    page.wait_for_function("(v) => v.duration > 0", arg=player.element_handle())
    assert sound.input_value() == "es", "English is the talk's own language: no dub of it"
    # The original sound is the dub's second track (Chromium switches tracks with the
    # AudioVideoTracks feature the tests' browser turns on; without it the page says to download).
    sound.select_option(label="Original sound")
    page.wait_for_function(
        "(v) => v.audioTracks.length === 2 && v.audioTracks[1].enabled && !v.audioTracks[0].enabled",
        arg=player.element_handle(),
    )
    sound.select_option("es")
    page.wait_for_function("(v) => v.audioTracks[0].enabled", arg=player.element_handle())
    assert duration() == pytest.approx(57, abs=2), "the whole video, dubbed"
    user.shoot("run-languages")
    with api_as(server, "lena@example.com") as client:
        run_id = run_path.rsplit("/", 1)[-1]
        listed = client.get(f"/v1/runs/{run_id}/artifacts").json()
        srt = next(a for a in listed if a["name"] == "translations/es/subtitles.srt")
        assert EDITED in client.get(f"/v1/artifacts/{srt['id']}/content").text
