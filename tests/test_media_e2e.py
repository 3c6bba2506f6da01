"""The media story end to end, over real sockets on a real node: a creator
uploads a photo and a video to the sidecar, posts them over the websocket,
and a follower's session receives ``post.new`` whose URLs the sidecar serves,
with the photo's BlurHash; the follower uses an upload as avatar and in a
message; deleting the post releases its media to the sweep."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from protocol.client import Client, GroverError
from protocol.messages import social
from server.app import Grover
from tests.conftest import Connect, register
from tests.test_media_upload import jpeg_bytes, mp4_bytes, upload


async def next_post(client: Client, timeout: float = 10.0) -> social.PostNew:
    async with asyncio.timeout(timeout):
        while True:
            event = await client.next_event(timeout)
            if isinstance(event, social.PostNew):
                return event


async def test_upload_post_and_a_follower_sees_working_urls(
    grover: Grover, connect: Connect
) -> None:
    creator, fan = await connect(), await connect()
    me = await register(creator, "creator")
    fan_auth = await register(fan, "fan")
    await fan.request("follow.create", user_id=me.user.id)
    status, photo, _ = await upload(grover, me.token, jpeg_bytes(1600, 1200))
    assert status == 201, photo
    status, clip, _ = await upload(grover, me.token, mp4_bytes())
    assert status == 201, clip
    made = await creator.request(
        "post.create",
        client_key="k1",
        text="sunset #beach",
        media_ids=[photo["id"], clip["id"]],
    )
    pushed = await next_post(fan)
    assert pushed.post.id == made.id
    assert pushed.post.media_urls == [photo["url"], clip["url"]]
    assert pushed.post.media_types == ["image", "video"]
    # The BlurHash the sidecar computed from the photo; a video has none.
    assert photo["blurhash"] and pushed.post.media_blurhashes == [photo["blurhash"], ""]
    got = await fan.request("post.get", post_id=made.id)  # read back from the store
    assert got.media_blurhashes == [photo["blurhash"], ""]
    async with aiohttp.ClientSession() as http:
        async with http.get(pushed.post.media_urls[0]) as served:
            assert served.status == 200 and served.content_type == "image/webp"
            assert served.headers["Cache-Control"].startswith("public")
            body = await served.read()
        async with http.get(photo["thumbnail_url"]) as thumb:
            assert thumb.status == 200
    assert len(body) == photo["size"]
    # The same upload cannot be used twice, nor by someone else.
    status, other, _ = await upload(grover, fan_auth.token, jpeg_bytes(64, 64))
    assert status == 201
    for media_id in (photo["id"], other["id"]):
        with pytest.raises(GroverError) as refused:
            await creator.request("post.create", client_key=f"x{media_id}", media_ids=[media_id])
        assert refused.value.code == "forbidden"
    # The fan's upload becomes an avatar (its thumbnail).
    profile = await fan.request("profile.update", avatar_media_id=other["id"])
    assert profile.avatar_url == other["thumbnail_url"]
    # Deleting the post releases its media; the sweep then removes them.
    await creator.request("post.delete", post_id=made.id)
    records = await grover.store.media.get_many([photo["id"], clip["id"]])
    assert [r.attached_to for r in records.values()] == [None, None]
    later = time.time() + grover.settings.media_unattached_ttl + 1
    assert await grover.sweep_media_once(now=later) == 2
    async with aiohttp.ClientSession() as http, http.get(photo["url"]) as gone:
        assert gone.status == 404
