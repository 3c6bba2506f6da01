"""Handlers for accounts, login sessions, profiles and user search."""

from __future__ import annotations

import time

from actors.ids import new_id
from actors.store import Conflict
from actors.store.accounts import ProfileUpdate, UserRecord
from actors.user import CloseSessions, UpdateProfile, me_view, profile_view, user_key
from protocol.errors import CloseCode, ErrorCode, ProtocolError
from protocol.frames import Empty
from protocol.messages import accounts as m
from protocol.messages import session
from server.config import RateRule
from server.gateway import Connection, Handler
from server.ratelimit import RateLimiter


async def ping(conn: Connection, req: session.Ping) -> session.Pong:
    return session.Pong(server_time=time.time())


async def register(conn: Connection, req: m.Register) -> m.AuthOk:
    app = conn.app
    _refuse_if_logged_in(conn)
    password_hash = await app.passwords.hash(req.password)
    user = UserRecord(
        id=new_id(),
        username=req.username.lower(),
        email=req.email.lower(),
        password_hash=password_hash,
        display_name=req.display_name,
        created_at=time.time(),
    )
    try:
        await app.store.users.create(user)
    except Conflict as exc:
        code = ErrorCode.EMAIL_TAKEN if exc.field == "email" else ErrorCode.USERNAME_TAKEN
        raise ProtocolError(code, f"{exc.field} is already taken") from None
    return await _log_in(conn, user)


async def login(conn: Connection, req: m.Login) -> m.AuthOk:
    app = conn.app
    _refuse_if_logged_in(conn)
    account = req.login.lower()
    if "@" in account:
        user = await app.store.users.get_by_email(account)
    else:
        user = await app.store.users.get_by_username(account)
    # One bucket per account whether it is named by username or by email (an
    # unknown login gets a bucket of its own name).
    buckets = (f"login:acct:{user.id if user else account}", f"login:ip:{conn.peer}")
    rules = (app.settings.rate_login_account, app.settings.rate_login_ip)
    # Tokens are taken before the (slow, threaded) verification and given back
    # on success: checking first and counting after would let every
    # concurrent guess pass the check.
    taken: list[tuple[str, RateRule]] = []
    wait = 0.0
    for bucket, rule in zip(buckets, rules, strict=True):
        bucket_wait = await app.limiter.acquire(bucket, rule)
        if bucket_wait > 0:
            wait = max(wait, bucket_wait)
        else:
            taken.append((bucket, rule))
    if wait > 0:
        await _refund(app.limiter, taken)
        raise ProtocolError(
            ErrorCode.RATE_LIMITED, "too many failed logins", retry_after=round(wait, 3)
        )
    if not await app.passwords.verify(user.password_hash if user else None, req.password):
        raise ProtocolError(ErrorCode.INVALID_CREDENTIALS, "wrong login or password")
    assert user is not None
    await _refund(app.limiter, taken)  # only failures count
    return await _log_in(conn, user)


async def _refund(limiter: RateLimiter, taken: list[tuple[str, RateRule]]) -> None:
    for bucket, rule in taken:
        await limiter.refund(bucket, rule)


async def _log_in(conn: Connection, user: UserRecord) -> m.AuthOk:
    token, record = await conn.app.tokens.issue(user.id)
    await conn.login(user.id, record.token_hash)
    return m.AuthOk(token=token, expires_at=record.expires_at, user=me_view(user))


def _refuse_if_logged_in(conn: Connection) -> None:
    if conn.session is not None and conn.session.user_id is not None:
        raise ProtocolError(ErrorCode.FORBIDDEN, "already logged in; log out first")


async def logout(conn: Connection, req: m.Logout) -> Empty:
    session = conn.session
    assert session is not None
    if session.token_hash is not None:
        await conn.app.tokens.revoke(session.token_hash)
    await conn.logout()
    return Empty()


async def logout_all(conn: Connection, req: m.LogoutAll) -> m.Revoked:
    session = conn.session
    assert session is not None and session.user_id is not None
    revoked = await conn.app.tokens.revoke_all(session.user_id)
    await conn.app.actors.ask(
        user_key(session.user_id),
        CloseSessions(code=CloseCode.LOGGED_OUT, reason="logged out everywhere", keep=session.ref),
    )
    await conn.logout()
    return m.Revoked(sessions=revoked)


async def get_profile(conn: Connection, req: m.GetProfile) -> m.UserProfile:
    user = await conn.app.store.users.get(req.user_id)
    if user is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such user")
    return profile_view(user)


async def update_profile(conn: Connection, req: m.UpdateProfile) -> m.Me:
    session = conn.session
    assert session is not None and session.user_id is not None
    update = ProfileUpdate(display_name=req.display_name, bio=req.bio, avatar_url=req.avatar_url)
    user = await conn.app.actors.ask(
        user_key(session.user_id), UpdateProfile(update=update, origin=session.ref)
    )
    return me_view(user)


async def search_users(conn: Connection, req: m.SearchUsers) -> m.UserList:
    users = conn.app.store.users
    query = req.query.strip()
    if not query:
        return m.UserList(users=[])
    if req.mode == "prefix":
        found = await users.search_prefix(query.lower(), req.limit)
    else:
        found = await users.search_text(query, req.limit)
    return m.UserList(users=[profile_view(u) for u in found])


HANDLERS: dict[type, Handler] = {
    session.Ping: ping,
    m.Register: register,
    m.Login: login,
    m.Logout: logout,
    m.LogoutAll: logout_all,
    m.GetProfile: get_profile,
    m.UpdateProfile: update_profile,
    m.SearchUsers: search_users,
}
