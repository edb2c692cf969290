"""Scenarios in a real browser: the empty list, generation refused in words on a server without a
language model (501), a scenario written by hand with the timing checked as it is typed, the
API's own 422 on a save that does not add up, a new version saved, a 409 when someone saved in
between, and a read-only link made, copied, opened without an account and revoked."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import api_as

pytestmark = pytest.mark.slow

EMAIL = "writer@example.com"


def timing(page: Any) -> Any:
    return page.locator(".timing-summary")


def test_write_check_save_and_share_a_scenario(pages: Any, browser: Any, server: str) -> None:
    user = pages()
    page = user.page
    user.sign_up(EMAIL, "Wren")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Scenarios").click()
    user.expect_heading("Scenarios")
    assert "No scenarios yet" in page.locator("main").inner_text()
    assert "No finished runs yet" in page.locator("main").inner_text()

    # No language model on this server: the API's 501 reason, in words, where the user asked.
    page.get_by_label("Topic").fill("Why cats sleep all day")
    page.get_by_role("button", name="Write it").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("kadr cannot write scenarios on this server")
    expect(refusal).to_contain_text("no language model (KADR_LLM_ENGINE=off)")
    user.shoot("scenarios-empty")

    page.get_by_role("link", name="New scenario").click()
    user.expect_heading("New scenario")
    page.get_by_label("Title").fill("Why cats sleep")
    page.get_by_label("Target duration (seconds)").fill("30")
    # One scene of 60 s for a 30 s target: the check says so while the user types.
    expect(timing(page)).to_contain_text("more than the 33 s a 30 s target allows")
    page.get_by_label("Duration (seconds)", exact=True).fill("12")
    expect(timing(page)).to_contain_text("short of the 27 s")
    page.get_by_label("Narration").fill("Cats sleep up to sixteen hours a day.")
    page.get_by_role("button", name="Add a scene").click()
    second = page.locator(".scene").nth(1)
    second.get_by_label("Duration (seconds)", exact=True).fill("3")
    wordy = "They hunt at dawn and dusk, so the day is for rest and saving energy."
    second.get_by_label("Narration").fill(wordy)
    expect(second.locator(".scene-check")).to_contain_text("15 words; 3 s hold at most 8.")
    expect(timing(page)).to_contain_text("Scene 2 says more than its time holds.")
    second.get_by_label("Duration (seconds)", exact=True).fill("18")
    within = "The scenes last 30 s in all, within the 30 s target (27 s\N{EN DASH}33 s allowed)."
    expect(timing(page)).to_contain_text(within)
    assert "Scene 2 says" not in timing(page).inner_text()
    page.get_by_role("button", name="Create scenario").click()
    page.wait_for_url(re.compile(r"/scenarios/scn_[^/?]+\?created=1$"))
    user.expect_heading("Why cats sleep")
    expect(page.get_by_role("status").filter(has_text="Created.")).to_be_visible()
    scenario_id = page.url.split("/scenarios/")[1].split("?")[0]

    # What the page lets through, the API still checks: its 422 names the scene.
    page.locator(".scene").first.get_by_label("Duration (seconds)", exact=True).fill("40")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_role("alert")).to_contain_text("Not saved: the scenes last 58 s in all")
    expect(page.locator(".scene").first.locator("p.error")).to_contain_text("scene 1 is the longest")
    page.locator(".scene").first.get_by_label("Duration (seconds)", exact=True).fill("14")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_role("status").filter(has_text="Saved as version 2.")).to_be_visible()
    expect(page.locator(".scene p.error:visible")).to_have_count(0)
    user.shoot("scenario-editor")

    # Someone else saves version 3 meanwhile: this page's save (from version 2) is a 409, in words.
    with api_as(server, EMAIL) as api:
        stored = api.get(f"/v1/scenarios/{scenario_id}").json()
        kept = ("title", "logline", "platform", "target_duration_s", "scenes")
        content = {key: stored[key] for key in kept}
        assert api.put(f"/v1/scenarios/{scenario_id}", json={**content, "base_version": 2}).status_code == 200
    page.get_by_label("Hook").fill("Ever wondered why?")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_role("alert")).to_contain_text("Someone saved a newer version while you were editing")

    # A read-only link: shown once, copied, opened without an account, revoked.
    user.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page.get_by_role("button", name="Create a read-only link").click()
    link = page.get_by_label("Share link").input_value()
    assert link.startswith(f"{server}/shared/scenarios/")
    page.locator(".secret-box").get_by_role("button", name="Copy").click()
    expect(page.locator(".secret-box").get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == link
    expect(page.locator("#share-heading ~ * tbody tr")).to_have_count(1)
    assert "Anyone with the link" in page.locator("#share-heading").locator("..").inner_text()

    stranger = pages()
    stranger.page.goto(link)
    stranger.expect_heading("Why cats sleep")
    assert "Cats sleep up to sixteen hours a day." in stranger.page.locator("main").inner_text()
    stranger.shoot("scenario-shared")

    revoke = page.get_by_role("button", name="Revoke the share with Anyone with the link")
    revoke.click()
    page.get_by_role("button", name="Press again to revoke").click()
    expect(page.locator("#share-heading").locator("..").locator("tbody")).to_contain_text("revoked")
    stranger.page.reload()
    stranger.expect_heading("This link opens nothing")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Scenarios").click()
    user.expect_heading("Scenarios")
    row = page.locator("tbody tr", has_text="Why cats sleep")
    expect(row).to_contain_text("Ready")
    expect(row).to_contain_text("yours")
    user.shoot("scenarios")
