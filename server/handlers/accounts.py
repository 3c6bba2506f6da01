"""Handlers of the accounts domain: sign-up, login sessions, profiles, user
search and blocks."""

from __future__ import annotations

import time

from actors.ids import new_id
from actors.messaging import RefreshBlocks, conversation_key, direct_conversation_id
from actors.moderation import SUSPENDED_MESSAGE, refuse_if_suspended
from actors.store import Conflict
from actors.store.accounts import ProfileUpdate, UserRecord
from actors.user import (
    CloseSessions,
    FollowsChanged,
    UpdateProfile,
    me_view,
    profile_view,
    user_key,
)
from protocol.errors import CloseCode, ErrorCode, ProtocolError
from protocol.frames import Empty
from protocol.messages import accounts as m
from server.config import RateRule
from server.context import Caller, Handler, Services
from server.handlers import attachments
from server.handlers.notices import unnotify
from server.handlers.pages import fit
from server.handlers.social_views import Viewer
from server.ratelimit import RateLimiter, retry_after


async def register(services: Services, caller: Caller, req: m.Register) -> m.AuthOk:
    _refuse_if_logged_in(caller)
    # Every attempt counts, taken or not: what is limited is the argon2 hash
    # (tens of milliseconds of CPU and 64 MiB each), which every attempt costs.
    wait = await services.limiter.acquire(
        f"register:ip:{caller.peer}", services.settings.rate_register
    )
    if wait > 0:
        raise ProtocolError(
            ErrorCode.RATE_LIMITED,
            "too many sign-ups from this address; try again later",
            retry_after=retry_after(wait),
        )
    password_hash = await services.passwords.hash(req.password)
    user = UserRecord(
        id=new_id(),
        username=req.username.lower(),
        email=req.email.lower(),
        password_hash=password_hash,
        display_name=req.display_name,
        created_at=time.time(),
    )
    try:
        await services.store.users.create(user)
    except Conflict as exc:
        code = ErrorCode.EMAIL_TAKEN if exc.field == "email" else ErrorCode.USERNAME_TAKEN
        raise ProtocolError(code, f"{exc.field} is already taken") from None
    return await _log_in(services, caller, user)


async def login(services: Services, caller: Caller, req: m.Login) -> m.AuthOk:
    _refuse_if_logged_in(caller)
    users = services.store.users
    account = req.login.lower()
    if "@" in account:
        user = await users.get_by_email(account)
    else:
        user = await users.get_by_username(account)
    # One bucket per account whether it is named by username or by email (an
    # unknown login gets a bucket of its own name).
    buckets = (f"login:acct:{user.id if user else account}", f"login:ip:{caller.peer}")
    settings, limiter = services.settings, services.limiter
    rules = (settings.rate_login_account, settings.rate_login_ip)
    # Tokens are taken before the (slow, threaded) verification and given back
    # on success: checking first and counting after would let every
    # concurrent guess pass the check.
    taken: list[tuple[str, RateRule]] = []
    waits: list[float] = []
    for bucket, rule in zip(buckets, rules, strict=True):
        bucket_wait = await limiter.acquire(bucket, rule)
        waits.append(bucket_wait)
        if bucket_wait <= 0:
            taken.append((bucket, rule))
    if max(waits) > 0:
        # Checked before the password, so the answer depends on the lock
        # alone: a locked account says so, right password or not, and never
        # gives a verdict (invalid_credentials) on a guess.
        await _refund(limiter, taken)
        locked = "this account" if waits[0] > 0 else "logins from this address"
        raise ProtocolError(
            ErrorCode.RATE_LIMITED,
            f"too many failed logins: {locked} is temporarily locked; retry later",
            retry_after=retry_after(max(waits)),
        )
    if not await services.passwords.verify(user.password_hash if user else None, req.password):
        raise ProtocolError(ErrorCode.INVALID_CREDENTIALS, "wrong login or password")
    assert user is not None
    await _refund(limiter, taken)  # only failures count
    # After the password: only the account's owner learns it is suspended.
    refuse_if_suspended(user)
    return await _log_in(services, caller, user)


async def _refund(limiter: RateLimiter, taken: list[tuple[str, RateRule]]) -> None:
    for bucket, rule in taken:
        await limiter.refund(bucket, rule)


async def _log_in(services: Services, caller: Caller, user: UserRecord) -> m.AuthOk:
    token, record = await services.tokens.issue(user.id)
    await caller.login(user.id, record.token_hash)
    if caller.user_id is None:  # suspended meanwhile: the user's actor closed the session
        await services.tokens.revoke(record.token_hash)
        raise ProtocolError(ErrorCode.SUSPENDED, SUSPENDED_MESSAGE)
    return m.AuthOk(token=token, expires_at=record.expires_at, user=me_view(user))


def _refuse_if_logged_in(caller: Caller) -> None:
    if caller.user_id is not None:
        raise ProtocolError(ErrorCode.FORBIDDEN, "already logged in; log out first")


async def logout(services: Services, caller: Caller, req: m.Logout) -> Empty:
    token_hash = caller.session.token_hash
    if token_hash is not None:
        await services.tokens.revoke(token_hash)
    await caller.logout()
    return Empty()


async def logout_all(services: Services, caller: Caller, req: m.LogoutAll) -> m.Revoked:
    me = caller.user()
    revoked = await services.tokens.revoke_all(me)
    await services.actors.ask(
        user_key(me),
        CloseSessions(code=CloseCode.LOGGED_OUT, reason="logged out everywhere", keep=caller.ref),
    )
    await caller.logout()
    return m.Revoked(sessions=revoked)


async def get_profile(services: Services, caller: Caller, req: m.GetProfile) -> m.UserProfile:
    viewer = Viewer(services.store, caller.user())
    [profile] = await viewer.profiles([await viewer.user(req.user_id)])
    return profile


async def update_profile(services: Services, caller: Caller, req: m.UpdateProfile) -> m.Me:
    me, avatar_url = caller.user(), req.avatar_url
    if req.avatar_media_id is not None:
        avatar_url = await _new_avatar(services, me, req.avatar_media_id)
    update = ProfileUpdate(display_name=req.display_name, bio=req.bio, avatar_url=avatar_url)
    user = await services.actors.ask(user_key(me), UpdateProfile(update=update, origin=caller.ref))
    return me_view(user)


async def _new_avatar(services: Services, me: str, media_id: str) -> str:
    """Check the upload, release the previous avatar's, attach this one; its
    thumbnail's URL (a small square-ish image) is the avatar."""
    record = await services.store.media.get(media_id)
    if record is None or record.owner_id != me or record.kind != "image":
        raise ProtocolError(ErrorCode.FORBIDDEN, "media must be your own, unused uploads")
    target = attachments.avatar_target(me)
    if record.attached_to != target:
        await attachments.release(services, target)
    [medium] = await attachments.attach(services, me, [media_id], target, kind="image")
    return medium.thumbnail_url or medium.url


async def search_users(services: Services, caller: Caller, req: m.SearchUsers) -> m.UserList:
    users = services.store.users
    query = req.query.strip()
    if not query:
        return m.UserList(users=[])
    if req.mode == "prefix":
        found = await users.search_prefix(query.lower(), req.limit)
    else:
        found = await users.search_text(query, req.limit)
    me = caller.user()
    blocked = await services.store.blocks.blocked_among(me, [u.id for u in found if u.id != me])
    shown = [u for u in found if u.id not in blocked and not u.suspended]
    users_found, cut = fit([profile_view(u) for u in shown])
    return m.UserList(users=users_found, has_more=cut)


async def block_user(services: Services, caller: Caller, req: m.BlockUser) -> Empty:
    """Record the block, end the follows both ways (a follow racing with the
    block finds it recorded and is refused), then tell the pair's direct
    conversation (its actor refuses sends while either side blocks the other)."""
    me = caller.user()
    if req.user_id == me:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "you cannot block yourself")
    store = services.store
    await store.blocks.block(me, req.user_id, time.time())
    for follower, followee in ((me, req.user_id), (req.user_id, me)):
        if await store.follows.unfollow(follower, followee):
            services.actors.tell(user_key(follower), FollowsChanged())
            unnotify(services, followee, "follow", followee, follower)
    await _refresh_direct(services, me, req.user_id)
    return Empty()


async def unblock_user(services: Services, caller: Caller, req: m.UnblockUser) -> Empty:
    me = caller.user()
    await services.store.blocks.unblock(me, req.user_id)
    await _refresh_direct(services, me, req.user_id)
    return Empty()


async def _refresh_direct(services: Services, me: str, other: str) -> None:
    key = conversation_key(direct_conversation_id(me, other))
    await services.actors.ask(key, RefreshBlocks())


HANDLERS: dict[type, Handler] = {
    m.Register: register,
    m.Login: login,
    m.Logout: logout,
    m.LogoutAll: logout_all,
    m.GetProfile: get_profile,
    m.UpdateProfile: update_profile,
    m.SearchUsers: search_users,
    m.BlockUser: block_user,
    m.UnblockUser: unblock_user,
}
