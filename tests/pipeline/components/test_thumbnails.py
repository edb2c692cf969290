"""thumbnails component: JPEG poster frames at most 1280 px on the long side."""

from __future__ import annotations

import av

from tests.pipeline.components.conftest import Bench


def test_thumbnails_are_jpegs_of_the_right_size(talk: Bench) -> None:
    result = talk.run("thumbnails", count=2)
    assert [a.name for a in result.artifacts] == ["thumbnails/thumb_01.jpg", "thumbnails/thumb_02.jpg"]
    for artifact in result.artifacts:
        assert artifact.path.read_bytes()[:3] == b"\xff\xd8\xff"
        with av.open(str(artifact.path)) as image:
            stream = image.streams.video[0]
            assert max(stream.width, stream.height) == 1280
