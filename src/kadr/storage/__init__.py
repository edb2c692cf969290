"""Object storage: one protocol, local-directory and S3 backends."""

from kadr.storage.base import ObjectInfo, ObjectNotFound, ObjectWriter, PresignNotSupported, Storage
from kadr.storage.factory import get_storage, storage_from_url

__all__ = [
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectWriter",
    "PresignNotSupported",
    "Storage",
    "get_storage",
    "storage_from_url",
]
