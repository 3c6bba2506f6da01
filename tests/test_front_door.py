"""The foundation's story end to end, against ``grover serve`` as a real
process on embedded defaults (what ``make run`` starts): a client built with the
SDK registers, logs in, reconnects with its token and resumes, updates its
profile, and finds another user by search."""

from __future__ import annotations

from pathlib import Path

from protocol.client import Client
from protocol.messages import accounts
from protocol.version import PROTOCOL_VERSION
from tests.support import GroverProcess


async def test_sdk_client_story_against_a_running_grover(tmp_path: Path) -> None:
    node = GroverProcess(tmp_path / "var")
    node.start()
    clients: list[Client] = []
    try:
        ada = Client()
        clients.append(ada)
        welcome = await ada.connect(node.url)
        assert welcome.user is None and welcome.version == PROTOCOL_VERSION
        await ada.request(
            "auth.register", username="ada", email="ada@example.com", password="correct horse"
        )
        await ada.request("auth.logout")

        grace = Client()
        clients.append(grace)
        await grace.connect(node.url)
        await grace.request(
            "auth.register",
            username="grace_h",
            email="grace@example.com",
            password="cobol rules",
            display_name="Grace Hopper",
        )

        # Log in; a second device with the token sees the profile change.
        login = await ada.request("auth.login", login="ADA@example.com", password="correct horse")
        assert isinstance(login, accounts.AuthOk) and login.user.username == "ada"
        phone = Client()
        clients.append(phone)
        phone_welcome = await phone.connect(node.url, token=login.token)
        assert phone_welcome.user is not None and phone_welcome.user.id == login.user.id

        # Drop the phone's socket; while it is away the profile changes; it
        # reconnects by itself and resumes with exactly the missed event.
        await phone.drop()
        me = await ada.request("profile.update", display_name="Ada L.", bio="Engines")
        assert isinstance(me, accounts.Me) and me.display_name == "Ada L."
        event = await phone.next_event(timeout=10)
        assert isinstance(event, accounts.ProfileUpdated) and event.user.bio == "Engines"
        assert phone.welcome is not None and phone.welcome.resumed
        assert phone.session_id == phone_welcome.session_id

        found = await ada.request("user.search", query="grac")
        assert [u.username for u in found.users] == ["grace_h"]
        by_text = await ada.request("user.search", query="hopper", mode="text")
        assert [u.display_name for u in by_text.users] == ["Grace Hopper"]
    finally:
        for client in clients:
            await client.close()
        assert node.terminate() == 0, node.output()
