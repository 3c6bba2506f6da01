"""What crosses nodes: the actor message registry and typed replies."""

from __future__ import annotations

import msgspec
import pytest

from actors import messaging, user
from actors.message import Ask, Message, reply_type
from actors.sessions import SessionRef
from actors.store.accounts import UserRecord
from protocol.messages import messaging as wire_messaging
from server.cluster import wire


def test_every_actor_message_is_registered_under_its_qualified_name() -> None:
    for cls in (*user.MESSAGES, *messaging.MESSAGES):
        assert wire.MESSAGE_TYPES[f"{cls.__module__}.{cls.__qualname__}"] is cls
    # A protocol struct of the same bare name is not an actor message.
    assert "AddMembers" not in wire.MESSAGE_TYPES
    assert wire_messaging.AddMembers.__name__ == messaging.AddMembers.__name__


def test_a_name_collision_is_refused() -> None:
    twin = type("Send", (Message,), {"__module__": messaging.Send.__module__})
    with pytest.raises(ValueError, match=r"actors\.messaging\.Send"):
        wire.build_registry(messaging.MESSAGES, [twin])


def test_an_unregistered_message_cannot_cross() -> None:
    class Stray(Ask[None], frozen=True):
        pass

    with pytest.raises(TypeError, match="cannot cross nodes"):
        wire.encode_message(Stray())


def test_messages_round_trip() -> None:
    ref = SessionRef("n1", "s1")
    sent = messaging.Send(sender_id="u", client_key="k", text="hi", media_url="", origin=ref)
    name, body = wire.encode_message(sent)
    assert wire.decode_message(name, body) == sent


def test_replies_decode_as_what_the_asked_message_declares() -> None:
    refs = [SessionRef("n1", "s1"), SessionRef("n2", "s2")]
    assert reply_type(user.ListSessions) == list[SessionRef]
    assert wire.decode_reply(user.ListSessions, wire.encode_reply(refs)) == refs
    record = UserRecord(id="1", username="ada", email="a@x.io", password_hash="h", created_at=1.0)
    assert wire.decode_reply(user.GetUser, wire.encode_reply(record)) == record
    assert wire.decode_reply(user.Attach, wire.encode_reply(None)) is None
    # A list is not taken for session refs unless session refs were asked for.
    with pytest.raises(msgspec.ValidationError):
        wire.decode_reply(user.GetUser, wire.encode_reply(refs))
    assert reply_type(user.PushMany) is type(None)  # a tell has no reply
