"""The Google client against the stand-in Google server, over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from kadr.core.clock import utcnow
from kadr.providers.google import (
    CHUNK_UNIT,
    YOUTUBE_SCOPES,
    GoogleClient,
    InvalidGrant,
    PermanentGoogleError,
    QuotaExceeded,
    TokenSet,
    TransientGoogleError,
    UploadSessionGone,
    VideoMetadata,
    authorization_url,
    new_pkce_pair,
    video_url,
)
from tests.support.google import FakeGoogle
from tests.support.process import free_port

pytestmark = pytest.mark.anyio

REDIRECT = "http://127.0.0.1:8000/v1/channels/youtube/callback"
SIZE = 1_300_000 + 17  # ~1.24 MiB: five 256 KiB chunks, the last one short


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as server:
        yield server


@pytest.fixture
async def client(google: FakeGoogle) -> AsyncIterator[GoogleClient]:
    async with GoogleClient(google.config(redirect_uri=REDIRECT)) as client:
        client.backoff_base_seconds = 0.01  # keep resume tests fast; one test checks the real default
        yield client


@pytest.fixture
def video_file(tmp_path: Path) -> Path:
    path = tmp_path / "video.mp4"
    path.write_bytes(os.urandom(SIZE))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def connect(google: FakeGoogle, client: GoogleClient) -> TokenSet:
    verifier, challenge = new_pkce_pair()
    code = google.consent_code_for(authorization_url(client.config, "state-1", challenge))
    return await client.exchange_code(code, verifier)


def chunk_starts(google: FakeGoogle) -> list[int]:
    """First byte of every chunk PUT the server saw (status queries excluded)."""
    starts = []
    for entry in google.requests:
        content_range = entry["headers"].get("content-range", "")
        if entry["method"] == "PUT" and not content_range.startswith("bytes */"):
            starts.append(int(content_range.split()[1].split("-")[0]))
    return starts


def test_pkce_pair_is_s256() -> None:
    verifier, challenge = new_pkce_pair()
    assert 43 <= len(verifier) <= 128
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == expected
    assert new_pkce_pair()[0] != verifier


def test_authorization_url_asks_for_offline_consent(google: FakeGoogle) -> None:
    url = authorization_url(google.config(redirect_uri=REDIRECT), "st", "challenge")
    params = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(f"{google.url}/o/oauth2/v2/auth?")
    assert params == {
        "response_type": "code",
        "client_id": "test-client",
        "redirect_uri": REDIRECT,
        "scope": " ".join(YOUTUBE_SCOPES),
        "state": "st",
        "code_challenge": "challenge",
        "code_challenge_method": "S256",
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    }
    assert video_url("abc") == "https://www.youtube.com/watch?v=abc"


async def test_code_exchange_with_pkce(google: FakeGoogle, client: GoogleClient) -> None:
    before = utcnow()
    tokens = await connect(google, client)
    assert tokens.access_token and tokens.refresh_token
    assert tokens.scope == " ".join(YOUTUBE_SCOPES)
    assert tokens.expires_at.tzinfo is not None
    assert before + timedelta(seconds=3590) < tokens.expires_at <= utcnow() + timedelta(seconds=3600)


async def test_code_exchange_with_wrong_verifier_is_invalid_grant(
    google: FakeGoogle, client: GoogleClient
) -> None:
    _, challenge = new_pkce_pair()
    other_verifier, _ = new_pkce_pair()
    code = google.authorize("test-client", REDIRECT, challenge, " ".join(YOUTUBE_SCOPES))
    with pytest.raises(InvalidGrant) as caught:
        await client.exchange_code(code, other_verifier)
    assert caught.value.status == 400
    assert caught.value.reason == "invalid_grant"


async def test_wrong_client_secret_is_permanent(google: FakeGoogle) -> None:
    verifier, challenge = new_pkce_pair()
    code = google.authorize("test-client", REDIRECT, challenge)
    async with GoogleClient(google.config(redirect_uri=REDIRECT, client_secret="nope")) as bad:
        with pytest.raises(PermanentGoogleError) as caught:
            await bad.exchange_code(code, verifier)
    assert caught.value.reason == "invalid_client"
    assert caught.value.status == 401


async def test_refresh_and_revoked_refresh(google: FakeGoogle, client: GoogleClient) -> None:
    tokens = await connect(google, client)
    assert tokens.refresh_token is not None
    google.expire_access_tokens()
    with pytest.raises(PermanentGoogleError) as caught:
        await client.my_channel(tokens.access_token)
    assert caught.value.status == 401

    refreshed = await client.refresh(tokens.refresh_token)
    assert refreshed.refresh_token is None  # not rotated
    assert refreshed.access_token != tokens.access_token
    assert google.refresh_count == 1
    assert (await client.my_channel(refreshed.access_token))["id"].startswith("UC")

    google.revoke(tokens.refresh_token)
    with pytest.raises(InvalidGrant) as revoked:
        await client.refresh(tokens.refresh_token)
    assert "expired or revoked" in str(revoked.value)
    assert google.refresh_count == 1


async def test_my_channel(google: FakeGoogle, client: GoogleClient) -> None:
    google.set_channel("default", {"id": "UC123", "snippet": {"title": "My Films", "customUrl": "@films"}})
    tokens = await connect(google, client)
    assert await client.my_channel(tokens.access_token) == {
        "id": "UC123",
        "title": "My Films",
        "custom_url": "@films",
    }
    google.set_channel("default", None)
    with pytest.raises(PermanentGoogleError, match="no YouTube channel"):
        await client.my_channel(tokens.access_token)


async def test_resumable_upload_arrives_intact_with_metadata(
    google: FakeGoogle, client: GoogleClient, video_file: Path
) -> None:
    tokens = await connect(google, client)
    metadata = VideoMetadata(
        title="Кадр: first cut",
        description="line one\nline two",
        tags=("ai", "video"),
        privacy_status="unlisted",
        made_for_kids=True,
        notify_subscribers=False,
        category_id="27",
    )
    session = await client.create_upload_session(tokens.access_token, metadata, SIZE, "video/mp4")
    assert session.startswith(f"{google.url}/upload/youtube/v3/videos?uploadType=resumable&upload_id=")
    progress: list[tuple[int, int]] = []

    async def on_progress(received: int, total: int) -> None:
        progress.append((received, total))

    video = await client.upload(
        session,
        video_file,
        SIZE,
        access_token=tokens.access_token,
        chunk_size=CHUNK_UNIT,
        on_progress=on_progress,
    )

    assert len(google.videos) == 1
    stored = google.videos[0]
    assert video["id"] == stored["id"]
    assert stored["size"] == SIZE
    assert stored["sha256"] == sha256(video_file)
    assert stored["snippet"] == {
        "title": "Кадр: first cut",
        "description": "line one\nline two",
        "tags": ["ai", "video"],
        "categoryId": "27",
    }
    assert stored["status"] == {"privacyStatus": "unlisted", "selfDeclaredMadeForKids": True}
    assert stored["notify_subscribers"] == "false"
    assert stored["content_type"] == "video/mp4"
    assert chunk_starts(google) == [i * CHUNK_UNIT for i in range(5)]
    assert progress == [(i * CHUNK_UNIT, SIZE) for i in range(1, 5)] + [(SIZE, SIZE)]
    assert google.sessions_created == 1
    assert google.upload_units_used == 1
    create = next(r for r in google.requests if r["path"] == "/upload/youtube/v3/videos")
    assert "notifySubscribers=false" in create["query"]
    assert create["headers"]["x-upload-content-length"] == str(SIZE)
    assert create["headers"]["x-upload-content-type"] == "video/mp4"


async def test_upload_resumes_after_server_errors(
    google: FakeGoogle, client: GoogleClient, video_file: Path
) -> None:
    tokens = await connect(google, client)
    session = await client.create_upload_session(tokens.access_token, VideoMetadata("t"), SIZE, "video/mp4")
    client.backoff_base_seconds = 0.5  # the real default: 0.5 s, then 1 s
    google.fail_next_chunks(2)
    started = time.monotonic()
    video = await client.upload(session, video_file, SIZE, chunk_size=2 * CHUNK_UNIT)
    assert time.monotonic() - started >= 1.5
    assert google.videos[0]["id"] == video["id"]
    assert google.videos[0]["sha256"] == sha256(video_file)
    # Two refused attempts at byte 0, each followed by a status query, then three good chunks.
    assert chunk_starts(google) == [0, 0, 0, 2 * CHUNK_UNIT, 4 * CHUNK_UNIT]
    status_queries = [r for r in google.requests if r["headers"].get("content-range") == f"bytes */{SIZE}"]
    assert len(status_queries) == 2


async def test_upload_gives_up_after_max_resumes_and_session_stays_resumable(
    google: FakeGoogle, client: GoogleClient, video_file: Path
) -> None:
    tokens = await connect(google, client)
    session = await client.create_upload_session(tokens.access_token, VideoMetadata("t"), SIZE, "video/mp4")

    def break_after_first_chunk(received: int, total: int) -> None:
        google.fail_next_chunks(100)

    with pytest.raises(TransientGoogleError) as caught:
        await client.upload(
            session,
            video_file,
            SIZE,
            chunk_size=2 * CHUNK_UNIT,
            max_resumes=3,
            on_progress=break_after_first_chunk,
        )
    assert caught.value.status == 503
    assert "4 times in a row" in str(caught.value)
    # One good chunk, then the failed one and its 3 resumes.
    assert chunk_starts(google) == [0] + [2 * CHUNK_UNIT] * 4

    google.clear_faults()
    status = await client.upload_status(session, SIZE)
    assert status.received == 2 * CHUNK_UNIT and status.video is None
    video = await client.upload(session, video_file, SIZE, chunk_size=2 * CHUNK_UNIT, start=status.received)
    assert chunk_starts(google)[5:] == [2 * CHUNK_UNIT, 4 * CHUNK_UNIT]
    assert google.videos[0]["id"] == video["id"]
    assert google.videos[0]["sha256"] == sha256(video_file)
    assert google.sessions_created == 1


async def test_upload_continues_from_what_the_server_kept(
    google: FakeGoogle, client: GoogleClient, video_file: Path
) -> None:
    tokens = await connect(google, client)
    session = await client.create_upload_session(tokens.access_token, VideoMetadata("t"), SIZE, "video/mp4")
    google.keep_partial_next_chunk(100_000)
    video = await client.upload(session, video_file, SIZE, chunk_size=2 * CHUNK_UNIT)
    assert google.videos[0]["id"] == video["id"]
    assert google.videos[0]["sha256"] == sha256(video_file)
    starts = chunk_starts(google)
    assert starts[:3] == [0, 100_000, 100_000 + 2 * CHUNK_UNIT]
    assert len(google.videos) == 1


async def test_upload_status_then_finish_from_received(
    google: FakeGoogle, client: GoogleClient, video_file: Path
) -> None:
    tokens = await connect(google, client)
    session = await client.create_upload_session(tokens.access_token, VideoMetadata("t"), SIZE, "video/mp4")
    fresh = await client.upload_status(session, SIZE, tokens.access_token)
    assert fresh.received == 0 and fresh.video is None

    class WorkerDied(Exception):
        pass

    def die_after_two_chunks(received: int, total: int) -> None:
        if received >= 2 * CHUNK_UNIT:
            raise WorkerDied

    with pytest.raises(WorkerDied):
        await client.upload(
            session, video_file, SIZE, chunk_size=CHUNK_UNIT, on_progress=die_after_two_chunks
        )

    status = await client.upload_status(session, SIZE)
    assert status.received == 2 * CHUNK_UNIT and status.video is None
    video = await client.upload(session, video_file, SIZE, chunk_size=CHUNK_UNIT, start=status.received)
    assert chunk_starts(google) == [i * CHUNK_UNIT for i in range(5)]
    assert google.videos[0]["sha256"] == sha256(video_file)

    done = await client.upload_status(session, SIZE)
    assert done.received == SIZE and done.video is not None and done.video["id"] == video["id"]
    # Uploading again to a finished session returns the same video instead of creating another.
    again = await client.upload(session, video_file, SIZE, chunk_size=CHUNK_UNIT, start=SIZE)
    assert again["id"] == video["id"]
    assert len(google.videos) == 1


async def test_quota_exceeded(google: FakeGoogle, client: GoogleClient) -> None:
    tokens = await connect(google, client)
    google.quota_exceeded = True
    with pytest.raises(QuotaExceeded) as caught:
        await client.create_upload_session(tokens.access_token, VideoMetadata("t"), SIZE, "video/mp4")
    assert caught.value.status == 403
    assert caught.value.reason == "quotaExceeded"
    assert "exceeded your quota" in str(caught.value)
    assert google.sessions_created == 0


async def test_unknown_session_is_gone(google: FakeGoogle, client: GoogleClient, video_file: Path) -> None:
    session = f"{google.url}/upload/youtube/v3/videos?uploadType=resumable&upload_id=expired"
    with pytest.raises(UploadSessionGone) as caught:
        await client.upload_status(session, SIZE)
    assert caught.value.status == 404
    with pytest.raises(UploadSessionGone):
        await client.upload(session, video_file, SIZE, chunk_size=CHUNK_UNIT)


async def test_chunk_size_must_be_a_multiple_of_256_kib(client: GoogleClient, video_file: Path) -> None:
    for bad in (0, -CHUNK_UNIT, 100_000, CHUNK_UNIT + 1):
        with pytest.raises(ValueError, match="multiple"):
            await client.upload("http://127.0.0.1:9/unused", video_file, SIZE, chunk_size=bad)


async def test_transport_error_is_transient(google: FakeGoogle) -> None:
    config = google.config(token_url=f"http://127.0.0.1:{free_port()}/token")
    async with GoogleClient(config) as client:
        with pytest.raises(TransientGoogleError) as caught:
            await client.refresh("1//whatever")
    assert caught.value.status is None
    assert caught.value.reason == "transport"


async def test_set_thumbnail(
    google: FakeGoogle, client: GoogleClient, video_file: Path, tmp_path: Path
) -> None:
    tokens = await connect(google, client)
    session = await client.create_upload_session(tokens.access_token, VideoMetadata("t"), SIZE, "video/mp4")
    video = await client.upload(session, video_file, SIZE, chunk_size=4 * CHUNK_UNIT)
    thumbnail = tmp_path / "thumb.jpg"
    thumbnail.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(5000))
    await client.set_thumbnail(tokens.access_token, video["id"], thumbnail)
    assert google.thumbnails == {video["id"]: thumbnail.read_bytes()}
    assert google.units_used == 50
    with pytest.raises(PermanentGoogleError) as caught:
        await client.set_thumbnail(tokens.access_token, "missing", thumbnail)
    assert caught.value.status == 404
    assert caught.value.reason == "videoNotFound"


async def test_pause_on_complete_holds_the_answer_after_recording_the_video(
    google: FakeGoogle, client: GoogleClient, video_file: Path
) -> None:
    tokens = await connect(google, client)
    session = await client.create_upload_session(tokens.access_token, VideoMetadata("t"), SIZE, "video/mp4")
    google.pause_on_complete = threading.Event()
    upload = asyncio.create_task(client.upload(session, video_file, SIZE, chunk_size=4 * CHUNK_UNIT))
    assert await asyncio.to_thread(google.completed_event.wait, 10)
    assert len(google.videos) == 1  # YouTube has the video ...
    await asyncio.sleep(0.2)
    assert not upload.done()  # ... but the uploader has not heard about it yet
    # The server keeps serving other requests meanwhile, and the session already reports the video.
    status = await client.upload_status(session, SIZE)
    assert status.video is not None and status.video["id"] == google.videos[0]["id"]
    google.pause_on_complete.set()
    video = await asyncio.wait_for(upload, 10)
    assert video["id"] == google.videos[0]["id"]
