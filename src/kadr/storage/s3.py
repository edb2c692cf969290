"""Object storage on any S3 API (AWS S3, MinIO, SeaweedFS) through boto3.

URL: `s3://bucket?endpoint=http://host:port&region=us-east-1&access_key=…&secret_key=…`
plus optional `&prefix=kadr&create_bucket=true`.
Credentials may also come from the usual AWS environment variables or config files.
Path-style addressing is used whenever an endpoint is given (MinIO, SeaweedFS).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from kadr.storage.base import ObjectInfo, ObjectNotFound

PART_SIZE = 16 * 1024 * 1024
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}


def _missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _MISSING


class _S3Writer:
    """Streams to a multipart upload in PART_SIZE parts (one PUT when small): memory stays flat."""

    def __init__(self, storage: S3Storage, key: str, content_type: str | None) -> None:
        self._storage = storage
        self._key = key
        self._content_type = content_type
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._size = 0

    def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        self._size += len(chunk)
        while len(self._buffer) >= PART_SIZE:
            self._send_part(bytes(self._buffer[:PART_SIZE]))
            del self._buffer[:PART_SIZE]

    def _send_part(self, data: bytes) -> None:
        client, bucket = self._storage.client, self._storage.bucket
        if self._upload_id is None:
            self._upload_id = self._storage.create_multipart_upload(self._key, self._content_type)
        number = len(self._parts) + 1
        response = client.upload_part(
            Bucket=bucket,
            Key=self._storage.full_key(self._key),
            UploadId=self._upload_id,
            PartNumber=number,
            Body=data,
        )
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})

    def commit(self) -> ObjectInfo:
        if self._upload_id is None:
            self._storage.put_bytes(self._key, bytes(self._buffer), self._content_type)
            return ObjectInfo(self._key, self._size)
        if self._buffer:
            self._send_part(bytes(self._buffer))
            self._buffer.clear()
        self._storage.client.complete_multipart_upload(
            Bucket=self._storage.bucket,
            Key=self._storage.full_key(self._key),
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
        return ObjectInfo(self._key, self._size)

    def abort(self) -> None:
        if self._upload_id is not None:
            self._storage.abort_multipart_upload(self._key, self._upload_id)
        self._buffer.clear()


class S3Storage:
    supports_presigned = True

    def __init__(
        self,
        bucket: str,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        prefix: str = "",
        create_bucket: bool = False,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        config = Config(
            region_name=region or "us-east-1",
            signature_version="s3v4",
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            s3={"addressing_style": "path" if endpoint else "auto"},
        )
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )
        self._transfer = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE)
        if create_bucket:
            self._ensure_bucket()

    @classmethod
    def from_url(cls, url: str) -> S3Storage:
        parts = urlsplit(url)
        if not parts.netloc:
            raise ValueError(f"{url!r}: the bucket is missing (s3://bucket?...)")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return cls(
            parts.netloc,
            endpoint=query.get("endpoint"),
            region=query.get("region"),
            access_key=query.get("access_key"),
            secret_key=query.get("secret_key"),
            prefix=query.get("prefix", "") or parts.path.strip("/"),
            create_bucket=query.get("create_bucket", "").lower() in ("1", "true", "yes"),
        )

    def _ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def full_key(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"invalid storage key {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _short_key(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    def put_file(self, key: str, path: Path, content_type: str | None = None) -> ObjectInfo:
        extra = {"ContentType": content_type} if content_type else None
        self.client.upload_file(
            str(path), self.bucket, self.full_key(key), ExtraArgs=extra, Config=self._transfer
        )
        return ObjectInfo(key, Path(path).stat().st_size)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo:
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        self.client.put_object(Bucket=self.bucket, Key=self.full_key(key), Body=data, **extra)
        return ObjectInfo(key, len(data))

    def open_writer(self, key: str, content_type: str | None = None) -> _S3Writer:
        return _S3Writer(self, key, content_type)

    def get_file(self, key: str, path: Path) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        try:
            self.client.download_file(self.bucket, self.full_key(key), str(partial), Config=self._transfer)
        except ClientError as error:
            partial.unlink(missing_ok=True)
            if _missing(error):
                raise ObjectNotFound(key) from None
            raise
        partial.replace(target)

    def get_bytes(self, key: str) -> bytes:
        body: bytes = self.open_read(key).read()
        return body

    def open_read(self, key: str) -> BinaryIO:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.full_key(key))
        except ClientError as error:
            if _missing(error):
                raise ObjectNotFound(key) from None
            raise
        stream: BinaryIO = response["Body"]
        return stream

    def stat(self, key: str) -> ObjectInfo:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.full_key(key))
        except ClientError as error:
            if _missing(error):
                raise ObjectNotFound(key) from None
            raise
        return ObjectInfo(key, int(head["ContentLength"]))

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.full_key(key))

    def delete_prefix(self, prefix: str) -> int:
        keys = [info.key for info in self.list_objects(prefix)]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": self.full_key(k)} for k in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return len(keys)

    def list_objects(self, prefix: str) -> Iterator[ObjectInfo]:
        full_prefix = f"{self.prefix}/{prefix}" if self.prefix else prefix
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
            for item in page.get("Contents", []):
                yield ObjectInfo(self._short_key(item["Key"]), int(item["Size"]))

    def local_path(self, key: str) -> Path | None:
        return None

    def presigned_get(self, key: str, expires_seconds: int = 3600, filename: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self.full_key(key)}
        if filename:
            safe = filename.replace('"', "")
            params["ResponseContentDisposition"] = f'attachment; filename="{safe}"'
        url: str = self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=min(expires_seconds, MAX_PRESIGN_SECONDS)
        )
        return url

    def presigned_put(self, key: str, expires_seconds: int = 3600, content_type: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self.full_key(key)}
        if content_type:
            params["ContentType"] = content_type
        url: str = self.client.generate_presigned_url(
            "put_object", Params=params, ExpiresIn=min(expires_seconds, MAX_PRESIGN_SECONDS)
        )
        return url

    def create_multipart_upload(self, key: str, content_type: str | None = None) -> str:
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        response = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.full_key(key), **extra)
        upload_id: str = response["UploadId"]
        return upload_id

    def presigned_upload_part(
        self, key: str, upload_id: str, part_number: int, expires_seconds: int = 3600
    ) -> str:
        url: str = self.client.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self.bucket,
                "Key": self.full_key(key),
                "UploadId": upload_id,
                "PartNumber": part_number,
            },
            ExpiresIn=min(expires_seconds, MAX_PRESIGN_SECONDS),
        )
        return url

    def complete_multipart_upload(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> ObjectInfo:
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.full_key(key),
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": number, "ETag": etag} for number, etag in sorted(parts)]
            },
        )
        return self.stat(key)

    def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.full_key(key), UploadId=upload_id)
        except ClientError as error:
            if not _missing(error):
                raise

    def ping(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)
