"""Object storage in a local directory (embedded mode). Writes are atomic: temp file + rename."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from kadr.storage.base import ObjectInfo, ObjectNotFound, PresignNotSupported


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _LocalWriter:
    def __init__(self, storage: LocalStorage, key: str) -> None:
        self._target = storage._path(key)
        self._target.parent.mkdir(parents=True, exist_ok=True)
        self._key = key
        handle, name = tempfile.mkstemp(dir=self._target.parent, prefix=".tmp-", suffix=".part")
        self._temp = Path(name)
        self._file = os.fdopen(handle, "wb")

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)

    def commit(self) -> ObjectInfo:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._temp, self._target)
        _fsync_dir(self._target.parent)
        return ObjectInfo(self._key, self._target.stat().st_size)

    def abort(self) -> None:
        self._file.close()
        self._temp.unlink(missing_ok=True)


class LocalStorage:
    """Objects are files under `root`; keys are validated so none can escape it."""

    supports_presigned = False

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key:
            raise ValueError(f"invalid storage key {key!r}")
        return self.root.joinpath(*parts)

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> ObjectInfo:
        writer = _LocalWriter(self, key)
        try:
            with Path(path).open("rb") as source:
                shutil.copyfileobj(source, writer._file, 1024 * 1024)
        except BaseException:
            writer.abort()
            raise
        return writer.commit()

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo:
        writer = self.open_writer(key, content_type)
        try:
            writer.write(data)
        except BaseException:
            writer.abort()
            raise
        return writer.commit()

    def open_writer(self, key: str, content_type: str | None = None) -> _LocalWriter:
        return _LocalWriter(self, key)

    def get_file(self, key: str, path: Path) -> None:
        source = self._existing(key)
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        shutil.copyfile(source, partial)
        os.replace(partial, target)

    def get_bytes(self, key: str) -> bytes:
        return self._existing(key).read_bytes()

    def open_read(self, key: str) -> BinaryIO:
        return self._existing(key).open("rb")

    def stat(self, key: str) -> ObjectInfo:
        return ObjectInfo(key, self._existing(key).stat().st_size)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        self._prune_empty_parents(path.parent)

    def delete_prefix(self, prefix: str) -> int:
        count = 0
        for info in list(self.list_objects(prefix)):
            self.delete(info.key)
            count += 1
        return count

    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        base = self.root
        for path in sorted(base.rglob("*")):
            if not path.is_file() or path.name.startswith(".tmp-"):
                continue
            key = path.relative_to(base).as_posix()
            if key.startswith(prefix):
                yield ObjectInfo(key, path.stat().st_size)

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    def presigned_get(self, key: str, expires_seconds: int = 3600, filename: str | None = None) -> str:
        raise PresignNotSupported("local storage has no presigned URLs; the API serves the bytes")

    def presigned_put(self, key: str, expires_seconds: int = 3600, content_type: str | None = None) -> str:
        raise PresignNotSupported("local storage has no presigned URLs; the API receives the bytes")

    def create_multipart_upload(self, key: str, content_type: str | None = None) -> str:
        raise PresignNotSupported("local storage has no multipart uploads")

    def presigned_upload_part(
        self, key: str, upload_id: str, part_number: int, expires_seconds: int = 3600
    ) -> str:
        raise PresignNotSupported("local storage has no multipart uploads")

    def complete_multipart_upload(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> ObjectInfo:
        raise PresignNotSupported("local storage has no multipart uploads")

    def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        raise PresignNotSupported("local storage has no multipart uploads")

    def ping(self) -> None:
        probe = self.root / ".ping"
        probe.write_bytes(b"ok")
        probe.unlink()

    def _existing(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        return path

    def _prune_empty_parents(self, folder: Path) -> None:
        while folder != self.root and folder.is_dir():
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent
