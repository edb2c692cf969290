"""The Telegram Bot API client against the stand-in Bot API server, over real HTTP."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kadr.providers.telegram import (
    CAPTION_LIMIT,
    TELEGRAM_MAX_UPLOAD_BYTES,
    FileTooLarge,
    TelegramClient,
    TelegramError,
    TelegramPermanentError,
    TelegramRetryAfter,
    TelegramTransientError,
    message_url,
)
from tests.support.process import free_port
from tests.support.telegram import FakeTelegram

pytestmark = pytest.mark.anyio

TOKEN = "123456:TEST-token"
CHANNEL = -1001234567890


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(bot_token=TOKEN) as server:
        server.add_chat(CHANNEL, "kadr clips", type="channel", username="kadr_clips")
        yield server


def client_for(telegram: FakeTelegram, token: str = TOKEN, **kwargs: object) -> TelegramClient:
    return TelegramClient(token, api_url=telegram.api_url, **kwargs)  # type: ignore[arg-type]


def make_video(path: Path, size: int = 300_000) -> Path:
    path.write_bytes(os.urandom(size))
    return path


async def test_get_me_and_get_chat(telegram: FakeTelegram) -> None:
    async with client_for(telegram) as client:
        me = await client.get_me()
        chat = await client.get_chat(CHANNEL)
        by_name = await client.get_chat("@kadr_clips")
    assert me["is_bot"] is True and me["id"] == 123456
    assert chat["id"] == CHANNEL and chat["title"] == "kadr clips" and chat["type"] == "channel"
    assert by_name["id"] == CHANNEL


async def test_send_video_arrives_intact(telegram: FakeTelegram, tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4")
    async with client_for(telegram) as client:
        message = await client.send_video(
            CHANNEL, video, caption="A clip", width=1080, height=1920, duration=12
        )
    assert message["chat"]["id"] == CHANNEL
    assert message["video"]["file_size"] == video.stat().st_size
    assert (message["video"]["width"], message["video"]["height"], message["video"]["duration"]) == (
        1080,
        1920,
        12,
    )
    [sent] = telegram.messages
    assert sent["method"] == "sendVideo" and sent["chat_id"] == CHANNEL
    assert sent["caption"] == "A clip"
    assert sent["size"] == video.stat().st_size
    assert sent["sha256"] == hashlib.sha256(video.read_bytes()).hexdigest()
    assert sent["supports_streaming"] is True
    assert message_url(message["chat"], message["message_id"]) == (
        f"https://t.me/kadr_clips/{message['message_id']}"
    )


async def test_send_video_with_thumbnail(telegram: FakeTelegram, tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4", 10_000)
    thumb = make_video(tmp_path / "thumb.jpg", 2_000)
    async with client_for(telegram) as client:
        await client.send_video(CHANNEL, video, thumbnail=thumb)
    assert telegram.messages[0]["thumbnail_size"] == 2_000


async def test_long_captions_are_truncated_with_an_ellipsis(telegram: FakeTelegram, tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4", 1000)
    async with client_for(telegram) as client:
        await client.send_video(CHANNEL, video, caption="word " * 400)
        await client.send_video(CHANNEL, video, caption="😀" * 1000)  # 2 UTF-16 units each
    plain, emoji = (message["caption"] for message in telegram.messages)
    assert len(plain) <= CAPTION_LIMIT and plain.endswith("…") and plain.startswith("word word")
    assert len(emoji.encode("utf-16-le")) // 2 <= CAPTION_LIMIT and emoji.endswith("…")


async def test_send_message(telegram: FakeTelegram) -> None:
    async with client_for(telegram) as client:
        message = await client.send_message(CHANNEL, "Published: https://example.com/v/1")
    assert message["text"] == "Published: https://example.com/v/1"
    assert telegram.messages[0]["text"] == "Published: https://example.com/v/1"


async def test_429_is_retry_after_with_the_delay(telegram: FakeTelegram) -> None:
    telegram.rate_limit_next(2, retry_after=7)
    async with client_for(telegram) as client:
        for _ in range(2):
            with pytest.raises(TelegramRetryAfter) as caught:
                await client.send_message(CHANNEL, "hello")
            assert caught.value.retry_after == 7
            assert caught.value.error_code == 429 and caught.value.status == 429
        await client.send_message(CHANNEL, "hello")  # the limit has passed
    assert len(telegram.messages) == 1


async def test_a_rate_limited_upload_reads_the_answer(telegram: FakeTelegram, tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4", 2_000_000)
    telegram.rate_limit_next(1, retry_after=3)
    async with client_for(telegram) as client:
        with pytest.raises(TelegramRetryAfter) as caught:
            await client.send_video(CHANNEL, video)
    assert caught.value.retry_after == 3


async def test_a_wrong_token_is_permanent_and_not_in_the_message(telegram: FakeTelegram) -> None:
    secret_token = "999999:WRONG-secret-token-abcdefghijkl"
    async with client_for(telegram, token=secret_token) as client:
        with pytest.raises(TelegramPermanentError) as caught:
            await client.get_me()
    assert caught.value.status == 401 and caught.value.error_code == 401
    assert "Unauthorized" in caught.value.description
    assert str(caught.value).startswith("Telegram getMe: Unauthorized")
    assert "WRONG-secret" not in str(caught.value) and "WRONG-secret" not in repr(caught.value.args)


async def test_chat_not_found_is_permanent(telegram: FakeTelegram, tmp_path: Path) -> None:
    async with client_for(telegram) as client:
        with pytest.raises(TelegramPermanentError) as caught:
            await client.get_chat(-100999)
        assert caught.value.error_code == 400 and "chat not found" in caught.value.description
        with pytest.raises(TelegramPermanentError, match="chat not found"):
            await client.send_video(-100999, make_video(tmp_path / "clip.mp4", 100))


async def test_a_blocked_bot_is_permanent(telegram: FakeTelegram) -> None:
    telegram.block(CHANNEL, "Forbidden: bot was kicked from the channel chat")
    async with client_for(telegram) as client:
        with pytest.raises(TelegramPermanentError) as caught:
            await client.send_message(CHANNEL, "hello")
    assert caught.value.error_code == 403


async def test_server_errors_are_transient(telegram: FakeTelegram) -> None:
    telegram.fail_next(1, status=502)
    async with client_for(telegram) as client:
        with pytest.raises(TelegramTransientError) as caught:
            await client.send_message(CHANNEL, "hello")
        assert caught.value.status == 502
        await client.send_message(CHANNEL, "hello")


async def test_an_unreachable_api_is_transient_and_hides_the_token() -> None:
    token = "424242:SECRET-token-that-must-not-leak"
    async with TelegramClient(token, api_url=f"http://127.0.0.1:{free_port()}") as client:
        with pytest.raises(TelegramTransientError) as caught:
            await client.get_me()
    assert "SECRET-token" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_a_timeout_is_transient(tmp_path: Path) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(hang))
    async with http, TelegramClient(TOKEN, http=http) as client:
        with pytest.raises(TelegramTransientError, match="timed out"):
            await client.send_message(1, "hi")


async def test_a_file_over_the_limit_is_refused_before_sending(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    big = tmp_path / "big.mp4"
    with big.open("wb") as sparse:  # a sparse file: no 50 MB of real data on disk
        sparse.truncate(TELEGRAM_MAX_UPLOAD_BYTES + 1)
    async with client_for(telegram) as client:
        with pytest.raises(FileTooLarge) as caught:
            await client.send_video(CHANNEL, big)
    assert isinstance(caught.value, TelegramPermanentError)
    assert "50.0 MB" in str(caught.value) and str(TELEGRAM_MAX_UPLOAD_BYTES + 1) in str(caught.value)
    assert caught.value.size == TELEGRAM_MAX_UPLOAD_BYTES + 1
    assert telegram.requests == []  # nothing reached the server


async def test_413_from_the_server_is_permanent(tmp_path: Path) -> None:
    with FakeTelegram(bot_token=TOKEN, max_upload_bytes=100_000) as small:
        small.add_chat(CHANNEL, "kadr clips")
        video = make_video(tmp_path / "clip.mp4", 400_000)
        async with client_for(small) as client:  # the client's own limit is the real 50 MB
            with pytest.raises(TelegramPermanentError) as caught:
                await client.send_video(CHANNEL, video)
    assert caught.value.error_code == 413 and not isinstance(caught.value, FileTooLarge)


def test_error_hierarchy() -> None:
    for cls in (TelegramRetryAfter, TelegramTransientError, TelegramPermanentError, FileTooLarge):
        assert issubclass(cls, TelegramError)
    assert not issubclass(TelegramRetryAfter, TelegramPermanentError)


def test_message_urls() -> None:
    assert message_url({"id": -1001234567890, "type": "channel", "username": "news"}, 5) == (
        "https://t.me/news/5"
    )
    assert message_url({"id": -1001234567890, "type": "channel"}, 5) == "https://t.me/c/1234567890/5"
    assert message_url({"id": -1001234567890, "type": "supergroup"}, 7) == "https://t.me/c/1234567890/7"
    assert message_url({"id": 42, "type": "private", "first_name": "Ann"}, 5) is None
    assert message_url({"id": -42, "type": "group", "title": "old group"}, 5) is None
