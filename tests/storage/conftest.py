"""Every storage test runs on both backends: a local folder and a real S3 server."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from kadr.storage import Storage, storage_from_url
from tests.support.seaweed import S3Server

_buckets = itertools.count()


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return storage_from_url((tmp_path / "objects").as_uri())
    server: S3Server = request.getfixturevalue("s3_server")
    return storage_from_url(server.url_for(f"contract-{next(_buckets)}"))


@pytest.fixture
def s3(s3_server: S3Server) -> Storage:
    return storage_from_url(s3_server.url_for(f"presign-{next(_buckets)}"))
