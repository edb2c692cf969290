"""Publishers are strategies by channel kind: every kind has one, and a new platform is one class
plus one map entry, which the publication and channel services use without a change."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import httpx
import pytest

from kadr.channels import service as channel_service
from kadr.channels.models import Channel, ChannelKind
from kadr.channels.service import ChannelService
from kadr.config import Settings
from kadr.core.clock import utcnow
from kadr.core.db import get_database
from kadr.core.errors import ValidationFailed
from kadr.core.ids import new_id
from kadr.jobs.registry import JobContext
from kadr.publications import service as publication_service
from kadr.publications.models import Publication
from kadr.publications.publishers import PUBLISHERS, Publisher, PublishPort, publisher_for
from kadr.publications.schemas import PublicationCreate
from tests.support.api import assert_problem, register
from tests.support.publishing import schedule, uploaded_video, wait_for_publication

pytestmark = pytest.mark.anyio


def test_every_channel_kind_has_its_publisher() -> None:
    assert set(PUBLISHERS) == set(ChannelKind)
    for kind, publisher in PUBLISHERS.items():
        assert publisher.kind == kind
        assert publisher_for(kind) is publisher
    with pytest.raises(LookupError, match="carrier-pigeon"):
        publisher_for("carrier-pigeon")


def test_the_generic_services_never_branch_on_a_channel_kind() -> None:
    """No comparison with a `.kind` is left in the services that serve every platform."""
    for module in (publication_service, channel_service):
        tree = ast.parse(inspect.getsource(module))
        branches = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Compare)
            and any(
                isinstance(side, ast.Attribute) and side.attr == "kind"
                for side in (node.left, *node.comparators)
            )
        ]
        assert not branches, f"{module.__name__} compares a kind at lines {branches}"


class PigeonPublisher:
    """A platform the code base has never heard of: it exists only in this test."""

    kind = "pigeon"

    def __init__(self) -> None:
        self.published: list[tuple[str, str, int]] = []

    def pacing_seconds(self, settings: Settings) -> float:
        return 0.01

    def check_fits(self, settings: Settings, body: PublicationCreate, size: int) -> None:
        if "cat" in body.title:
            raise ValidationFailed("pigeons do not carry anything about cats", field="title")

    async def check_health(self, channels: ChannelService, channel: Channel) -> None:
        raise ValidationFailed(f"the pigeon {channel.config['pigeon']} is tired")

    async def publish(
        self, context: JobContext, publication: Publication, channel: Channel, port: PublishPort
    ) -> dict[str, Any]:
        source = await port.source()
        await port.take_slot(self.pacing_seconds(context.settings))
        async with port.local_copy(source.key, source.name) as path:
            carried = path.stat().st_size
        await port.record(uploaded_bytes=carried, status_detail="in the air")
        self.published.append((publication.id, channel.config["pigeon"], carried))
        await port.published(f"coo-{publication.id}", None)
        return {"carried": carried}


async def _pigeon_channel(settings: Settings, client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """A channel of the new kind, stored as a connect endpoint of that platform would store it."""
    me = (await client.get("/v1/me", headers=headers)).json()
    now = utcnow()
    channel = Channel(
        id=new_id("chn"),
        owner_id=me["id"],
        kind="pigeon",
        name="Roof",
        config={"pigeon": "Gustav"},
        secrets="",
        status="ok",
        checked_at=now,
        created_at=now,
        updated_at=now,
    )
    async with get_database(settings).session() as session:
        session.add(channel)
        await session.commit()
    return channel.id


async def test_a_new_platform_is_one_publisher_and_one_map_entry(
    api: httpx.AsyncClient, settings: Settings, sample_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pigeon = PigeonPublisher()
    publisher: Publisher = pigeon  # it satisfies the protocol (mypy checks this line)
    monkeypatch.setitem(PUBLISHERS, "pigeon", publisher)
    headers = await register(api, "pigeon@example.com")
    channel_id = await _pigeon_channel(settings, api, headers)
    video = await uploaded_video(api, headers, sample_video)

    # The publication service asks the new platform what it accepts...
    refused = await api.post(
        "/v1/publications",
        headers=headers,
        json={"title": "A cat video", "channel_id": channel_id, "video_id": video["id"]},
    )
    assert assert_problem(refused, 422)["field"] == "title"

    # ...and the worker publishes through it, storing what it reports through the port.
    created = await schedule(api, headers, channel_id=channel_id, video_id=video["id"])
    done = await wait_for_publication(api, headers, created["id"])
    assert done["status"] == "published", done
    assert done["external_id"] == f"coo-{created['id']}"
    assert done["uploaded_bytes"] == video["size_bytes"]
    assert pigeon.published == [(created["id"], "Gustav", video["size_bytes"])]

    # The channel service checks its credentials the same way.
    checked = (await api.post(f"/v1/channels/{channel_id}/check", headers=headers)).json()
    assert checked["status"] == "error"
    assert checked["status_reason"] == "the pigeon Gustav is tired"
