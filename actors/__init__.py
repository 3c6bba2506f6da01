"""The actor runtime and Grover's domain actors. No I/O of its own: storage and
delivery are reached through the ports in :mod:`actors.store` and
:mod:`actors.runtime`."""
