"""Implementations of :class:`actors.ports.LiveTokenIssuer`: Agora's
AccessToken2 (``agora.py``, when ``GROVER_AGORA_APP_ID`` and
``GROVER_AGORA_APP_CERTIFICATE`` are set) and development tokens
(``dev.py``, otherwise). :func:`server.wiring.make_live_token_issuer` picks
one."""
