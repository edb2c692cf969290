"""The admin view in a real browser: a user made administrator with `kadr admin grant` sees the
queues, the embedded worker alive, and a dead job (a webhook that always answers 500) with its
error, requeues it and discards it; anyone else gets the 404 page at /admin."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api import PASSWORD
from tests.support.browser import ACCESS_TOKEN_TTL_SECONDS
from tests.support.process import kadr_command, kadr_env, kadr_up
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("web-admin") / "var"


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    """`kadr up` whose jobs give up after two quick attempts, so a job dies within seconds."""
    settings = {
        "access_token_ttl_seconds": ACCESS_TOKEN_TTL_SECONDS,
        "llm_engine": "off",
        "allowed_private_hosts": json.dumps(["127.0.0.1"]),
        "job_max_attempts": 2,
        "job_backoff_base_seconds": 0.2,
        "job_backoff_max_seconds": 0.5,
    }
    with kadr_up(data_dir, data_dir.parent / "kadr.log", **settings) as (base_url, _process):
        yield base_url


def a_dead_publication(server: str, receiver: Receiver, email: str) -> None:
    """A publication to a webhook that always fails: its job dies after its attempts."""
    with httpx.Client(base_url=server) as api:
        token = api.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        video = api.post("/v1/videos", headers=headers, files={"file": ("v.mp4", _talk_bytes(), "video/mp4")})
        assert video.status_code == 201, video.text
        channel = api.post(
            "/v1/channels/webhook",
            headers=headers,
            json={"name": "Broken hook", "url": receiver.url, "signing_secret": receiver.secret},
        ).json()
        made = api.post(
            "/v1/publications",
            headers=headers,
            json={"channel_id": channel["id"], "video_id": video.json()["id"], "title": "Never arrives"},
        )
        assert made.status_code == 201, made.text


def _talk_bytes() -> bytes:
    from tests.conftest import DATA_DIR

    return (DATA_DIR / "talk.mp4").read_bytes()


def test_an_administrator_sees_queues_workers_and_dead_jobs(pages: Any, server: str, data_dir: Path) -> None:
    someone = pages()
    someone.sign_up("visitor@example.com", "Visitor")
    someone.page.goto("/admin")
    someone.expect_heading("Page not found")
    assert someone.page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").count() == 0

    admin = pages()
    admin.sign_up("root@example.com", "Root")
    granted = subprocess.run(
        kadr_command("admin", "grant", "root@example.com"),
        env=kadr_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert granted.returncode == 0, granted.stderr
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    with Receiver(secret) as receiver:
        receiver.status = 500
        a_dead_publication(server, receiver, "root@example.com")
        a_dead_publication(server, receiver, "root@example.com")
        page = admin.page
        admin.page.wait_for_timeout(5500)  # the session's cached credentials learn of the grant
        page.goto("/admin")
        admin.expect_heading("Admin")
        assert page.locator("[data-queue='publish']").count() == 1
        assert "Alive" in page.get_by_role("region", name="Workers").inner_text()
        for _ in range(60):
            if page.locator("tr[data-job]").count() == 2:
                break
            page.wait_for_timeout(1000)
            page.reload()
            admin.expect_heading("Admin")
        row = page.locator("tr[data-job]").first
        assert "publication" in row.inner_text() and "2 of 2" in row.inner_text()
        assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").is_visible()
        admin.shoot("admin")
        row.get_by_role("button", name="Requeue").click()
        page.get_by_text("is queued again").wait_for()
        # (The requeued job may already have died again: its webhook still answers 500.)
        page.locator("tr[data-job]").first.get_by_role("button", name="Discard").click()
        page.get_by_text("was discarded").wait_for()
        assert page.locator("tr[data-job]").count() <= 1
