"""Actor messages: plain data, typed by what they answer.

Every message an actor takes is a msgspec struct deriving from
:class:`Message`; one that answers derives from :class:`Ask` with its reply
type (``class GetUser(Ask[UserRecord])``). :meth:`actors.runtime.ActorSystem.ask`
then returns that type, and the cluster decodes a remote reply as the type
the asked message declares, so a reply never names its own type.
"""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import msgspec

if TYPE_CHECKING:
    from actors.ids import ActorKey

R = TypeVar("R")


class Message(msgspec.Struct, frozen=True):
    """Base of every actor message. Messages are plain data: they cross nodes
    msgpack-encoded (see :mod:`server.cluster.wire`)."""


class Ask(Message, Generic[R], frozen=True):
    """A message that answers with an ``R``: ``ActorSystem.ask`` returns it."""


class Teller(Protocol):
    """What an actor needs of the runtime to reach other actors (or itself,
    from a timer): fire-and-forget. :class:`~actors.runtime.ActorSystem` is one."""

    def tell(self, key: ActorKey, message: Any) -> None: ...


def reply_type(message_type: type[Message]) -> Any:
    """The ``R`` of an ``Ask[R]`` subclass; ``None`` for a tell-only message."""
    for klass in message_type.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            if typing.get_origin(base) is Ask:
                return typing.get_args(base)[0]
    return type(None)
