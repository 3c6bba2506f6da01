"""The websocket gateway: the server that accepts sockets
(:mod:`~server.gateway.server`), one connection per socket that decodes,
checks and dispatches requests (:mod:`~server.gateway.connection`), and the
resumable sessions that outlive a socket (:mod:`~server.gateway.sessions`).

Nothing is imported here, so that importing one of them does not import all.
"""
