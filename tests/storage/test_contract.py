"""The storage contract, the same on the local and the S3 backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kadr.storage import ObjectNotFound, Storage


def test_bytes_and_files_round_trip(storage: Storage, tmp_path: Path) -> None:
    info = storage.put_bytes("runs/r1/transcript.json", b'{"text": "hi"}', "application/json")
    assert info.size == 14
    assert storage.get_bytes("runs/r1/transcript.json") == b'{"text": "hi"}'
    source = tmp_path / "clip.mp4"
    source.write_bytes(os.urandom(300_000))
    storage.put_file("runs/r1/clips/clip.mp4", source, "video/mp4")
    storage.get_file("runs/r1/clips/clip.mp4", tmp_path / "back" / "clip.mp4")
    assert (tmp_path / "back" / "clip.mp4").read_bytes() == source.read_bytes()
    with storage.open_read("runs/r1/clips/clip.mp4") as stream:
        assert stream.read(10) == source.read_bytes()[:10]
    assert storage.stat("runs/r1/clips/clip.mp4").size == 300_000


def test_streaming_writer_commits_atomically_and_aborts_cleanly(storage: Storage) -> None:
    payload = os.urandom(1024 * 1024)
    writer = storage.open_writer("videos/v1/source.mp4", "video/mp4")
    for _ in range(20):  # 20 MiB: more than one S3 part
        writer.write(payload)
    assert not storage.exists("videos/v1/source.mp4"), "nothing is visible before commit"
    assert writer.commit().size == 20 * len(payload)
    assert storage.stat("videos/v1/source.mp4").size == 20 * len(payload)
    with storage.open_read("videos/v1/source.mp4") as stream:
        assert stream.read(len(payload)) == payload

    aborted = storage.open_writer("videos/v2/source.mp4")
    aborted.write(payload)
    aborted.abort()
    assert not storage.exists("videos/v2/source.mp4")
    assert [o.key for o in storage.list_objects("videos/")] == ["videos/v1/source.mp4"]


def test_overwrite_replaces_the_whole_object(storage: Storage) -> None:
    storage.put_bytes("runs/r1/manifest.json", b"first version, longer than the second")
    storage.put_bytes("runs/r1/manifest.json", b"second")
    assert storage.get_bytes("runs/r1/manifest.json") == b"second"


def test_missing_objects(storage: Storage, tmp_path: Path) -> None:
    assert not storage.exists("nope/x")
    for call in (
        lambda: storage.get_bytes("nope/x"),
        lambda: storage.stat("nope/x"),
        lambda: storage.get_file("nope/x", tmp_path / "x"),
    ):
        with pytest.raises(ObjectNotFound):
            call()
    assert not (tmp_path / "x").exists()
    storage.delete("nope/x")  # deleting what is not there is fine


def test_list_delete_and_delete_prefix(storage: Storage) -> None:
    for key in ("runs/a/1.json", "runs/a/sub/2.json", "runs/b/3.json", "videos/v/source.mp4"):
        storage.put_bytes(key, key.encode())
    assert [o.key for o in storage.list_objects("runs/a/")] == ["runs/a/1.json", "runs/a/sub/2.json"]
    assert storage.delete_prefix("runs/a/") == 2
    assert [o.key for o in storage.list_objects("runs/")] == ["runs/b/3.json"]
    storage.delete("runs/b/3.json")
    assert not storage.exists("runs/b/3.json")
    storage.ping()


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../outside", "runs/../../x"])
def test_keys_cannot_escape(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError):
        storage.put_bytes(key, b"x")
