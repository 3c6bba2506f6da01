"""The actor runtime's failures, as an asker meets them (see
:mod:`actors.runtime`)."""

from __future__ import annotations


class ActorError(Exception):
    """Base of the runtime's own failures."""


class MailboxFull(ActorError):
    """The actor's mailbox is at capacity: the sender should back off."""


class AskTimeout(ActorError):
    """No reply within the ask timeout. The message may still be handled."""


class ActorCrashed(ActorError):
    """The handler raised an unexpected exception; the actor was rebuilt."""


class ActivationFailed(ActorError):
    """The actor could not load its state; the message was not handled."""


class SystemStopped(ActorError):
    """The actor system is shutting down and accepts no new messages."""
