"""The protocol's requests and events, one module per domain: :mod:`.session`
(handshake and keepalive), :mod:`.accounts` (registration, login, profiles,
blocking) and :mod:`.messaging` (conversations and their messages).

Nothing is re-exported here: import the domain module
(``from protocol.messages import messaging``). The combined catalog (unions,
lookup by wire tag) is :mod:`protocol.catalog`.
"""
