"""Accounts over real sockets and a real SQLite file: registration rules,
password and token storage, login and its rate limits, token expiry, logout,
profiles and user search."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from typing import Any

import pytest

from actors.user import ListSessions, user_key
from protocol.client import Client, GroverError
from protocol.errors import CloseCode, ErrorCode
from protocol.messages import accounts
from server.app import Grover
from server.config import RateRule
from tests.conftest import Connect, StartGrover, register, unique_name, ws_url
from tests.test_gateway import assert_served, snapshot, wait_for

PASSWORD = "correct horse"


async def register_as(client: Client, username: str, email: str, password: str = PASSWORD) -> Any:
    return await client.request("auth.register", username=username, email=email, password=password)


async def refused_code(client: Client, request_type: str, **fields: Any) -> str:
    with pytest.raises(GroverError) as refused:
        await client.request(request_type, **fields)
    return refused.value.code


# ------------------------------------------------------------- registration


@pytest.mark.parametrize(
    "username",
    ["ab", "a" * 31, "has-dash", "has space", "émile", "semi;colon", "", "tab\t"],
)
async def test_username_outside_the_rules_is_refused(
    username: str, grover: Grover, connect: Connect
) -> None:
    client = await connect()
    before = await snapshot(grover)
    code = await refused_code(
        client, "auth.register", username=username, email="x@example.com", password=PASSWORD
    )
    assert code == ErrorCode.INVALID_FIELD
    assert await snapshot(grover) == before
    await assert_served(client)


@pytest.mark.parametrize("username", ["abc", "a" * 30, "under_score", "dot.ted", "0123"])
async def test_username_inside_the_rules_is_accepted(username: str, connect: Connect) -> None:
    client = await connect()
    reply = await register_as(client, username, f"{username}@example.com")
    assert reply.user.username == username


async def test_username_is_stored_lower_case_and_unique_case_insensitively(
    grover: Grover, connect: Connect
) -> None:
    first = await connect()
    reply = await register_as(first, "MixedCase", "mixed@example.com")
    assert reply.user.username == "mixedcase"
    stored = await grover.store.users.get(reply.user.id)
    assert stored is not None and stored.username == "mixedcase"

    second = await connect()
    before = await snapshot(grover)
    for variant in ("mixedcase", "MIXEDCASE", "mixedCASE"):
        code = await refused_code(
            second, "auth.register", username=variant, email="other@example.com", password=PASSWORD
        )
        assert code == ErrorCode.USERNAME_TAKEN
    assert await snapshot(grover) == before


@pytest.mark.parametrize(
    "email",
    ["plain", "no-at.example.com", "a@b", "a@@example.com", "a b@example.com", "a@example.", ""],
)
async def test_invalid_email_is_refused(email: str, connect: Connect) -> None:
    client = await connect()
    code = await refused_code(
        client, "auth.register", username=unique_name(), email=email, password=PASSWORD
    )
    assert code == ErrorCode.INVALID_FIELD


async def test_email_is_unique_case_insensitively(grover: Grover, connect: Connect) -> None:
    first = await connect()
    reply = await register_as(first, unique_name(), "Ada.Lovelace@Example.COM")
    assert reply.user.email == "ada.lovelace@example.com"
    second = await connect()
    before = await snapshot(grover)
    code = await refused_code(
        second,
        "auth.register",
        username=unique_name(),
        email="ADA.lovelace@example.com",
        password=PASSWORD,
    )
    assert code == ErrorCode.EMAIL_TAKEN
    assert await snapshot(grover) == before


async def test_short_password_is_refused(grover: Grover, connect: Connect) -> None:
    client = await connect()
    before = await snapshot(grover)
    code = await refused_code(
        client, "auth.register", username=unique_name(), email="p@example.com", password="7 chars"
    )
    assert code == ErrorCode.INVALID_FIELD
    assert await snapshot(grover) == before
    await register_as(client, unique_name(), "p@example.com", password="8 chars!")


async def test_password_is_stored_as_argon2id_only(grover: Grover, connect: Connect) -> None:
    client = await connect()
    password = "plaintext-must-not-be-stored"
    reply = await register_as(client, unique_name(), "argon@example.com", password=password)
    stored = await grover.store.users.get(reply.user.id)
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert password not in stored.password_hash
    rows = await snapshot(grover)
    assert password not in repr(rows)
    # Nor anywhere in the files (database and write-ahead log).
    files = list(grover.settings.data_dir.glob("grover.sqlite3*"))
    assert files
    for path in files:
        assert password.encode() not in path.read_bytes(), path


async def test_register_logs_the_session_in(connect: Connect) -> None:
    client = await connect()
    reply = await register(client)
    assert isinstance(reply, accounts.AuthOk) and isinstance(reply.user, accounts.Me)
    me = await client.request("profile.get", user_id=reply.user.id)
    assert me.username == reply.user.username
    assert await refused_code(client, "auth.register", **_fresh_account()) == ErrorCode.FORBIDDEN


def _fresh_account() -> dict[str, str]:
    name = unique_name()
    return {"username": name, "email": f"{name}@example.com", "password": PASSWORD}


# ------------------------------------------------------------------ tokens


async def test_token_has_256_bits_and_only_its_sha256_is_stored(
    grover: Grover, connect: Connect
) -> None:
    client = await connect()
    reply = await register(client)
    token = reply.token
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) * 8 >= 256
    digest = hashlib.sha256(token.encode()).hexdigest()
    record = await grover.store.auth_sessions.get(digest)
    assert record is not None and record.user_id == reply.user.id
    rows = await snapshot(grover)
    assert token not in repr(rows)
    assert digest in repr(rows)


async def test_token_expires_after_seven_days_by_default(grover: Grover, connect: Connect) -> None:
    client = await connect()
    started = time.time()
    reply = await register(client)
    week = 7 * 24 * 3600
    assert grover.settings.token_ttl == week
    assert started + week - 5 <= reply.expires_at <= time.time() + week
    record = await grover.store.auth_sessions.get(hashlib.sha256(reply.token.encode()).hexdigest())
    assert record is not None and record.expires_at == pytest.approx(reply.expires_at)


async def test_token_ttl_is_honoured(start_grover: StartGrover) -> None:
    node = await start_grover(token_ttl=0.3)
    client = Client()
    later = Client(reconnect=False)
    try:
        await client.connect(ws_url(node))
        reply = await register(client)
        await asyncio.sleep(0.4)
        with pytest.raises(GroverError) as refused:
            await later.connect(ws_url(node), token=reply.token)
        assert refused.value.code == ErrorCode.TOKEN_EXPIRED
    finally:
        await client.close()
        await later.close()


# ------------------------------------------------------------------- login


async def test_login_by_username_or_email_case_insensitively(connect: Connect) -> None:
    name = unique_name("Login")
    first = await connect()
    created = await register_as(first, name, f"{name}@Example.com")
    logins = (
        name,
        name.lower(),
        name.upper(),
        f"{name}@example.com",
        f"{name.upper()}@EXAMPLE.COM",
    )
    for login in logins:
        client = await connect()
        reply = await client.request("auth.login", login=login, password=PASSWORD)
        assert reply.user.id == created.user.id
        assert reply.token != created.token
        again = await connect(token=reply.token)
        assert again.welcome is not None and again.welcome.user is not None
        assert again.welcome.user.id == created.user.id


async def test_unknown_user_and_wrong_password_get_one_identical_error(
    grover: Grover, connect: Connect
) -> None:
    owner = await connect()
    name = unique_name()
    await register_as(owner, name, f"{name}@example.com")
    client = await connect()
    before = await snapshot(grover)
    errors = []
    for login, password in (
        (name, "wrong password"),
        ("nobody_here", PASSWORD),
        (f"{name}@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
    ):
        with pytest.raises(GroverError) as refused:
            await client.request("auth.login", login=login, password=password)
        errors.append((refused.value.code, refused.value.message))
    assert errors == [(ErrorCode.INVALID_CREDENTIALS, errors[0][1])] * 4
    assert await snapshot(grover) == before
    assert client.welcome is not None
    assert await refused_code(client, "profile.update", bio="x") == ErrorCode.UNAUTHENTICATED


async def test_failed_logins_are_rate_limited_per_account(start_grover: StartGrover) -> None:
    node = await start_grover(
        rate_login_account=RateRule(0.001, 3), rate_login_ip=RateRule(1000, 1000)
    )
    clients = [Client() for _ in range(3)]
    try:
        for client in clients:
            await client.connect(ws_url(node))
        attacker, owner, bystander = clients
        name = unique_name()
        await register_as(owner, name, f"{name}@example.com")
        codes = [
            await refused_code(attacker, "auth.login", login=name, password="guess {i}")
            for i in range(3)
        ]
        assert codes == [ErrorCode.INVALID_CREDENTIALS] * 3
        # Now even the right password is refused, by username or by email.
        for login in (name, f"{name}@example.com", name.upper()):
            with pytest.raises(GroverError) as limited:
                await attacker.request("auth.login", login=login, password=PASSWORD)
            assert limited.value.code == ErrorCode.RATE_LIMITED
            assert limited.value.retry_after is not None and limited.value.retry_after > 0
        # Other accounts are not affected.
        other = unique_name()
        await register_as(bystander, other, f"{other}@example.com")
        await bystander.request("auth.logout")
        await bystander.request("auth.login", login=other, password=PASSWORD)
    finally:
        for client in clients:
            await client.close()


async def test_concurrent_failed_logins_cannot_exceed_the_limit(
    start_grover: StartGrover,
) -> None:
    node = await start_grover(
        rate_login_account=RateRule(0.001, 3), rate_login_ip=RateRule(1000, 1000)
    )
    owner, attacker = Client(), Client()
    try:
        await owner.connect(ws_url(node))
        await attacker.connect(ws_url(node))
        name = unique_name()
        await register_as(owner, name, f"{name}@example.com")
        results = await asyncio.gather(
            *(attacker.request("auth.login", login=name, password=f"guess {i}") for i in range(20)),
            return_exceptions=True,
        )
        codes = [r.code for r in results if isinstance(r, GroverError)]
        assert len(codes) == 20
        assert codes.count(ErrorCode.INVALID_CREDENTIALS) <= 3
        assert codes.count(ErrorCode.RATE_LIMITED) >= 17
    finally:
        await owner.close()
        await attacker.close()


async def test_failed_logins_are_rate_limited_per_ip(start_grover: StartGrover) -> None:
    node = await start_grover(
        rate_login_account=RateRule(1000, 1000), rate_login_ip=RateRule(0.001, 4)
    )
    client = Client()
    try:
        await client.connect(ws_url(node))
        codes = [
            await refused_code(client, "auth.login", login=f"victim{i}", password="guess")
            for i in range(5)
        ]
        assert codes == [ErrorCode.INVALID_CREDENTIALS] * 4 + [ErrorCode.RATE_LIMITED]
    finally:
        await client.close()


async def test_successful_logins_are_not_counted(start_grover: StartGrover) -> None:
    node = await start_grover(rate_login_account=RateRule(0.001, 2))
    client = Client()
    try:
        await client.connect(ws_url(node))
        name = unique_name()
        await register_as(client, name, f"{name}@example.com")
        # A budget of 2 failures: five successes in a row would be refused
        # (rate_limited raises here) if successes were counted.
        for _ in range(5):
            await client.request("auth.logout")
            reply = await client.request("auth.login", login=name, password=PASSWORD)
            assert isinstance(reply, accounts.AuthOk) and reply.user.username == name
    finally:
        await client.close()


# ------------------------------------------------------------------ logout


async def test_logout_revokes_the_token_and_keeps_the_connection(
    grover: Grover, connect: Connect
) -> None:
    client = await connect()
    reply = await register(client)
    other = await connect(token=reply.token)
    assert await client.request("auth.logout") is not None
    assert client.token is None
    # Logged out but still connected.
    await assert_served(client)
    assert await refused_code(client, "profile.update", bio="x") == ErrorCode.UNAUTHENTICATED
    with pytest.raises(GroverError) as refused:
        await Client(reconnect=False).connect(ws_url(grover), token=reply.token)
    assert refused.value.code == ErrorCode.INVALID_TOKEN
    # The other session had its own token and is still logged in.
    assert (await other.request("profile.update", bio="still here")).bio == "still here"
    sessions = await grover.actors.ask(user_key(reply.user.id), ListSessions())
    assert [ref.session_id for ref in sessions] == [other.session_id]


async def test_logout_all_closes_other_sessions_4003_and_revokes_every_token(
    grover: Grover, connect: Connect
) -> None:
    main = await connect()
    reply = await register(main)
    tokens = [reply.token]
    others = []
    for _ in range(2):
        device = await connect(reconnect=False)
        login = await device.request("auth.login", login=reply.user.username, password=PASSWORD)
        tokens.append(login.token)
        others.append(device)
    others.append(await connect(token=tokens[1], reconnect=False))
    others.append(await connect(token=reply.token, reconnect=False))
    bystander = await connect()
    await register(bystander)

    revoked = await main.request("auth.logout_all")
    assert isinstance(revoked, accounts.Revoked) and revoked.sessions == len(tokens)
    for other in others:
        await wait_for(lambda other=other: other.close_code is not None)
        assert other.close_code == CloseCode.LOGGED_OUT
    for token in tokens:
        with pytest.raises(GroverError) as refused:
            await Client(reconnect=False).connect(ws_url(grover), token=token)
        assert refused.value.code == ErrorCode.INVALID_TOKEN
    # This session stays open, logged out; nobody else is affected.
    await assert_served(main, bystander)
    assert await refused_code(main, "profile.update", bio="x") == ErrorCode.UNAUTHENTICATED
    assert await grover.actors.ask(user_key(reply.user.id), ListSessions()) == []


# ----------------------------------------------------------------- profile


async def test_profile_update_reaches_the_other_sessions_only(
    grover: Grover, connect: Connect
) -> None:
    phone = await connect()
    reply = await register(phone)
    laptop = await connect(token=reply.token)
    stranger = await connect()
    await register(stranger)

    me = await phone.request(
        "profile.update", display_name="Ada L.", bio="engines", avatar_url="https://x.io/a.png"
    )
    assert isinstance(me, accounts.Me)
    assert (me.display_name, me.bio, me.avatar_url) == ("Ada L.", "engines", "https://x.io/a.png")
    event = await laptop.next_event()
    assert isinstance(event, accounts.ProfileUpdated) and event.user == me
    # Only the fields given change.
    me2 = await laptop.request("profile.update", bio="")
    assert (me2.display_name, me2.bio) == ("Ada L.", "")
    assert await phone.next_event() == accounts.ProfileUpdated(user=me2)
    await asyncio.sleep(0.05)
    assert laptop.pending_events() == 0 and stranger.pending_events() == 0
    assert phone.pending_events() == 0

    seen = await stranger.request("profile.get", user_id=reply.user.id)
    assert isinstance(seen, accounts.UserProfile) and not isinstance(seen, accounts.Me)
    assert (seen.display_name, seen.bio, seen.username) == ("Ada L.", "", reply.user.username)
    stored = await grover.store.users.get(reply.user.id)
    assert stored is not None and stored.display_name == "Ada L."


async def test_profile_of_unknown_user_is_not_found(connect: Connect) -> None:
    client = await connect()
    await register(client)
    assert await refused_code(client, "profile.get", user_id="nope") == ErrorCode.NOT_FOUND


async def test_invalid_profile_fields_change_nothing(grover: Grover, connect: Connect) -> None:
    client = await connect()
    await register(client)
    before = await snapshot(grover)
    for fields in (
        {"display_name": "x" * 65},
        {"bio": "x" * 501},
        {"avatar_url": "ftp://example.com/a.png"},
        {"avatar_url": "https://" + "x" * 2048},
    ):
        assert await refused_code(client, "profile.update", **fields) == ErrorCode.INVALID_FIELD
    assert await snapshot(grover) == before


# ------------------------------------------------------------------ search


async def test_search_by_prefix_of_username_or_display_name(connect: Connect) -> None:
    client = await connect()
    tag = unique_name("pfx")
    alice = await register_as(client, f"{tag}_alice", f"{tag}a@example.com")
    await client.request("profile.update", display_name="Zed Zebra")
    other = await connect()
    await register_as(other, f"{tag}_bob", f"{tag}b@example.com")
    await other.request("profile.update", display_name=f"{tag.upper()} Bobby")
    searcher = await connect()
    await register(searcher)

    found = await searcher.request("user.search", query=tag.upper())
    assert isinstance(found, accounts.UserList)
    assert [u.username for u in found.users] == [f"{tag}_alice", f"{tag}_bob"]
    by_display = await searcher.request("user.search", query="zed ze")
    assert alice.user.id in [u.id for u in by_display.users]
    first = await searcher.request("user.search", query=tag, limit=1)
    assert [u.username for u in first.users] == [f"{tag}_alice"]
    # A prefix is not a substring match, and wildcards are literal.
    assert (await searcher.request("user.search", query="alice")).users == []
    assert (await searcher.request("user.search", query="%")).users == []
    assert (await searcher.request("user.search", query="   ")).users == []
    # Views never carry the email.
    assert all(not isinstance(u, accounts.Me) for u in found.users)


async def test_search_by_text(connect: Connect) -> None:
    client = await connect()
    tag = unique_name("txt")
    reply = await register_as(client, f"{tag}_grace", f"{tag}@example.com")
    await client.request("profile.update", display_name="Grace Hopper Compiler")
    searcher = await connect()
    await register(searcher)
    found = await searcher.request("user.search", query="hopper", mode="text")
    assert reply.user.id in [u.id for u in found.users]
    none = await searcher.request("user.search", query="nonexistentword", mode="text")
    assert none.users == []
    # FTS syntax in the query is inert.
    quoted = await searcher.request("user.search", query='"hopper" OR *', mode="text")
    assert reply.user.id in [u.id for u in quoted.users]
