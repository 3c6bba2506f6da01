"""What a line of work belongs to, for log lines and error reports: which
request (id, type, session, user), which node, which actor, which background
task.

Context variables, not globals: several nodes may share one process (tests),
and each node's tasks carry their own node name. The gateway sets the request
for each request's task; the actor runtime carries it with every message
queued while a request runs, so an actor's log lines (and the ones of actors
it tells in turn) name the request that caused them. Lives under ``actors/``
because the runtime sets it and may not import ``server`` (see
``docs/architecture.md``); :mod:`server.observability.logs` and
:mod:`server.observability.sentry` read it.
"""

from __future__ import annotations

import contextvars

from actors.ids import ActorKey

__all__ = [
    "RequestInfo",
    "actor_context",
    "actor_var",
    "addressed",
    "node_var",
    "request_var",
    "task_var",
]


class RequestInfo:
    """One request being handled. ``actor`` is the first actor it addressed
    (filled in by the runtime), so the gateway's own lines name it too."""

    __slots__ = ("actor", "id", "kind", "session", "user")

    def __init__(self, id: int, kind: str, session: str | None, user: str | None) -> None:
        self.id = id
        self.kind = kind
        self.session = session
        self.user = user
        self.actor: str | None = None


request_var: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar(
    "grover_request", default=None
)
node_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("grover_node", default=None)
actor_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("grover_actor", default=None)
task_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("grover_task", default=None)
"""The background task a line comes from (``market``, ``media_sweep``, ...)."""


def addressed(key: ActorKey) -> RequestInfo | None:
    """Note that the current request (if any) addressed ``key``; the first one
    counts. Returns that request (what a queued message carries), so the
    runtime reads the variable once per message."""
    info = request_var.get()
    if info is not None and info.actor is None:
        info.actor = str(key)
    return info


def actor_context(key: ActorKey) -> contextvars.Context:
    """A fresh context for an activation's task: the node it runs on and its
    key, nothing of whichever request happened to activate it."""
    context = contextvars.Context()
    context.run(node_var.set, node_var.get())
    context.run(actor_var.set, str(key))
    return context
