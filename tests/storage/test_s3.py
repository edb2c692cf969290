"""The S3 backend against a real server: presigned PUT/GET, browser multipart, refusals."""

from __future__ import annotations

import os
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from kadr.storage import Storage


def test_presigned_put_then_get_over_http(s3: Storage) -> None:
    put_url = s3.presigned_put("videos/v1/source.mp4", 300, "video/mp4")
    response = httpx.put(put_url, content=b"video bytes", headers={"Content-Type": "video/mp4"})
    assert response.status_code == 200, response.text
    get_url = s3.presigned_get("videos/v1/source.mp4", 300, filename="talk.mp4")
    response = httpx.get(get_url)
    assert response.status_code == 200
    assert response.content == b"video bytes"
    assert response.headers["content-disposition"] == 'attachment; filename="talk.mp4"'


def test_browser_multipart_upload_with_presigned_parts(s3: Storage) -> None:
    part_size = 5 * 1024 * 1024
    data = os.urandom(part_size * 2 + 1234)
    upload_id = s3.create_multipart_upload("videos/big/source.mp4", "video/mp4")
    etags = []
    for number, start in enumerate(range(0, len(data), part_size), start=1):
        url = s3.presigned_upload_part("videos/big/source.mp4", upload_id, number, 300)
        response = httpx.put(url, content=data[start : start + part_size])
        assert response.status_code == 200, response.text
        etags.append((number, response.headers["etag"]))
    info = s3.complete_multipart_upload("videos/big/source.mp4", upload_id, etags)
    assert info.size == len(data)
    assert s3.get_bytes("videos/big/source.mp4") == data


def test_tampered_anonymous_and_expired_requests_are_refused(s3: Storage) -> None:
    s3.put_bytes("private/report.json", b"secret")
    url = s3.presigned_get("private/report.json", 300)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["X-Amz-Signature"] = ("0" if query["X-Amz-Signature"][0] != "0" else "1") + query[
        "X-Amz-Signature"
    ][1:]
    tampered = urlunsplit(parts._replace(query=urlencode(query)))
    assert httpx.get(tampered).status_code == 403
    assert httpx.get(urlunsplit(parts._replace(query=""))).status_code == 403
    expired = s3.presigned_get("private/report.json", 1)
    time.sleep(2.5)
    assert httpx.get(expired).status_code == 403
