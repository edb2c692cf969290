"""The browser and the server every web test file drives: one chromium and one `kadr up` per test
module, with access tokens short enough that every test outlives them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import ACCESS_TOKEN_TTL_SECONDS, CHROMIUM, Pages, missing
from tests.support.process import kadr_up


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        missing(f"{CHROMIUM} is missing (apt-get install chromium, or `make test` as root)")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium's sandbox refuses root
    args.append("--enable-blink-features=AudioVideoTracks")  # a dub's sound-track switch
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server_settings() -> dict[str, object]:
    """More `kadr up` settings: a test module overrides this to point kadr at stand-ins."""
    return {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, server_settings: dict[str, object]) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("web")
    settings = {
        "access_token_ttl_seconds": ACCESS_TOKEN_TTL_SECONDS,
        "llm_engine": "off",
        **server_settings,
    }
    with kadr_up(folder / "var", folder / "kadr.log", **settings) as (base_url, _process):
        yield base_url


@pytest.fixture(scope="module")
def shared() -> dict[str, str]:
    """What one test leaves for the next (the first user's run)."""
    return {}


@pytest.fixture
def pages(browser: Any, server: str) -> Iterator[Any]:
    opened: list[Pages] = []

    def open_pages() -> Pages:
        opened.append(Pages(browser, server))
        return opened[-1]

    yield open_pages
    for each in opened:
        each.close()
