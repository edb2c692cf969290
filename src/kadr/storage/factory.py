"""Choose the storage backend from `KADR_STORAGE_URL`; one instance per URL per process."""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

from kadr.config import Settings
from kadr.storage.base import Storage

_lock = threading.Lock()
_instances: dict[str, Storage] = {}


def storage_from_url(url: str) -> Storage:
    scheme = urlsplit(url).scheme
    if scheme == "file":
        from kadr.storage.local import LocalStorage

        return LocalStorage(Path(unquote(urlsplit(url).path)))
    if scheme == "s3":
        from kadr.storage.s3 import S3Storage

        return S3Storage.from_url(url)
    raise ValueError(f"unsupported KADR_STORAGE_URL {url!r}: use file:///path or s3://bucket?endpoint=…")


def get_storage(settings: Settings) -> Storage:
    url = settings.resolved_storage_url
    with _lock:
        storage = _instances.get(url)
        if storage is None:
            storage = storage_from_url(url)
            _instances[url] = storage
        return storage
