"""The path every feature stands on: connect, register, search, over a real socket."""

from __future__ import annotations

from protocol.messages import accounts
from tests.conftest import Connect, register


async def test_register_then_find_by_search(connect: Connect) -> None:
    alice = await connect()
    reply = await register(alice, "alice_smoke")
    assert isinstance(reply, accounts.AuthOk) and reply.user.username == "alice_smoke"
    bob = await connect()
    await register(bob)
    found = await bob.request("user.search", query="alice_s")
    assert isinstance(found, accounts.UserList)
    assert [u.username for u in found.users] == ["alice_smoke"]
