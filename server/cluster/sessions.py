"""Sessions across nodes: where a UserActor's sessions are recorded, and how
it reaches a session held by another node."""

from __future__ import annotations

from redis.asyncio import Redis

from actors.sessions import Delivery, SessionRef
from server.cluster.membership import Membership
from server.cluster.transport import StreamTransport
from server.gateway.sessions import SessionRegistry


def _user_sessions_key(user_id: str) -> str:
    return f"grover:user-sessions:{user_id}"


class RedisSessionDirectory:
    """A user's ``(node, session)`` pairs in a Redis set, so that the user's
    actor finds them again after it moves to another node."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self.calls = 0
        """Redis round trips (a user actor's activation, an attach, a detach)."""

    async def load(self, user_id: str) -> set[SessionRef]:
        self.calls += 1
        members = await self._redis.smembers(_user_sessions_key(user_id))
        refs = set()
        for raw in members:
            node, _, session_id = (raw.decode() if isinstance(raw, bytes) else raw).partition("|")
            refs.add(SessionRef(node, session_id))
        return refs

    async def add(self, user_id: str, ref: SessionRef) -> None:
        self.calls += 1
        await self._redis.sadd(_user_sessions_key(user_id), f"{ref.node}|{ref.session_id}")

    async def remove(self, user_id: str, ref: SessionRef) -> None:
        self.calls += 1
        await self._redis.srem(_user_sessions_key(user_id), f"{ref.node}|{ref.session_id}")

    async def online(self, user_ids: list[str]) -> set[str]:
        """One pipelined ``EXISTS`` per user (an empty set is no key in Redis)."""
        if not user_ids:
            return set()
        self.calls += 1
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.exists(_user_sessions_key(user_id))
            found = await pipe.execute()
        return {user_id for user_id, n in zip(user_ids, found, strict=True) if n}


class ClusterSessionSink:
    """:class:`actors.user.SessionSink` for a cluster: local sessions directly,
    remote ones through the owning node's inbox; sessions of dead nodes are
    reported gone so that UserActors forget them."""

    def __init__(
        self, local: SessionRegistry, transport: StreamTransport, membership: Membership
    ) -> None:
        self._local = local
        self._transport = transport
        self._membership = membership
        self.node = membership.node

    def push(self, ref: SessionRef, delivery: Delivery) -> bool | None:
        if ref.node == self.node:
            self._local.push(ref, delivery)
            return None
        if not self._membership.is_live(ref.node):
            return False
        self._transport.push(ref.node, ref.session_id, delivery)
        return None

    def close(self, ref: SessionRef, code: int, reason: str) -> None:
        if ref.node == self.node:
            self._local.close(ref, code, reason)
        elif self._membership.is_live(ref.node):
            self._transport.close_session(ref.node, ref.session_id, code, reason)
