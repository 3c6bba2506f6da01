"""Error codes and close codes: stable strings and numbers clients may switch on.

Inside the server, failures are exceptions; at the protocol edge they become an
``error`` frame carrying one of these codes (:class:`ProtocolError` is the
exception that carries a code to the edge).
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    """Every code an ``error`` frame may carry. Never rename one: add new ones."""

    BAD_FRAME = "bad_frame"
    """Not one msgpack map with string keys (and nothing after it), or a text frame."""
    UNKNOWN_TYPE = "unknown_type"
    """The ``type`` is not in the catalog."""
    INVALID_FIELD = "invalid_field"
    """A field is missing, extra, of the wrong type, or out of bounds."""
    HELLO_REQUIRED = "hello_required"
    """The first request of a connection must be ``hello``."""
    ALREADY_GREETED = "already_greeted"
    """``hello`` was sent twice on one connection."""
    UNSUPPORTED_VERSION = "unsupported_version"
    """No protocol version in common; the server then closes with 4002."""
    UNAUTHENTICATED = "unauthenticated"
    """The request needs a logged-in session (also when an earlier request on
    the connection logged it out)."""
    INVALID_TOKEN = "invalid_token"
    TOKEN_EXPIRED = "token_expired"
    INVALID_CREDENTIALS = "invalid_credentials"
    """Unknown user and wrong password alike."""
    USERNAME_TAKEN = "username_taken"
    EMAIL_TAKEN = "email_taken"
    DUPLICATE_REQUEST_ID = "duplicate_request_id"
    """Request ids must increase strictly on a connection; the request was
    not executed."""
    RATE_LIMITED = "rate_limited"
    """Over a rate limit; ``retry_after`` says when to try again."""
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    OVERLOADED = "overloaded"
    """A bounded queue on the server is full; retry later."""
    TIMEOUT = "timeout"
    INTERNAL = "internal"
    """A server bug; the request changed nothing that the client can see."""
    SUSPENDED = "suspended"
    """The account is suspended by a moderator: ``auth.login`` and ``hello``
    with its token are refused until an admin lifts the suspension."""
    PAYMENTS_NOT_CONFIGURED = "payments_not_configured"
    """Checkout, refunds and payouts need PayPal credentials this server does
    not have; the rest of the marketplace works."""
    PAYMENT_PROVIDER_ERROR = "payment_provider_error"
    """PayPal could not be reached or failed after retries; nothing was
    charged twice: retry the same request later."""
    PAYMENT_DECLINED = "payment_declined"
    """PayPal declined the capture (the buyer's funding source); the order is
    cancelled and its stock released."""
    PRODUCT_UNAVAILABLE = "product_unavailable"
    """The product is paused or deleted."""
    OUT_OF_STOCK = "out_of_stock"
    """Fewer items left than the quantity asked for; nothing was reserved."""
    INVALID_STATE = "invalid_state"
    """The order (or payout) is not in a state that allows this; it is unchanged."""
    INSUFFICIENT_BALANCE = "insufficient_balance"
    """A payout above the available balance (or below the minimum payout)."""
    REFUND_EXCEEDS_PAID = "refund_exceeds_paid"
    """A refund above what was paid and not yet refunded."""


class CloseCode(enum.IntEnum):
    """Websocket close codes the server uses, standard ones included."""

    NORMAL = 1000
    GOING_AWAY = 1001
    """The server is shutting down; reconnect (to any node). The same node
    resumes the session; another answers ``resync`` and the client catches up
    with ``conversation.sync`` and ``message.since``."""
    POLICY_VIOLATION = 1008
    """Sustained abuse: too many malformed frames, or requests sent again
    before the ``retry_after`` they were given had passed (by default more
    than 20 at once, or more than one a second sustained)."""
    MESSAGE_TOO_BIG = 1009
    """A frame over ``MAX_FRAME_BYTES``."""
    TRY_AGAIN_LATER = 1013
    """Refused right after the upgrade (the picows transport only: too many
    connections from this IP, or opened too fast); the reason says which.
    Reconnect later, with backoff. The default transport refuses these
    before the upgrade, with HTTP 429."""
    HELLO_TIMEOUT = 4001
    """No ``hello`` within the handshake timeout."""
    UNSUPPORTED_VERSION = 4002
    LOGGED_OUT = 4003
    """The session's token was revoked (logout everywhere)."""
    SUSPENDED = 4004
    """A moderator suspended the account: every session of it is closed and
    logging in is refused (``suspended``) until the suspension is lifted. Do
    not reconnect automatically."""
    SLOW_CONSUMER = 4008
    """The client did not read fast enough and its outbox filled up; reconnect
    and resume."""
    RESYNC = 4009
    """Events meant for the session were lost and could not be recovered from
    the log; reconnect: the server answers ``resync`` and the client catches up
    with ``conversation.sync`` and ``message.since``."""


class ProtocolError(Exception):
    """A failure that reaches the client as an ``error`` frame."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        request_id: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after
